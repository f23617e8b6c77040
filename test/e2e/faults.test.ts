// Nothing stays in progress: a run whose executor is lost (a background object's instance reset, a
// foreground Worker stopped mid-stream), whose upstream hangs, or which outlives MAX_RUN_SECONDS ends
// in a terminal status, with the partial output D1 recorded kept.
//
// How a lost background instance is simulated: `evictDurableObject` is a graceful eviction. It waits
// (up to 30 s, then rejects) until the object has no request or `waitUntil` work left, and a live run
// is such work, so it can never cut a run: that is also how production behaves, where idle eviction
// spares an object with pending I/O. What does cut a run in production is a reset: a deploy, a crash,
// or the runtime evicting the object anyway. `ctx.abort()` on that one object is exactly such a reset.
// A foreground run's Worker cannot be killed inside the test runtime; what it leaves behind is
// exactly a row that stopped beating with some batches recorded, which the recorder itself writes here.

import {
  createExecutionContext,
  createScheduledController,
  runDurableObjectAlarm,
  evictDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { readConfig } from "../../src/config";
import { tenantDb } from "../../src/db/shards";
import { encodeRow } from "../../src/db/responses";
import { newResponseId } from "../../src/responses/ids";
import { newResponseObject } from "../../src/responses/response-object";
import { validateCreateRequest } from "../../src/responses/create-request";
import { BackgroundRun } from "../../src/run/background-run";
import type { RunSpec } from "../../src/run/spec";
import { runStoredForeground } from "../../src/stream/foreground";
import { framesOf, ResponseRecorder } from "../../src/stream/recorder";
import { sha256Hex } from "../../src/tenancy/gateway-keys";
import { chooseUpstream } from "../../src/upstream/registry";
import worker from "../../src/index";
import { client, heldBackground, model, rawEvents as rawEventsOf, readEvents, upstream } from "../support/gateway";
import { until } from "../support/hooks";
import { captureLogLines } from "../support/log-lines";
import { halfAnswerEvents } from "../support/half-answer";
import { testRow } from "../support/response-row";
import { alarmOf, resetInstance, runStub, tenantOf } from "../support/run-object";
import { responseIdOf } from "../support/streams";
import { firstRow, runEverywhere } from "../support/shards";

const KEY = "sk-test-tenant-a";

/** Raw SSE events (the SDK's stream throws at the `error` event that precedes `response.failed`). */
const rawEvents = (path: string, body?: unknown) => rawEventsOf(KEY, path, body);

async function d1Row(id: string) {
  return firstRow<{ status: string; event_count: number }>(
    "SELECT status, event_count FROM responses WHERE id = ?",
    id,
  );
}

const d1Status = async (id: string): Promise<string | undefined> => (await d1Row(id))?.status;

/** Waits until D1 has at least `count` of the response's events (a batch landed). */
const recorded = (id: string, count: number) =>
  until(
    () => d1Row(id),
    (row) => (row?.event_count ?? 0) >= count,
    `${count} events in D1`,
  );

const INTERRUPTED = "The response was interrupted before it finished; its partial output is kept.";

/** Runs the Cron Trigger (the sweep, then retention) at `now`. */
async function runCron(now = Date.now()): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: now, cron: "* * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

/** A run spec as the create route builds it, for the runners driven directly with a test config. */
async function specOf(body: Record<string, unknown>, key = KEY): Promise<RunSpec> {
  const request = validateCreateRequest(body);
  return {
    responseId: newResponseId(),
    tenantId: await tenantOf(key),
    apiKeyId: null,
    requestId: "req_test",
    createdAt: Math.floor(Date.now() / 1000),
    request,
    upstream: chooseUpstream(readConfig(env), request.model, key),
  };
}

describe("a background run whose instance is lost", () => {
  it("is ended failed by its alarm, with the partial output D1 recorded", async () => {
    const openai = client();
    const { model: m, id } = await heldBackground(openai, "gate:6:10");
    await recorded(id, 7);
    await resetInstance(id);
    // The instance took its upstream connection with it.
    await until(
      () => upstream.closedEarly(m),
      (closed) => closed === 1,
      "the upstream connection to close",
    );
    expect(await d1Status(id)).toBe("in_progress");
    // The keepalive alarm (or the sweep, or the first read: below) finds no live run and ends it from D1.
    expect(await runDurableObjectAlarm(await runStub(id))).toBe(true);
    expect(await d1Status(id)).toBe("failed");
    const ended = await openai.responses.retrieve(id);
    expect(ended).toMatchObject({ status: "failed" });
    expect(ended.error).toEqual({ code: "server_error", message: INTERRUPTED, type: "server_error", param: null });
    expect(ended.output_text).toBe("w0 w1 ");
    expect(ended.output[0]).toMatchObject({ status: "incomplete" });
    // Its stream replays what was sent, then OpenAI's failure pair.
    const events = await rawEvents(`/responses/${id}?stream=true`);
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    expect(events.slice(-2).map((event) => event.type)).toEqual(["error", "response.failed"]);
    // A late release of the upstream changes nothing.
    await upstream.release(m);
    expect((await openai.responses.retrieve(id)).status).toBe("failed");
  });

  it("is also ended by the first read of it, and by a resume, before any alarm comes", async () => {
    const openai = client();
    const { model: m, id } = await heldBackground(openai, "gate:6:10");
    await recorded(id, 7);
    await resetInstance(id);
    const polled = await openai.responses.retrieve(id);
    expect(polled.status).toBe("failed");
    expect(polled.output_text).toBe("w0 w1 ");
    expect(await d1Status(id)).toBe("failed");
    await upstream.release(m);

    const other = await heldBackground(openai, "gate:6:10");
    await recorded(other.id, 7);
    await resetInstance(other.id);
    const resumed = await rawEvents(`/responses/${other.id}?stream=true&starting_after=6`);
    expect(resumed.map((event) => event.type)).toEqual([
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "error",
      "response.failed",
    ]);
    await upstream.release(other.model);
  });

  it("is ended by the sweep once its heartbeat is silent, even if nobody reads it", async () => {
    const openai = client();
    const { model: m, id } = await heldBackground(openai, "gate:6:10");
    await recorded(id, 7);
    await resetInstance(id);
    // Stands in for the staleness window passing: the row's last heartbeat moves two minutes back.
    await runEverywhere("UPDATE responses SET updated_at = updated_at - 120 WHERE id = ?", id);
    await runCron();
    expect(await d1Status(id)).toBe("failed");
    expect((await openai.responses.retrieve(id)).output_text).toBe("w0 w1 ");
    await upstream.release(m);
  });

  it("frees its conversation for the next turn at once: a create refused by its claim asks its object, which ends it", async () => {
    const openai = client();
    const conversation = await openai.conversations.create();
    // Killed while queued (the upstream has not answered), with nobody reading it afterwards.
    const m = model("gate:0:3");
    const held = await openai.responses.create({
      model: m,
      input: "x",
      background: true,
      conversation: conversation.id,
    });
    expect(held.status).toBe("queued");
    await resetInstance(held.id);
    expect(await d1Status(held.id)).toBe("queued");
    // Not `conversation_locked` for the claim's minute-long lease: the lost run is ended first.
    const next = await openai.responses.create({ model: model("text:2"), input: "y", conversation: conversation.id });
    expect(next).toMatchObject({ status: "completed", output_text: "w0 w1 " });
    expect(await d1Status(held.id)).toBe("failed");
    const background = await openai.responses.create({
      model: model("text:1"),
      input: "z",
      background: true,
      conversation: conversation.id,
    });
    await until(
      () => openai.responses.retrieve(background.id),
      (response) => response.status === "completed",
      "the background turn to complete",
    );
    // The failed turn appends nothing; the two that ran are in the conversation.
    const items = await openai.conversations.items.list(conversation.id, { order: "asc" });
    expect(items.data.map((item) => item.type)).toEqual(["message", "message", "message", "message"]);
    await upstream.release(m);
  });

  it("a background run flushes its events every 2 s while readers are attached, not only each flush interval", async () => {
    const m = model("gate:6:10");
    const spec = await specOf({ model: m, input: "x", background: true });
    // A minute between heartbeats: only the readers' flushes can bring the events to D1 within the wait.
    const config = { ...readConfig(env), recordFlushMs: 60_000, recordStartMs: 60_000 };
    const tasks: Promise<unknown>[] = [];
    const run = await BackgroundRun.start(
      spec,
      { db: await tenantDb(env, spec.tenantId), config },
      {
        beforeEnd: () => Promise.resolve(),
        afterEnd: () => Promise.resolve(),
        background: (task) => void tasks.push(task),
      },
    );
    const reader = run.live.tail(-1).pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes('"delta":"w1 "')) text += (await reader.read()).value ?? "";
    expect(text.split("\n\n").filter((frame) => frame.includes("data: "))).toHaveLength(7);
    // Held at the gate, the run has sent its reader 7 events; D1 gets them within the readers' 2 s.
    await recorded(spec.responseId, 7);
    await reader.cancel();
    await upstream.release(m);
    await until(
      async () => (run.ended === undefined ? undefined : await run.ended),
      (ending) => ending !== undefined,
      "the run to end",
    );
    await Promise.all(tasks);
  });

  it("a graceful eviction waits for a live run instead of cutting it (the run keeps its object busy)", async () => {
    const openai = client();
    const { model: m, id } = await heldBackground(openai, "gate:6:8");
    let evicted = false;
    const eviction = evictDurableObject(await runStub(id)).then(() => (evicted = true));
    expect((await openai.responses.retrieve(id)).status).toBe("in_progress");
    expect(evicted).toBe(false);
    await upstream.release(m);
    await eviction;
    const ended = await openai.responses.retrieve(id);
    expect(ended.status).toBe("completed");
    expect(ended.output_text).toBe("w0 w1 w2 w3 w4 w5 w6 w7 ");
    expect(await d1Status(id)).toBe("completed");
  });

  it("the keepalive alarm leaves a healthy run alone and is set again; a finished run leaves no alarm", async () => {
    const openai = client();
    const { model: m, id } = await heldBackground(openai, "gate:6:8");
    expect(await runDurableObjectAlarm(await runStub(id))).toBe(true);
    expect((await openai.responses.retrieve(id)).status).toBe("in_progress");
    expect(await alarmOf(id)).toBeGreaterThan(Date.now());
    await upstream.release(m);
    await until(
      () => openai.responses.retrieve(id),
      (response) => response.status === "completed",
      "completion",
    );
    // No webhook is due (this tenant has no endpoint and the test deployment's default is for others).
    await until(
      () => alarmOf(id),
      (alarm) => alarm === null,
      "the alarm to go",
    );
  });
});

