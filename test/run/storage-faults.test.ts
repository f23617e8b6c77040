// D1 faults during a run, injected with SQLite triggers that make D1 refuse a write. A refused progress
// flush loses nothing (its events ride the next flush or the end); a refused start is a retryable 503
// for a JSON create and, for a stream (whose events do not wait for the row), an `error` event after the
// events so far; either way nothing is kept; a refused end of a foreground stream is told to its client by
// an `error` event instead of the terminal one once about 5 s of retries failed, and what it saw is
// recorded, ending `failed`, once D1 takes writes again (else the sweep ends it), as is a JSON create's
// whose 503 names the response; a background run keeps an end D1 refused in its object, serves it, and
// its alarm writes it once D1 takes writes again.

import { createExecutionContext, runDurableObjectAlarm, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { APIError } from "openai";
import type OpenAI from "openai";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { readConfig } from "../../src/config";
import { validateCreateRequest } from "../../src/responses/create-request";
import { tenantDb } from "../../src/db/shards";
import { foldEvents } from "../../src/responses/fold";
import { newResponseId } from "../../src/responses/ids";
import type { RunSpec } from "../../src/run/spec";
import { runStoredForeground } from "../../src/stream/foreground";
import { sweepDeadRuns } from "../../src/stream/sweep";
import { chooseUpstream } from "../../src/upstream/registry";
import type { StreamEvent } from "../../src/responses/types";
import { client, gatewayFetch, GATEWAY_URL, model, readEvents, storedFor, upstream } from "../support/gateway";
import { hookUrl, received, until } from "../support/hooks";
import { runStub, tablesOf, tenantOf } from "../support/run-object";
import { collect } from "../support/streams";
import { watchUnhandled } from "../support/uncaught";
import { execEverywhere, firstRow } from "../support/shards";

const KEY = "sk-test-storage-faults";

/** What a run logs while D1 refuses (each names the injected refusal); nothing else may be logged. */
const D1_REFUSALS = [
  /the first write \(the response's row and its input\) failed: .*refused_/,
  /flush failed.*refused_/,
  /heartbeat without the pending events failed: .*refused_/,
  /terminal write failed: .*refused_/,
  /end D1 refused was recorded later/,
  /the request failed: .*refused_/,
];
const watch = watchUnhandled();
afterEach(() => watch.expectNone(D1_REFUSALS));
afterAll(() => watch.stop());

type Refused = "start" | "progress" | "end" | "delete";

/** Makes D1 refuse one kind of write for responses of model `m` until `lift` runs. */
async function refuse(what: Refused, m: string): Promise<{ tag: string; lift: () => Promise<void> }> {
  const tag = `refused_${crypto.randomUUID().replaceAll("-", "")}`;
  const ended = "('completed', 'failed', 'cancelled', 'incomplete')";
  const triggers = {
    start: [`BEFORE INSERT ON responses WHEN NEW.model = '${m}'`],
    // A progress flush rewrites the running row's tail (a batch row comes only past the size limit).
    progress: [
      `BEFORE UPDATE OF events_tail ON responses WHEN NEW.model = '${m}' AND NEW.status IN ('queued', 'in_progress')`,
    ],
    // A run's end updates its row, or inserts it ended (a stream that ends within its first second).
    end: [
      `BEFORE UPDATE OF status ON responses WHEN NEW.model = '${m}' AND NEW.status IN ${ended}`,
      `BEFORE INSERT ON responses WHEN NEW.model = '${m}' AND NEW.status IN ${ended}`,
    ],
    delete: [`BEFORE DELETE ON responses WHEN OLD.model = '${m}'`],
  }[what];
  const names = triggers.map((_, index) => `${tag}_${index}`);
  for (const [index, trigger] of triggers.entries())
    await execEverywhere(`CREATE TRIGGER ${names[index]} ${trigger} BEGIN SELECT RAISE(ABORT, '${tag}'); END;`);
  return {
    tag,
    lift: async () => {
      for (const name of names) await execEverywhere(`DROP TRIGGER IF EXISTS ${name};`);
    },
  };
}

/** Waits until the run logged that D1 refused a write marked `tag` (`times` times). */
const refusedAt = (tag: string, times = 1) =>
  until(
    () => Promise.resolve(watch.logged().filter((line) => line.includes(tag))),
    (lines) => lines.length >= times,
    `a refusal (${tag})`,
  );

async function row(id: string) {
  return firstRow<{ status: string; event_count: number }>(
    "SELECT status, event_count FROM responses WHERE id = ?",
    id,
  );
}

/** Everything the client saw is in D1: the replay equals it, the snapshot equals its fold. */
async function expectRecorded(openai: OpenAI, id: string, seen: ResponseStreamEvent[]) {
  expect(await row(id)).toEqual({ status: seen.at(-1)?.type.replace("response.", ""), event_count: seen.length });
  const replay = await collect(await openai.responses.retrieve(id, { stream: true }));
  expect(replay).toEqual(seen);
  const { output_text: _text, ...stored } = await openai.responses.retrieve(id);
  expect(foldEvents(replay as unknown as StreamEvent[])).toEqual(stored);
}

const post = (body: unknown, headers: Record<string, string> = {}) =>
  gatewayFetch(`${GATEWAY_URL}/responses`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

describe("D1 refuses writes during a foreground run", () => {
  it("refused progress flushes: the client gets every event, and D1 gets them all with the end", async () => {
    const openai = client(KEY);
    const m = model("gate:6:10");
    const { tag, lift } = await refuse("progress", m);
    const stream = await openai.responses.create({ model: m, input: "x", stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    const seen: ResponseStreamEvent[] = [];
    for (let i = 0; i < 6; i++) seen.push((await iterator.next()).value as ResponseStreamEvent);
    await refusedAt(tag);
    await lift();
    await upstream.release(m);
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) seen.push(next.value);
    expect(seen.at(-1)?.type).toBe("response.completed");
    await expectRecorded(openai, seen[0]?.type === "response.created" ? seen[0].response.id : "", seen);
  });

  it("progress flushes refused past the sweep's bound: the run's bare heartbeats keep it alive; the sweep leaves it, and D1 gets every event with the end", async () => {
    const openai = client(KEY);
    const m = model("gate:6:10");
    const { tag, lift } = await refuse("progress", m);
    const stream = await openai.responses.create({ model: m, input: "x", stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    const seen: ResponseStreamEvent[] = [];
    for (let i = 0; i < 6; i++) seen.push((await iterator.next()).value as ResponseStreamEvent);
    const id = seen[0]?.type === "response.created" ? seen[0].response.id : "";
    await refusedAt(tag);
    // As if the flushes had been refused for two minutes: the row's last heartbeat is that old.
    await execEverywhere(`UPDATE responses SET updated_at = updated_at - 120 WHERE id = '${id}';`);
    const beat = () =>
      firstRow<{ fresh: number }>("SELECT updated_at >= unixepoch() - 5 AS fresh FROM responses WHERE id = ?", id);
    await until(beat, (row) => row?.fresh === 1, "a heartbeat without the refused events");
    const swept = await sweepDeadRuns(env, await tenantDb(env, await tenantOf(KEY)), readConfig(env));
    expect(swept).toEqual({ ended: 0, failed: 0 });
    expect((await openai.responses.retrieve(id)).status).toBe("in_progress");
    await lift();
    await upstream.release(m);
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) seen.push(next.value);
    expect(seen.at(-1)?.type).toBe("response.completed");
    await expectRecorded(openai, id, seen);
  });

  it("a refused start of a JSON create: a retryable 503 that says so; nothing kept; the upstream call dropped", async () => {
    const openai = client(KEY);
    const m = model("gate:3:4");
    const { lift } = await refuse("start", m);
    try {
      const res = await post({ model: m, input: "x" });
      expect(res.status).toBe(503);
      expect(res.headers.get("content-type")).toBe("application/json");
      const body = await res.json<{ error: Record<string, unknown> }>();
      expect(body.error).toMatchObject({ type: "server_error", code: "storage_unavailable" });
      expect(body.error.message).toMatch(/could not record the response/);
    } finally {
      await lift();
    }
    expect(await storedFor(openai, m)).toEqual([]);
    await until(
      () => upstream.closedEarly(m),
      (closed) => closed === 1,
      "the upstream call to be dropped",
    );
  });

  it("a refused start of a conversation turn, JSON or streamed: its conversation is released for the retry at once", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create();
    const m = model("gate:3:4");
    const body = { model: m, input: "x", conversation: conversation.id };
    const { lift } = await refuse("start", m);
    try {
      const res = await post(body);
      expect(res.status).toBe(503);
      expect((await res.json<{ error: { code: string } }>()).error.code).toBe("storage_unavailable");
      // Not conversation_locked: the refused JSON turn let go of it.
      const streamed = await post({ ...body, stream: true });
      expect(streamed.status).toBe(200);
      expect((await readEvents(streamed.body)).at(-1)).toMatchObject({ type: "error", code: "storage_unavailable" });
    } finally {
      await lift();
    }
    const retry = await openai.responses.create({ model: model("text:2"), input: "y", conversation: conversation.id });
    expect(retry.status).toBe("completed");
    const items = await openai.conversations.items.list(conversation.id);
    expect(items.data).toHaveLength(2);
  });

  it("a refused start of a stream: the events so far, then an error that says why; nothing kept; the upstream call dropped; its Idempotency-Key freed", async () => {
    const openai = client(KEY);
    // The gate holds the upstream after three events, so only the refusal can end this stream.
    const m = model("gate:3:4");
    const body = { model: m, input: "x", stream: true };
    const idempotency = { "idempotency-key": `refused-start-${crypto.randomUUID()}` };
    const { lift } = await refuse("start", m);
    let events: Record<string, unknown>[];
    try {
      const res = await post(body, idempotency);
      expect(res.status).toBe(200);
      events = await readEvents(res.body);
    } finally {
      await lift();
    }
    expect(events.slice(0, 3).map((event) => event.type)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
    ]);
    expect(events.at(-1)).toMatchObject({ type: "error", code: "storage_unavailable" });
    expect(events.at(-1)?.message).toMatch(/could not be recorded/);
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    expect(await storedFor(openai, m)).toEqual([]);
    await until(
      () => upstream.closedEarly(m),
      (closed) => closed === 1,
      "the upstream call to be dropped",
    );
    // A retry with the same key runs the request again at once (a held key would make it wait 30 s).
    const retry = await post(body, idempotency);
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
    await upstream.release(m);
    const again = await readEvents(retry.body);
    expect(again.at(-1)?.type).toBe("response.completed");
    expect(await storedFor(openai, m)).toHaveLength(1);
  });

  it("a refused end: the client gets every event but the terminal one, then an error that says why", async () => {
    const openai = client(KEY);
    const m = model("text:3");
    const { lift } = await refuse("end", m);
    let events: Record<string, unknown>[];
    try {
      events = await readEvents((await post({ model: m, input: "x", stream: true })).body);
    } finally {
      await lift();
    }
    expect(events.at(-2)?.type).toBe("response.output_item.done");
    expect(events.at(-1)).toMatchObject({ type: "error", code: "storage_unavailable" });
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    // Ended within its first second, it has no row: only the Worker's late record can keep it.
    expect(events.at(-1)?.message).toMatch(
      /the stored response ends failed if the storage takes it within 20 seconds, else it is not stored\./,
    );
    // A JSON create that cannot be recorded is a retryable 503.
    const { lift: liftAgain } = await refuse("end", m);
    try {
      const error = await openai.responses.create({ model: m, input: "x" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(APIError);
      expect(error).toMatchObject({ status: 503, code: "storage_unavailable" });
      expect((error as APIError).message).toMatch(/if the storage takes it within 20 seconds, else not at all\./);
    } finally {
      await liftAgain();
    }
  });
});

describe("D1 refuses a foreground run's end for a while", () => {
  it("an outage of a few seconds: the client's terminal event waits for it; D1 then has every event it saw", async () => {
    const openai = client(KEY);
    const m = model("text:3");
    const { tag, lift } = await refuse("end", m);
    let seen: ResponseStreamEvent[];
    try {
      const collecting = collect(await openai.responses.create({ model: m, input: "x", stream: true }));
      // Four refusals: as many attempts as any other write gets, which the end outlasts.
      await refusedAt(tag, 4);
      await lift();
      seen = await collecting;
    } finally {
      await lift();
    }
    expect(seen.at(-1)?.type).toBe("response.completed");
    await expectRecorded(openai, seen[0]?.type === "response.created" ? seen[0].response.id : "", seen);
  });

  it("a run whose client left, cancelled while D1 refuses its end: recorded cancelled once D1 takes writes, not left to the sweep", async () => {
    // Held after three events: only the grace (a fifth of a second here) ends it.
    const m = model("gate:3:6");
    const spec: RunSpec = {
      responseId: newResponseId(),
      tenantId: await tenantOf(KEY),
      apiKeyId: null,
      requestId: "req_storage_faults_left",
      createdAt: Math.floor(Date.now() / 1000),
      request: validateCreateRequest({ model: m, input: "x", stream: true }),
      upstream: chooseUpstream(readConfig(env), m, KEY),
    };
    const { tag, lift } = await refuse("end", m);
    const ctx = createExecutionContext();
    try {
      const response = await runStoredForeground(
        { env, ctx, config: { ...readConfig(env), disconnectGraceMs: 200 } },
        spec,
      );
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      await reader.read();
      await reader.cancel("the client went away");
      // Its end's attempts (seven), then one of the late ones: refused past the outage a client is waited for.
      await refusedAt(tag, 8);
    } finally {
      await lift();
    }
    await waitOnExecutionContext(ctx);
    expect((await row(spec.responseId))?.status).toBe("cancelled");
    await upstream.release(m);
  });

  it("an end refused past its retries: the client is told; once D1 takes writes, what it saw is recorded, failed", async () => {
    const openai = client(KEY);
    // Held after three events until its row (written a second in) is in D1: the end updates that row.
    const m = model("gate:3:6");
    const { tag, lift } = await refuse("end", m);
    let events: Record<string, unknown>[];
    try {
      const res = await post({ model: m, input: "x", stream: true });
      const reading = readEvents(res.body);
      await until(
        () => storedFor(openai, m),
        (list) => list.length === 1,
        "the running row",
      );
      await upstream.release(m);
      events = await reading;
    } finally {
      await lift();
    }
    await refusedAt(tag, 7);
    expect(events.at(-2)?.type).toBe("response.output_item.done");
    expect(events.at(-1)).toMatchObject({ type: "error", code: "storage_unavailable" });
    // Its row is in D1: the sweep ends it failed should the late record be refused too.
    expect(events.at(-1)?.message).toMatch(/the stored response ends failed\.$/);
    const id = (events[0]?.response as { id: string }).id;
    const recorded = await until(
      () => row(id),
      (found) => found?.status === "failed",
      "the end recorded late",
    );
    expect(recorded?.event_count).toBe(events.length + 1);
    const replay = await readEvents(
      (
        await gatewayFetch(`${GATEWAY_URL}/responses/${id}?stream=true`, {
          headers: { authorization: `Bearer ${KEY}` },
        })
      ).body,
    );
    expect(replay.slice(0, -1)).toEqual(events);
    expect(replay.at(-1)).toMatchObject({
      type: "response.failed",
      sequence_number: events.length,
      response: { id, status: "failed", error: { code: "server_error" } },
    });
    const { output_text: _text, ...stored } = await openai.responses.retrieve(id);
    expect(foldEvents(replay as unknown as StreamEvent[])).toEqual(stored);
  });
  it("a JSON create whose end is refused past its retries: a 503 naming the response, recorded failed once D1 takes writes", async () => {
    const openai = client(KEY);
    // Held after three events until its row (written a second in) is in D1: the end updates that row.
    const m = model("gate:3:6");
    const { tag, lift } = await refuse("end", m);
    let res: Response;
    try {
      const answering = post({ model: m, input: "x" });
      await until(
        () => storedFor(openai, m),
        (list) => list.length === 1,
        "the running row",
      );
      await upstream.release(m);
      res = await answering;
      await refusedAt(tag, 7);
    } finally {
      await lift();
    }
    const id = (await storedFor(openai, m))[0]?.id ?? "";
    expect(res.status).toBe(503);
    const body = await res.json<{ error: { code: string; message: string } }>();
    expect(body.error.code).toBe("storage_unavailable");
    expect(body.error.message).toContain(id);
    expect(body.error.message).toMatch(/stored as failed, with its output, once the storage takes it\./);
    const recorded = await until(
      () => row(id),
      (found) => found?.status === "failed",
      "the end recorded late",
    );
    const replay = await readEvents(
      (
        await gatewayFetch(`${GATEWAY_URL}/responses/${id}?stream=true`, {
          headers: { authorization: `Bearer ${KEY}` },
        })
      ).body,
    );
    expect(recorded?.event_count).toBe(replay.length);
    expect(replay.map((event) => event.sequence_number)).toEqual(replay.map((_, index) => index));
    expect(replay.at(-3)?.type).toBe("response.output_item.done");
    expect(replay.at(-2)).toMatchObject({ type: "error", code: "storage_unavailable", message: body.error.message });
    expect(replay.at(-1)).toMatchObject({ type: "response.failed", response: { id, status: "failed" } });
    const { output_text: _text, ...stored } = await openai.responses.retrieve(id);
    expect(stored.output).toMatchObject([{ type: "message", content: [{ text: "w0 w1 w2 w3 w4 w5 " }] }]);
    expect(foldEvents(replay as unknown as StreamEvent[])).toEqual(stored);
  });
});

describe("D1 refuses a write outside a run", () => {
  it("a refused delete: a retryable 503 that names no query; the response is kept whole", async () => {
    const openai = client(KEY);
    const m = model("text:3");
    const created = await openai.responses.create({ model: m, input: "x" });
    const { tag, lift } = await refuse("delete", m);
    let res: Response;
    try {
      res = await gatewayFetch(`${GATEWAY_URL}/responses/${created.id}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${KEY}` },
      });
    } finally {
      await lift();
    }
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    const body = await res.json<{ error: Record<string, unknown> }>();
    expect(body.error).toMatchObject({ type: "server_error", code: "storage_unavailable", param: null });
    expect(JSON.stringify(body)).not.toMatch(/delete|responses|refused_/i);
    // The line says D1's reason, not the query and its parameters.
    const lines = watch.logged().filter((line) => line.includes(tag));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).not.toMatch(/Failed query|params:/);
    expect(await openai.responses.retrieve(created.id)).toMatchObject({ id: created.id, status: "completed" });
    expect(await openai.responses.delete(created.id)).toMatchObject({ id: created.id, deleted: true });
  });
});

describe("D1 refuses writes during a background run", () => {
  it("a refused end: readers get the end; reads answer it from the object; the alarm writes it; then the webhook", async () => {
    const key = `sk-test-storage-faults-${crypto.randomUUID()}`;
    const openai = client(key);
    const hook = hookUrl("ok");
    await openai.webhooks.create({ url: hook, name: "r", event_types: ["response.completed"] });
    const m = model("text:3");
    const { tag, lift } = await refuse("end", m);
    const seen = await collect(await openai.responses.create({ model: m, input: "x", stream: true, background: true }));
    expect(seen.at(-1)?.type).toBe("response.completed");
    const id = seen[0]?.type === "response.created" ? seen[0].response.id : "";
    await refusedAt(tag);
    // D1 lags: the row is still running; a read answers the end the object kept.
    expect(["queued", "in_progress"]).toContain((await row(id))?.status);
    expect((await openai.responses.retrieve(id)).status).toBe("completed");
    expect(await received(hook)).toEqual([]);
    await lift();
    expect(await runDurableObjectAlarm(await runStub(id, key))).toBe(true);
    await expectRecorded(openai, id, seen);
    const hooks = await until(
      () => received(hook),
      (list) => list.length === 1,
      "the webhook",
    );
    expect(JSON.parse(hooks[0]?.body ?? "{}")).toMatchObject({ type: "response.completed", data: { id } });
  });

  it("a refused queued row: a 503 before the id is returned; nothing kept, in D1 or the object", async () => {
    const openai = client(KEY);
    const m = model("text:3");
    const { lift } = await refuse("start", m);
    try {
      const error = await openai.responses.create({ model: m, input: "x", background: true }).catch((e: unknown) => e);
      expect(error).toMatchObject({ status: 503, code: "storage_unavailable" });
    } finally {
      await lift();
    }
    expect(await storedFor(openai, m)).toEqual([]);
    expect(await upstream.requests(m)).toEqual([]);
  });

  it("deleting a background response whose end D1 refused: nothing reaches D1 later, the object is emptied", async () => {
    const openai = client(KEY);
    const m = model("text:2");
    const { tag, lift } = await refuse("end", m);
    const seen = await collect(await openai.responses.create({ model: m, input: "x", stream: true, background: true }));
    const id = seen[0]?.type === "response.created" ? seen[0].response.id : "";
    await refusedAt(tag);
    expect(await openai.responses.delete(id)).toMatchObject({ id, deleted: true });
    await lift();
    await runDurableObjectAlarm(await runStub(id, KEY));
    expect(await row(id)).toBeNull();
    expect(await tablesOf(id, KEY)).toEqual([]);
    await expect(openai.responses.retrieve(id)).rejects.toMatchObject({ status: 404 });
  });
});
