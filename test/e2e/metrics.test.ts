// Metrics (issue 15 item 2): with a `METRICS` Analytics Engine binding, one data point per response
// end, laid out as docs/observability.md's SQL reads it; without one, nothing is written and nothing
// fails. Miniflare's local dataset (bound as LOCAL_METRICS in vitest.config.ts) takes points but keeps
// none a test can read, so the Worker is called here with its bindings plus a recording dataset (and
// the background runner is handed the same bindings); one test forwards to miniflare's own.

import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readConfig } from "../../src/config";
import { tenantDb } from "../../src/db/shards";
import { dataPointOf } from "../../src/observe/metrics";
import type { ResponseEnd } from "../../src/observe/response-end";
import { validateCreateRequest } from "../../src/responses/create-request";
import { newResponseId } from "../../src/responses/ids";
import { BackgroundRun } from "../../src/run/background-run";
import { chooseUpstream } from "../../src/upstream/registry";
import worker from "../../src/index";
import { GATEWAY_URL, model, readEvents } from "../support/gateway";
import { abandonedRun } from "../support/abandoned-run";
import { captureLogLines, type LogCapture } from "../support/log-lines";
import { tenantOf } from "../support/run-object";

const KEY = `sk-test-metrics-${crypto.randomUUID()}`;
const UPSTREAM_HOST = new URL(env.UPSTREAM_BASE_URL).host;

/** A dataset that keeps what it is given. */
function recordingDataset(): AnalyticsEngineDataset & { points: AnalyticsEngineDataPoint[] } {
  const points: AnalyticsEngineDataPoint[] = [];
  return { points, writeDataPoint: (point?: AnalyticsEngineDataPoint) => void (point && points.push(point)) };
}