describe("a foreground run whose Worker stopped mid-stream", () => {
  /**
   * What a Worker stopped mid-stream leaves: the row, its events recorded (in a batch row, or in the
   * row's tail by a timed flush), and then silence.
   */
  async function abandonedRun(recordedIn: "batch" | "tail" = "batch"): Promise<string> {
    const spec = await specOf({ model: "abandoned", input: "x", stream: true });
    const db = await tenantDb(env, spec.tenantId);
    const base = newResponseObject(spec.request, { id: spec.responseId, createdAt: spec.createdAt }, "in_progress");
    const recorder = new ResponseRecorder({
      db,
      responseId: spec.responseId,
      tenantId: spec.tenantId,
      flushIntervalMs: recordedIn === "batch" ? 60_000 : 50,
      flushChars: recordedIn === "batch" ? 1 : 1024 * 1024,
      conversationId: null,
      onError: () => undefined,
    });
    await recorder.start(
      encodeRow(
        testRow({
          id: spec.responseId,
          tenantId: spec.tenantId,
          model: spec.request.model,
          createdAt: spec.createdAt,
          snapshot: base,
        }),
      ),
    );
    const events = halfAnswerEvents(spec.request, { id: spec.responseId, createdAt: spec.createdAt }, base);
    // flushChars 1: the batch goes to D1 at once; or the next timed flush writes the row's tail. Then the "Worker" stops.
    recorder.record(framesOf(events));
    await until(
      () => d1Row(spec.responseId),
      (row) => row?.event_count === events.length,
      "the events in D1",
    );
    await recorder.stop();
    return spec.responseId;
  }

  it.each(["batch", "tail"] as const)(
    "is ended failed by the sweep once its heartbeat is silent, partial output and log kept (events in a %s)",
    async (recordedIn) => {
      const id = await abandonedRun(recordedIn);
      await runCron();
      expect(await d1Status(id)).toBe("in_progress");
      await runEverywhere("UPDATE responses SET updated_at = updated_at - 120 WHERE id = ?", id);
      await runCron();
      expect(await d1Status(id)).toBe("failed");
      const ended = await client().responses.retrieve(id);
      expect(ended).toMatchObject({ status: "failed", error: { message: INTERRUPTED } });
      expect(ended.output_text).toBe("half");
      const events = await rawEvents(`/responses/${id}?stream=true`);
      expect(events.map((event) => event.type)).toEqual([
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        // The answer it left open is finished `incomplete` before the failure, as a cut's is.
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "error",
        "response.failed",
      ]);
      expect(events.at(-3)?.item).toMatchObject({ status: "incomplete" });
    },
  );

  it("is ended by an idempotent JSON retry waiting for it once its heartbeat is silent, as by a read", async () => {
    const id = await abandonedRun();
    await runEverywhere("UPDATE responses SET updated_at = updated_at - 120 WHERE id = ?", id);
    // The Idempotency-Key its create claimed (the request hash: the body's canonical JSON).
    const key = crypto.randomUUID();
    const body = { input: "x", model: "abandoned" };
    const hash = await sha256Hex(JSON.stringify(body));
    const now = Math.floor(Date.now() / 1000);
    await runEverywhere(
      "INSERT INTO idempotency_keys (tenant_id, key, request_hash, response_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
      await tenantOf(KEY),
      key,
      hash,
      id,
      now - 120,
      now + 3600,
    );
    const retried = await client(KEY).responses.create(body, { headers: { "Idempotency-Key": key } });
    expect(retried).toMatchObject({ id, status: "failed", output_text: "half" });
  });

  it("is ended by the first read once its heartbeat is silent", async () => {
    const id = await abandonedRun();
    expect((await client().responses.retrieve(id)).status).toBe("in_progress");
    await runEverywhere("UPDATE responses SET updated_at = updated_at - 120 WHERE id = ?", id);
    const read = await client().responses.retrieve(id);
    expect(read).toMatchObject({ status: "failed", output_text: "half" });
  });
});

