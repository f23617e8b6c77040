// The gateway's log lines (issue 15 item 1), as an operator reads them in Workers Logs: one request
// line per request (the route's pattern, status, error code, tenant, response id), one response line
// per response end (stored, streamed, store:false, background, refused, recovered by the sweep), and a
// line naming the cause of every upstream failure, failed webhook attempt, D1 retry and sweep action.

import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { client, gatewayFetch, GATEWAY_URL, model, readEvents, storedFor } from "../support/gateway";
import { abandonedRun } from "../support/abandoned-run";
import { received, routed } from "../support/chat";
import { hookUrl } from "../support/hooks";
import { captureLogLines, type LogCapture, type LogLine } from "../support/log-lines";
import { managedFetch } from "../support/managed";
import { tenantOf } from "../support/run-object";
import { execEverywhere } from "../support/shards";

const KEY = `sk-test-observability-${crypto.randomUUID()}`;
const UPSTREAM_HOST = new URL(env.UPSTREAM_BASE_URL).host;

let logs: LogCapture;
let tenant: string;
beforeAll(async () => {
  logs = captureLogLines();
  tenant = await tenantOf(KEY);
});
afterAll(() => logs.stop());

async function send(path: string, body?: unknown, method = body === undefined ? "GET" : "POST"): Promise<Response> {
  return gatewayFetch(`${GATEWAY_URL}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** The one response line of response `id` (waits for it; fails if there were two). */
async function responseLine(id: string): Promise<LogLine> {
  const [line, ...more] = await logs.wait({ event: "response_end", response_id: id });
  expect(more).toEqual([]);
  return line as LogLine;
}

/** The request line of the request answered with `response` (by its x-request-id). */
async function requestLine(response: Response): Promise<LogLine> {
  const [line] = await logs.wait({ event: "request", request_id: response.headers.get("x-request-id") });
  return line as LogLine;
}

describe.concurrent("the request line", () => {
  it("a create: the route's pattern, the status, the caller's tenant, the response it made and where it went", async () => {
    const m = model("text:3");
    const res = await send("/responses", { model: m, input: "hi" });
    const { id } = await res.json<{ id: string }>();
    expect(await requestLine(res)).toEqual({
      event: "request",
      msg: "POST /v1/responses 200",
      request_id: res.headers.get("x-request-id"),
      route: "/v1/responses",
      method: "POST",
      http_status: 200,
      error_type: null,
      error_code: null,
      error_source: null,
      duration_ms: expect.any(Number) as number,
      tenant,
      key_id: null,
      response_id: id,
      model: m,
      upstream: UPSTREAM_HOST,
      protocol: "responses",
    });
  });

  it("a read names the pattern, never the path with its ids; the id it read is the response id", async () => {
    const created = await client(KEY).responses.create({ model: model("text:1"), input: "x" });
    const read = await send(`/responses/${created.id}/input_items`);
    expect(await requestLine(read)).toMatchObject({
      msg: "GET /v1/responses/:id/input_items 200",
      route: "/v1/responses/:id/input_items",
      response_id: created.id,
      tenant,
    });
    expect(JSON.stringify(await requestLine(read))).not.toContain(`/responses/${created.id}`);
  });

  it("errors: the status and the envelope's type and code, whether thrown or answered", async () => {
    const unknown = await send("/nowhere/at/all");
    expect(await requestLine(unknown)).toMatchObject({
      msg: "GET (no route) 404 invalid_request_error",
      route: "(no route)",
      http_status: 404,
      error_type: "invalid_request_error",
      error_code: null,
    });
    const invalid = await send("/responses", { model: model("text:1"), input: "x", temperature: 9 });
    expect(await requestLine(invalid)).toMatchObject({
      http_status: 400,
      error_type: "invalid_request_error",
      error_code: "decimal_above_max_value",
      tenant,
      response_id: null,
      model: null,
    });
    const anonymous = await gatewayFetch(`${GATEWAY_URL}/responses`);
    expect(await requestLine(anonymous)).toMatchObject({ http_status: 401, tenant: null, key_id: null });
  });

  it("a 429: the gateway's own limit and an upstream's are told apart by error_source", async () => {
    const upstream = await send("/responses", { model: model("status:429:0"), input: "x" });
    expect(upstream.status).toBe(429);
    expect(await requestLine(upstream)).toMatchObject({ http_status: 429, error_source: "upstream" });
    // The address limiter of 3 a minute (vitest.config.ts), from an address of this test's own.
    const address = `2001:db8:${crypto.randomUUID().slice(0, 4)}::1`;
    let own: Response | undefined;
    for (let i = 0; i < 8 && own?.status !== 429; i++) {
      own = await managedFetch(
        "http://gateway.test/health",
        { headers: { "cf-connecting-ip": address } },
        {
          ADDRESS_RATE_LIMITER: (env as unknown as Record<string, unknown>).STRICT_RATE_LIMITER,
        },
      );
      await own.body?.cancel();
    }
    expect(own?.status).toBe(429);
    expect(await requestLine(own as Response)).toMatchObject({
      http_status: 429,
      error_code: "rate_limit_exceeded",
      error_source: "gateway",
    });
  });
});

describe.concurrent("the response line", () => {
  it("a stored create: model, upstream host, protocol, flags, timings, events and tokens", async () => {
    const m = model("text:3");
    const res = await send("/responses", { model: m, input: "hi" });
    const { id } = await res.json<{ id: string }>();
    const line = await responseLine(id);
    expect(line).toEqual({
      event: "response_end",
      msg: "response completed",
      request_id: res.headers.get("x-request-id"),
      response_id: id,
      tenant,
      key_id: null,
      model: m,
      upstream: UPSTREAM_HOST,
      protocol: "responses",
      status: "completed",
      error_code: null,
      failed_by: null,
      background: false,
      stream: false,
      store: true,
      recorded: "written",
      ended_by: "run",
      ttfb_ms: expect.any(Number) as number,
      first_event_ms: expect.any(Number) as number,
      duration_ms: expect.any(Number) as number,
      events: (await readEvents((await send(`/responses/${id}?stream=true`)).body)).length,
      input_tokens: 10,
      output_tokens: 3,
      reasoning_tokens: 0,
      cached_tokens: 0,
      retries: 0,
    });
    const timings = line as unknown as { ttfb_ms: number; first_event_ms: number; duration_ms: number };
    const { ttfb_ms: ttfb, first_event_ms: firstEvent, duration_ms: duration } = timings;
    expect(ttfb).toBeGreaterThanOrEqual(0);
    expect(firstEvent).toBeGreaterThanOrEqual(ttfb);
    expect(duration).toBeGreaterThanOrEqual(firstEvent);
  });

  it("a stream, a store:false answer and stream, and a background response: one line each", async () => {
    const streamed = await readEvents(
      (await send("/responses", { model: model("text:2"), input: "x", stream: true })).body,
    );
    const streamedId = (streamed[0]?.response as { id: string }).id;
    expect(await responseLine(streamedId)).toMatchObject({
      stream: true,
      store: true,
      status: "completed",
      recorded: "written",
      events: streamed.length,
    });

    const unstored = await (
      await send("/responses", { model: model("text:2"), input: "x", store: false })
    ).json<{
      id: string;
    }>();
    expect(await responseLine(unstored.id)).toMatchObject({ store: false, stream: false, recorded: "not_kept" });
    const unstoredStream = await readEvents(
      (await send("/responses", { model: model("text:2"), input: "x", store: false, stream: true })).body,
    );
    const unstoredStreamId = (unstoredStream[0]?.response as { id: string }).id;
    expect(await responseLine(unstoredStreamId)).toMatchObject({
      store: false,
      stream: true,
      status: "completed",
      events: unstoredStream.length,
    });

    const background = await client(KEY).responses.create({ model: model("text:2"), input: "x", background: true });
    expect(await responseLine(background.id)).toMatchObject({
      background: true,
      stream: false,
      status: "completed",
      recorded: "written",
      output_tokens: 2,
      upstream: UPSTREAM_HOST,
    });
  });

  it("a warm-up (generate: false, Codex's first create) names no upstream: the gateway answered it on either protocol", async () => {
    const chat = routed("text:2");
    for (const m of [model("text:2"), chat.model]) {
      // As Codex starts a session: store:false, streamed, the whole prompt, no generation.
      const res = await send("/responses", { model: m, input: "x", store: false, stream: true, generate: false });
      const events = await readEvents(res.body);
      const id = (events[0]?.response as { id: string }).id;
      expect(await requestLine(res)).toMatchObject({ response_id: id, model: m, upstream: null, protocol: null });
      expect(await responseLine(id)).toMatchObject({
        model: m,
        upstream: null,
        protocol: null,
        status: "completed",
        ttfb_ms: null,
        first_event_ms: null,
        events: events.length,
        input_tokens: 0,
        retries: 0,
      });
    }
    expect(await received(chat)).toEqual([]);
  });

  it("a retried upstream call: its retries, and a line for the attempt that failed", async () => {
    const res = await send("/responses", { model: model("flaky:1"), input: "x" });
    const { id } = await res.json<{ id: string }>();
    expect(await responseLine(id)).toMatchObject({ status: "completed", retries: 1 });
    expect(logs.matching({ event: "upstream_failure", response_id: id })).toEqual([
      {
        event: "upstream_failure",
        msg: `upstream ${UPSTREAM_HOST} failed: HTTP 503`,
        request_id: res.headers.get("x-request-id"),
        response_id: id,
        tenant,
        key_id: null,
        upstream: UPSTREAM_HOST,
        attempt: 1,
        max_attempts: 3,
        upstream_status: 503,
        cause: "HTTP 503",
      },
    ]);
  });
});

describe.concurrent("a failed create (issue 15 item 7)", () => {
  it("an unreachable upstream: 502 on the request line, a failed response kept and listed, a line per attempt", async () => {
    const m = model("refused/m");
    const res = await send("/responses", { model: m, input: "x" });
    expect(res.status).toBe(502);
    const request = await requestLine(res);
    expect(request).toMatchObject({
      msg: "POST /v1/responses 502 upstream_unreachable",
      http_status: 502,
      error_type: "server_error",
      error_code: "upstream_unreachable",
    });
    const id = String(request.response_id);
    const line = await responseLine(id);
    // The line an operator finds for it, verbatim.
    console.info(`a failed response's line: ${JSON.stringify(line)}`);
    expect(line).toMatchObject({
      msg:
        "response failed: upstream_unreachable: The upstream model server at 127.0.0.1:1 could not be reached: " +
        "the connection was refused or cut (is the server running, and listening on that port?).",
      status: "failed",
      error_code: "upstream_unreachable",
      upstream: "127.0.0.1:1",
      recorded: "written",
      ttfb_ms: null,
      first_event_ms: null,
      events: 0,
      retries: 2,
    });
    const attempts = logs.matching({ event: "upstream_failure", response_id: id });
    expect(attempts.map((attempt) => [attempt.attempt, attempt.upstream, attempt.upstream_status])).toEqual([
      [1, "127.0.0.1:1", null],
      [2, "127.0.0.1:1", null],
      [3, "127.0.0.1:1", null],
    ]);
    expect(attempts[0]?.cause).toEqual(expect.any(String) as string);
    // It is history: the list shows it, as the console (which reads the same list) does.
    expect((await storedFor(client(KEY), m)).map((kept) => [kept.id, kept.status])).toEqual([[id, "failed"]]);
  });

  it("server_error alike to the client, told apart by failed_by: an upstream's 500, a broken stream", async () => {
    const refused = await send("/responses", { model: model("no-retry:500"), input: "x" });
    expect(refused.status).toBe(500);
    const refusedId = String((await requestLine(refused)).response_id);
    expect(await responseLine(refusedId)).toMatchObject({ status: "failed", failed_by: "upstream_error" });
    const broken = await send("/responses", { model: model("grammar"), input: "x" });
    const { id, error } = await broken.json<{ id: string; error: { code: string } }>();
    expect(error.code).toBe("server_error");
    expect(await responseLine(id)).toMatchObject({ error_code: "server_error", failed_by: "upstream_stream" });
    const completed = await send("/responses", { model: model("text:1"), input: "x" });
    expect(await responseLine(String((await requestLine(completed)).response_id))).toMatchObject({ failed_by: null });
  });

  it("failed_by gateway for a refusal the gateway made itself, with no upstream at fault", async () => {
    // A background compaction with nothing before its trigger: refused in the run, before any call.
    const m = routed("summarize");
    const res = await send("/responses", { model: m.model, input: [{ type: "compaction_trigger" }], background: true });
    const { id } = await res.json<{ id: string }>();
    expect(await responseLine(id)).toMatchObject({ status: "failed", error_code: "empty_input", failed_by: "gateway" });
    expect(await received(m)).toEqual([]);
  });

  it("a compaction's summary call counts in retries: a 503 retried once, then the turn", async () => {
    const m = routed("summarize:flaky");
    const res = await send("/responses", {
      model: m.model,
      input: [
        { type: "message", role: "user", content: "Plan the trip." },
        { type: "message", role: "assistant", content: "Which city?" },
        { type: "message", role: "user", content: "Lisbon." },
      ],
      context_management: [{ type: "compaction", compact_threshold: 1 }],
    });
    expect(res.status).toBe(200);
    const id = String((await requestLine(res)).response_id);
    expect((await received(m)).map((sent) => sent.body.stream)).toEqual([false, false, true]);
    expect(await responseLine(id)).toMatchObject({ status: "completed", retries: 1 });
    expect(logs.matching({ event: "upstream_failure", response_id: id })).toMatchObject([{ upstream_status: 503 }]);
  });

  it("a summary the upstream answered unusably (empty) is failed_by upstream_stream, not the gateway", async () => {
    const m = routed("summarize:empty");
    const res = await send("/responses", {
      model: m.model,
      input: [
        { type: "message", role: "user", content: "Plan the trip." },
        { type: "message", role: "assistant", content: "Which city?" },
        { type: "message", role: "user", content: "Lisbon." },
      ],
      context_management: [{ type: "compaction", compact_threshold: 1 }],
    });
    expect(res.status).toBe(502);
    const id = String((await requestLine(res)).response_id);
    expect(await responseLine(id)).toMatchObject({
      status: "failed",
      error_code: "server_error",
      failed_by: "upstream_stream",
    });
  });

  it("a foreground create refused in its compaction, before any call, that is kept as failed has its line", async () => {
    const m = routed("summarize");
    const res = await send("/responses", { model: m.model, input: [{ type: "compaction_trigger" }] });
    expect(res.status).toBe(400);
    const id = String((await requestLine(res)).response_id);
    expect((await client(KEY).responses.retrieve(id)).status).toBe("failed");
    expect(await responseLine(id)).toMatchObject({ status: "failed", failed_by: "gateway", recorded: "written" });
    expect(await received(m)).toEqual([]);
  });

  it("a refused key: its response line says nothing was kept, and the list has nothing", async () => {
    const m = model("echo-key");
    const res = await send("/responses", { model: m, input: "x" });
    expect(res.status).toBe(401);
    const id = String((await requestLine(res)).response_id);
    expect(await responseLine(id)).toMatchObject({ status: "failed", recorded: "not_kept", retries: 0 });
    expect(logs.matching({ event: "upstream_failure", response_id: id })).toMatchObject([{ upstream_status: 401 }]);
    expect(await storedFor(client(KEY), m)).toEqual([]);
  });
});