/** Calls the Worker with `bindings` over its own, and waits for its background work (a stream's end). */
async function call(
  bindings: Record<string, unknown>,
  body: Record<string, unknown>,
): Promise<{ status: number; id: string }> {
  const ctx = createExecutionContext();
  const request = new Request(`${GATEWAY_URL}/responses`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const response = await worker.fetch(request, { ...env, ...bindings }, ctx);
  const id =
    body.stream === true
      ? ((await readEvents(response.body))[0]?.response as { id: string }).id
      : ((await response.json<{ id?: string }>()).id ?? "");
  await waitOnExecutionContext(ctx);
  return { status: response.status, id };
}

let logs: LogCapture;
let tenant: string;
beforeAll(async () => {
  logs = captureLogLines();
  tenant = await tenantOf(KEY);
});
afterAll(() => logs.stop());

describe.concurrent("with a METRICS binding", () => {
  it("a stored create writes one data point: tenant index, dimensions as blobs, measures as doubles", async () => {
    const metrics = recordingDataset();
    const m = model("text:3");
    const { id } = await call({ METRICS: metrics }, { model: m, input: "x" });
    expect(metrics.points).toHaveLength(1);
    const [point] = metrics.points;
    expect(point?.indexes).toEqual([tenant]);
    expect(point?.blobs).toEqual([
      m,
      "",
      UPSTREAM_HOST,
      "responses",
      "completed",
      "",
      "false",
      "false",
      "true",
      "written",
      "run",
      expect.stringMatching(/^req_/) as string,
      id,
      "",
    ]);
    const [duration, ttfb, firstEvent, events, input, output, reasoning, cached, retries] = point?.doubles ?? [];
    expect({ events, input, output, reasoning, cached, retries }).toEqual({
      events: expect.any(Number) as number,
      input: 10,
      output: 3,
      reasoning: 0,
      cached: 0,
      retries: 0,
    });
    expect(ttfb).toBeGreaterThanOrEqual(0);
    expect(firstEvent).toBeGreaterThanOrEqual(ttfb ?? 0);
    expect(duration).toBeGreaterThanOrEqual(firstEvent ?? 0);
    // The data point is the response line's record.
    const [line] = logs.matching({ event: "response_end", response_id: id });
    expect(point).toEqual(dataPointOf(line as unknown as ResponseEnd));
  });

  it("a stream and a store:false response: one point each, with their flags", async () => {
    const metrics = recordingDataset();
    const streamed = await call({ METRICS: metrics }, { model: model("text:2"), input: "x", stream: true });
    const unstored = await call({ METRICS: metrics }, { model: model("text:2"), input: "x", store: false });
    expect(metrics.points.map((point) => [point.blobs?.[12], point.blobs?.slice(6, 10)])).toEqual([
      [streamed.id, ["false", "true", "true", "written"]],
      [unstored.id, ["false", "false", "false", "not_kept"]],
    ]);
  });

  it("a failed create (issue 15 item 7): a failed point with its error code and retries", async () => {
    const metrics = recordingDataset();
    const { status, id } = await call({ METRICS: metrics }, { model: model("refused/m"), input: "x" });
    expect(status).toBe(502);
    expect(id).toBe("");
    const [point] = metrics.points;
    expect(point?.blobs?.slice(2, 6)).toEqual(["127.0.0.1:1", "responses", "failed", "upstream_unreachable"]);
    expect(point?.blobs?.[13]).toBe("upstream_error");
    expect(point?.doubles?.slice(1, 4)).toEqual([-1, -1, 0]);
    expect(point?.doubles?.[8]).toBe(2);
    console.info(`a failed response's data point: ${JSON.stringify(point)}`);
  });

  it("a background response: its point is written by the runner when it ends", async () => {
    const metrics = recordingDataset();
    const request = validateCreateRequest({ model: model("text:2"), input: "x", background: true });
    const spec = {
      responseId: newResponseId(),
      tenantId: tenant,
      apiKeyId: null,
      requestId: "req_metrics_background",
      createdAt: Math.floor(Date.now() / 1000),
      request,
      upstream: chooseUpstream(readConfig(env), request.model, KEY),
    };
    const tasks: Promise<unknown>[] = [];
    const run = await BackgroundRun.start(
      spec,
      { db: await tenantDb(env, tenant), config: readConfig(env), env: { ...env, METRICS: metrics } },
      {
        beforeEnd: () => Promise.resolve(),
        afterEnd: () => Promise.resolve(),
        background: (task) => void tasks.push(task),
      },
    );
    await Promise.all(tasks);
    expect((await run.ended)?.status).toBe("completed");
    expect(metrics.points.map((point) => [point.blobs?.[6], point.blobs?.[4], point.blobs?.[12]])).toEqual([
      ["true", "completed", spec.responseId],
    ]);
  });

  it("a dead run ended by the sweep: a point marked `recovery`", async () => {
    const metrics = recordingDataset();
    const id = await abandonedRun(tenant);
    const ctx = createExecutionContext();
    const controller = createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" });
    await worker.scheduled(controller, { ...env, METRICS: metrics } as Env, ctx);
    await waitOnExecutionContext(ctx);
    const mine = metrics.points.filter((point) => point.blobs?.[12] === id);
    expect(mine.map((point) => [point.blobs?.[4], point.blobs?.[5], point.blobs?.[10], point.blobs?.[11]])).toEqual([
      ["failed", "server_error", "recovery", ""],
    ]);
  });

  it("a dead run ended by a read, a follow or an idempotent retry: a point marked `recovery` too", async () => {
    const metrics = recordingDataset();
    const ids = await Promise.all([abandonedRun(tenant), abandonedRun(tenant)]);
    for (const [id, query] of [
      [ids[0], ""],
      [ids[1], "?stream=true"],
    ] as const) {
      const ctx = createExecutionContext();
      const request = new Request(`${GATEWAY_URL}/responses/${id}${query}`, {
        headers: { authorization: `Bearer ${KEY}` },
      });
      const response = await worker.fetch(request, { ...env, METRICS: metrics } as Env, ctx);
      await response.text();
      await waitOnExecutionContext(ctx);
    }
    for (const id of ids) {
      const mine = metrics.points.filter((point) => point.blobs?.[12] === id);
      expect(mine.map((point) => [point.blobs?.[4], point.blobs?.[10]])).toEqual([["failed", "recovery"]]);
    }
  });

  it("a dataset that throws fails nothing: the response is answered, the line says the point was lost", async () => {
    const throwing = {
      writeDataPoint: () => {
        throw new Error("dataset unavailable");
      },
    };
    const { status, id } = await call({ METRICS: throwing }, { model: model("text:1"), input: "x" });
    expect(status).toBe(200);
    expect(logs.matching({ event: "failure", response_id: id })).toMatchObject([
      { msg: "metrics data point not written: Error: dataset unavailable" },
    ]);
  });
});

describe("with miniflare's own Analytics Engine dataset", () => {
  it("takes the data point: the response is answered and no failure is logged", async () => {
    const local = (env as unknown as Record<string, AnalyticsEngineDataset>).LOCAL_METRICS;
    expect(local).toBeDefined();
    const seen: AnalyticsEngineDataPoint[] = [];
    // Forwards to the real binding, keeping what went through (the binding keeps nothing readable).
    const forwarding: AnalyticsEngineDataset = {
      writeDataPoint: (point?: AnalyticsEngineDataPoint) => {
        local?.writeDataPoint(point);
        if (point) seen.push(point);
      },
    };
    const { status, id } = await call({ METRICS: forwarding }, { model: model("text:1"), input: "x" });
    expect(status).toBe(200);
    expect(seen.map((point) => point.blobs?.[12])).toEqual([id]);
    expect(logs.matching({ event: "failure", response_id: id })).toEqual([]);
    // The point as written for this response, for docs/observability.md.
    console.info(`data point: ${JSON.stringify(seen[0])}`);
  });
});

describe("without a METRICS binding", () => {
  it("nothing is written and nothing fails: the response line is still there", async () => {
    expect("METRICS" in env).toBe(false);
    const { status, id } = await call({}, { model: model("text:1"), input: "x" });
    expect(status).toBe(200);
    expect(logs.matching({ event: "response_end", response_id: id })).toHaveLength(1);
    expect(logs.matching({ event: "failure", response_id: id })).toEqual([]);
  });
});

describe("the data point's limits", () => {
  const end: ResponseEnd = {
    request_id: "req_1",
    response_id: "resp_1",
    tenant: "t_1",
    key_id: "key_1",
    model: "m",
    upstream: "api.example.com",
    protocol: "chat_completions",
    status: "incomplete",
    error_code: null,
    failed_by: null,
    background: true,
    stream: true,
    store: true,
    recorded: "written",
    ended_by: "run",
    ttfb_ms: 12,
    first_event_ms: 20,
    duration_ms: 300,
    events: 9,
    input_tokens: 1,
    output_tokens: 2,
    reasoning_tokens: 3,
    cached_tokens: 4,
    retries: 1,
  };

  it("stays within Analytics Engine's: 20 blobs, 20 doubles, one index of at most 96 bytes", () => {
    const point = dataPointOf({ ...end, tenant: "é".repeat(100), model: "x".repeat(10_000) });
    expect(point.blobs?.length).toBeLessThanOrEqual(20);
    expect(point.doubles?.length).toBeLessThanOrEqual(20);
    expect(point.indexes).toEqual(["é".repeat(48)]);
    expect(point.blobs?.[0]).toBe("x".repeat(256));
    const blobBytes = (point.blobs ?? []).reduce(
      (sum, blob) => sum + new TextEncoder().encode(typeof blob === "string" ? blob : "").length,
      0,
    );
    expect(blobBytes).toBeLessThan(16 * 1024);
  });

  it("keeps its column order (the docs' queries read blobN and doubleN)", () => {
    expect(dataPointOf({ ...end, failed_by: "max_run_time" })).toEqual({
      indexes: ["t_1"],
      blobs: [
        "m",
        "key_1",
        "api.example.com",
        "chat_completions",
        "incomplete",
        "",
        "true",
        "true",
        "true",
        "written",
        "run",
        "req_1",
        "resp_1",
        "max_run_time",
      ],
      doubles: [300, 12, 20, 9, 1, 2, 3, 4, 1],
    });
  });
});