describe("upstream silence and the maximum run time", () => {
  it("an upstream that goes silent mid-stream ends failed after the idle timeout, partial output kept", async () => {
    const openai = client();
    const m = model("hang-after:5");
    const events = await rawEvents("/responses", { model: m, input: "x", background: true, stream: true });
    expect(events.slice(-2).map((event) => event.type)).toEqual(["error", "response.failed"]);
    const id = responseIdOf(events[0]);
    const ended = await openai.responses.retrieve(id);
    expect(ended).toMatchObject({ status: "failed" });
    expect(ended.error).toEqual({
      code: "server_error",
      message: "The upstream stream was idle for more than 3 seconds.",
      type: "server_error",
      param: null,
    });
    expect(ended.output_text).toBe("a");
    // The mock notes the closed connection on its own time.
    await until(
      () => upstream.closedEarly(m),
      (closed) => closed === 1,
      "the upstream connection to close",
    );
  });

  it("an upstream that never answers ends failed after the first-byte timeout", async () => {
    const openai = client();
    const m = model("hang-headers");
    const events = await rawEvents("/responses", { model: m, input: "x", background: true, stream: true });
    expect(events.map((event) => event.type)).toEqual([
      "response.created",
      "response.queued",
      "response.in_progress",
      "error",
      "response.failed",
    ]);
    const id = responseIdOf(events[0]);
    expect(await openai.responses.retrieve(id)).toMatchObject({
      status: "failed",
      output: [],
      error: { code: "upstream_timeout", type: "server_error", param: null },
    });
  });

  // The runners are driven directly, with MAX_RUN_SECONDS at 1 s (the deployment's stays at an hour).
  it("a foreground run past MAX_RUN_SECONDS is stopped: upstream closed, failed, partial output kept", async () => {
    const m = model("gate:6:10");
    const spec = await specOf({ model: m, input: "x", stream: true });
    const ctx = createExecutionContext();
    const config = { ...readConfig(env), maxRunMs: 1000 };
    const logs = captureLogLines();
    const response = await runStoredForeground({ env, ctx, config }, spec);
    const events = await readEvents(response.body);
    await waitOnExecutionContext(ctx);
    // The client's code is OpenAI's `server_error`; the operator's line says it was the deadline.
    const [line] = await logs.wait({ event: "response_end", response_id: spec.responseId });
    logs.stop();
    expect(line).toMatchObject({ error_code: "server_error", failed_by: "max_run_time" });
    expect(events.slice(-2).map((event) => event.type)).toEqual(["error", "response.failed"]);
    const ended = await client().responses.retrieve(spec.responseId);
    expect(ended).toMatchObject({ status: "failed" });
    expect(ended.error).toEqual({
      code: "server_error",
      message: "The response exceeded the maximum run time of 1 seconds.",
      type: "server_error",
      param: null,
    });
    expect(ended.output_text).toBe("w0 w1 ");
    await until(
      () => upstream.closedEarly(m),
      (closed) => closed === 1,
      "the upstream connection to close",
    );
  });

  it("a background run past MAX_RUN_SECONDS is stopped the same way", async () => {
    const m = model("gate:6:10");
    const spec = await specOf({ model: m, input: "x", background: true });
    const config = { ...readConfig(env), maxRunMs: 1000 };
    const tasks: Promise<unknown>[] = [];
    const run = await BackgroundRun.start(
      spec,
      { db: await tenantDb(env, spec.tenantId), config },
      {
        beforeEnd: () => Promise.resolve(),
        afterEnd: () => Promise.resolve(),
        background: (task) => void tasks.push(task),
      },
    );
    // Polls until the run is ending, then waits for its end.
    const final = await until(
      async () => (run.ended === undefined ? undefined : await run.ended),
      (ending) => ending !== undefined,
      "the run to end",
    );
    expect(final).toMatchObject({
      status: "failed",
      error: { message: "The response exceeded the maximum run time of 1 seconds." },
    });
    await Promise.all(tasks);
    expect(await client().responses.retrieve(spec.responseId)).toMatchObject({
      status: "failed",
      output_text: "w0 w1 ",
    });
  });
});