describe("lines on the side of a run", () => {
  it("a failed webhook attempt: the delivery, the endpoint's host (never its URL) and the status", async () => {
    const openai = client(KEY);
    const url = hookUrl("status:500");
    const endpoint = await openai.webhooks.create({ url, name: "fails", event_types: ["response.completed"] });
    try {
      const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
      const [line] = await logs.wait({ event: "webhook_failure", response_id: created.id });
      expect(line).toEqual({
        event: "webhook_failure",
        msg: `webhook to ${UPSTREAM_HOST} failed: HTTP 500; retried later`,
        delivery_id: expect.stringMatching(/^wh_/) as string,
        response_id: created.id,
        tenant,
        endpoint_id: endpoint.id,
        endpoint_host: UPSTREAM_HOST,
        attempt: 1,
        status_code: 500,
        cause: "HTTP 500",
        duration_ms: expect.any(Number) as number,
        delivery_status: "pending",
        next_attempt_at: expect.any(String) as string,
      });
      expect(JSON.stringify(line)).not.toContain(new URL(url).pathname);
      await openai.webhooks.delete(endpoint.id);
      // Its next attempt finds the endpoint gone and gives up, with a line that says so.
      expect(
        await logs.wait({ event: "webhook_failure", delivery_id: line?.delivery_id, delivery_status: "failed" }),
      ).toMatchObject([{ msg: `webhook to ${UPSTREAM_HOST} failed: The webhook endpoint was deleted; given up` }]);
    } finally {
      await openai.webhooks.delete(endpoint.id).catch(() => undefined);
    }
  });

  it("a delivery delivered after failed attempts: one webhook_recovered line; a first-try delivery: none", async () => {
    const openai = client(KEY);
    const flaky = hookUrl("fail:2");
    const fine = hookUrl("ok");
    const endpoints = [
      await openai.webhooks.create({ url: flaky, name: "flaky", event_types: ["response.completed"] }),
      await openai.webhooks.create({ url: fine, name: "fine", event_types: ["response.completed"] }),
    ];
    try {
      const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
      const [line] = await logs.wait({ event: "webhook_recovered", response_id: created.id });
      expect(line).toEqual({
        event: "webhook_recovered",
        msg: `webhook to ${UPSTREAM_HOST} delivered at attempt 3, after failed ones`,
        delivery_id: expect.stringMatching(/^wh_/) as string,
        response_id: created.id,
        tenant,
        endpoint_id: endpoints[0]?.id,
        endpoint_host: UPSTREAM_HOST,
        attempt: 3,
        status_code: 200,
        duration_ms: expect.any(Number) as number,
        delivery_status: "delivered",
      });
      expect(JSON.stringify(line)).not.toContain(new URL(flaky).pathname);
      expect(logs.matching({ event: "webhook_failure", delivery_id: line?.delivery_id })).toHaveLength(2);
      // The other endpoint's delivery was delivered at once (the log is not read until both are on record).
      const deliveries = await openai.get<{ data: { endpoint_id: string; status: string }[] }>(
        `/responses/${created.id}/webhook_deliveries`,
      );
      expect(deliveries.data.map((delivery) => `${delivery.endpoint_id} ${delivery.status}`).sort()).toEqual(
        endpoints.map((endpoint) => `${endpoint.id} delivered`).sort(),
      );
      expect(logs.matching({ event: "webhook_recovered", response_id: created.id })).toHaveLength(1);
    } finally {
      for (const endpoint of endpoints) await openai.webhooks.delete(endpoint.id).catch(() => undefined);
    }
  });

  it("a D1 write refused: a d1_retry line per attempt, d1_failure when given up, and the response line says so", async () => {
    const m = model("text:1");
    const tag = `refused_${crypto.randomUUID().replaceAll("-", "")}`;
    // The terminal write updates the row, or inserts it ended (a response that ends within a second).
    await execEverywhere(
      `CREATE TRIGGER ${tag} BEFORE UPDATE OF status ON responses WHEN NEW.model = '${m}' AND NEW.status = 'completed' BEGIN SELECT RAISE(ABORT, '${tag}'); END;`,
    );
    await execEverywhere(
      `CREATE TRIGGER ${tag}_insert BEFORE INSERT ON responses WHEN NEW.model = '${m}' AND NEW.status = 'completed' BEGIN SELECT RAISE(ABORT, '${tag}'); END;`,
    );
    try {
      const res = await send("/responses", { model: m, input: "x" });
      expect(res.status).toBe(503);
      const id = String((await requestLine(res)).response_id);
      const lines = logs.all().filter((line) => line.event.startsWith("d1_") && line.response_id === id);
      expect(lines.map((line) => [line.event, line.attempt, line.max_attempts])).toEqual([
        ...[1, 2, 3, 4, 5, 6].map((attempt) => ["d1_retry", attempt, 7]),
        ["d1_failure", 7, 7],
      ]);
      expect(lines[0]?.msg).toMatch(new RegExp(`^the terminal write failed: .*${tag}`));
      // The client got a 503, not the completed response: the line is a warning that says so.
      const line = await responseLine(id);
      expect(line).toMatchObject({
        msg: "response completed but not recorded: D1 refused its end (see its d1_failure line)",
        status: "completed",
        recorded: "storage_failed",
      });
      expect(logs.levelOf(line)).toBe("warn");
    } finally {
      await execEverywhere(`DROP TRIGGER ${tag};`);
      await execEverywhere(`DROP TRIGGER ${tag}_insert;`);
    }
  });

  it("a JSON create whose row D1 refuses a second in: 503, and the response line says it was not recorded", async () => {
    // Held past a second, the response writes its row on its own; D1 refuses every insert of it.
    const m = model("gate:2:4");
    const tag = `refused_${crypto.randomUUID().replaceAll("-", "")}`;
    await execEverywhere(
      `CREATE TRIGGER ${tag} BEFORE INSERT ON responses WHEN NEW.model = '${m}' BEGIN SELECT RAISE(ABORT, '${tag}'); END;`,
    );
    try {
      const res = await send("/responses", { model: m, input: "x" });
      expect(res.status).toBe(503);
      const id = String((await requestLine(res)).response_id);
      expect(await responseLine(id)).toMatchObject({ status: "failed", recorded: "storage_failed" });
      // Its d1_ lines say which write D1 refused: the first, so the response was never created.
      const lines = logs.all().filter((line) => line.event.startsWith("d1_") && line.response_id === id);
      expect(lines.map((line) => line.event)).toEqual(["d1_retry", "d1_retry", "d1_retry", "d1_failure"]);
      for (const line of lines)
        expect(line.msg).toMatch(
          new RegExp(`^the first write \\(the response's row and its input\\) failed: .*${tag}`),
        );
    } finally {
      await execEverywhere(`DROP TRIGGER ${tag};`);
    }
  });

  it("the sweep's response line says store as its client asked: false for a store:false create it recorded", async () => {
    const id = await abandonedRun(tenant, { store: false });
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await responseLine(id)).toMatchObject({ status: "failed", ended_by: "recovery", store: false });
  });

  it("the sweep: a line for each dead run it ends, the run's response line, and a summary", async () => {
    const id = await abandonedRun(tenant);
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(logs.matching({ event: "sweep", response_id: id })).toEqual([
      {
        event: "sweep",
        msg: "ended a dead run as failed: its run stopped writing",
        action: "ended",
        response_id: id,
        tenant,
      },
    ]);
    expect(await responseLine(id)).toMatchObject({
      status: "failed",
      error_code: "server_error",
      ended_by: "recovery",
      recorded: "written",
      request_id: null,
      upstream: null,
      // response.created (all it recorded), then the end: response.in_progress, error, response.failed.
      events: 4,
      store: true,
    });
    expect(logs.matching({ event: "sweep", action: "summary" }).at(-1)).toMatchObject({
      ended: expect.any(Number) as number,
      left: 0,
    });
  });
});
