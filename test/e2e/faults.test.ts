// Nothing stays in progress: a run whose Durable Object instance is lost, whose upstream hangs or
// which outlives MAX_RUN_SECONDS ends in a terminal status, with its partial output kept.
//
// How a lost instance is simulated: `evictDurableObject` is a graceful eviction. It waits (up to
// 30 s, then rejects) until the object has no request or `waitUntil` work left, and a live run is
// such work, so it can never cut a run: that is also how production behaves, where idle eviction
// spares an object with pending I/O. What does cut a run in production is a reset: a deploy, a
// crash, or the runtime evicting the object anyway (after the 15 minutes pending I/O keeps it).
// `ctx.abort()` on that one object is exactly such a reset: the instance and everything in flight
// are dropped, storage is kept.

import { runDurableObjectAlarm, evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { client, heldBackground, model, rawEvents as rawEventsOf, upstream } from "../support/gateway";
import { until } from "../support/hooks";
import { alarmOf, editRunState, resetInstance, runStub as stub } from "../support/run-object";
import { responseIdOf } from "../support/streams";

const KEY = "sk-test-tenant-a";

/** Raw SSE events (the SDK's stream throws at the `error` event that precedes `response.failed`). */
const rawEvents = (path: string, body?: unknown) => rawEventsOf(KEY, path, body);

async function d1Status(id: string): Promise<string | undefined> {
  return (await env.DB.prepare("SELECT status FROM responses WHERE id = ?").bind(id).first<{ status: string }>())
    ?.status;
}

describe("nothing stays in progress", () => {
  it("a run whose instance is lost mid-stream is ended failed by the watchdog alarm, partial output kept", async () => {
    const openai = client();
    const { model: m, id } = await heldBackground(openai, "gate:6:10");
    await resetInstance(id);
    // The instance took its upstream connection with it.
    await until(
      () => upstream.closedEarly(m),
      (closed) => closed === 1,
      "the upstream connection to close",
    );
    expect(await d1Status(id)).not.toMatch(/completed|failed|cancelled|incomplete/);
    // The watchdog alarm (due within RUN_WATCHDOG_SECONDS) wakes a fresh instance, which ends the run.
    expect(await runDurableObjectAlarm(stub(id))).toBe(true);
    expect(await d1Status(id)).toBe("failed");
    const ended = await openai.responses.retrieve(id);
    expect(ended).toMatchObject({
      status: "failed",
      error: {
        code: "server_error",
        message: "The response was interrupted before it finished; its partial output is kept.",
      },
    });
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

  it("a lost run is also ended by the first read of it, before the alarm comes", async () => {
    const openai = client();
    const { model: m, id } = await heldBackground(openai, "gate:6:10");
    await resetInstance(id);
    const polled = await openai.responses.retrieve(id);
    expect(polled.status).toBe("failed");
    expect(polled.output_text).toBe("w0 w1 ");
    expect(await d1Status(id)).toBe("failed");
    await upstream.release(m);
  });

  it("a graceful eviction waits for a live run instead of cutting it (the run keeps its object busy)", async () => {
    const openai = client();
    const { model: m, id } = await heldBackground(openai, "gate:6:8");
    let evicted = false;
    const eviction = evictDurableObject(stub(id)).then(() => (evicted = true));
    expect((await openai.responses.retrieve(id)).status).toBe("in_progress");
    expect(evicted).toBe(false);
    await upstream.release(m);
    await eviction;
    const ended = await openai.responses.retrieve(id);
    expect(ended.status).toBe("completed");
    expect(ended.output_text).toBe("w0 w1 w2 w3 w4 w5 w6 w7 ");
    expect(await d1Status(id)).toBe("completed");
  });

  it("an upstream that goes silent mid-stream ends failed after the idle timeout, partial output kept", async () => {
    const openai = client();
    const m = model("hang-after:5");
    const events = await rawEvents("/responses", { model: m, input: "x", background: true, stream: true });
    expect(events.slice(-2).map((event) => event.type)).toEqual(["error", "response.failed"]);
    const id = responseIdOf(events[0]);
    const ended = await openai.responses.retrieve(id);
    expect(ended).toMatchObject({
      status: "failed",
      error: { code: "server_error", message: "The upstream stream was idle for more than 3 seconds." },
    });
    expect(ended.output_text).toBe("a");
    expect(await upstream.closedEarly(m)).toBe(1);
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
      error: { code: "upstream_timeout" },
    });
  });

  it("a run past MAX_RUN_SECONDS is stopped by the watchdog: the upstream is closed, the response failed", async () => {
    const openai = client();
    const { model: m, id } = await heldBackground(openai, "gate:6:10");
    // Stands in for an hour passing: the run's recorded deadline is moved to now.
    await editRunState<{ deadlineAt: number; startedAt: number }>(id, (run) => {
      run.deadlineAt = Date.now();
      run.startedAt = run.deadlineAt - 3_600_000;
    });
    expect(await runDurableObjectAlarm(stub(id))).toBe(true);
    const ended = await openai.responses.retrieve(id);
    expect(ended).toMatchObject({
      status: "failed",
      error: { code: "server_error", message: "The response exceeded the maximum run time of 3600 seconds." },
    });
    expect(ended.output_text).toBe("w0 w1 ");
    await until(
      () => upstream.closedEarly(m),
      (closed) => closed === 1,
      "the upstream connection to close",
    );
    expect(await d1Status(id)).toBe("failed");
  });

  it("the watchdog leaves a healthy run alone and keeps its alarm set", async () => {
    const openai = client();
    const { model: m, id } = await heldBackground(openai, "gate:6:8");
    expect(await runDurableObjectAlarm(stub(id))).toBe(true);
    expect((await openai.responses.retrieve(id)).status).toBe("in_progress");
    const alarm = await alarmOf(id);
    expect(alarm).toBeGreaterThan(Date.now());
    await upstream.release(m);
    await until(
      () => openai.responses.retrieve(id),
      (response) => response.status === "completed",
      "completion",
    );
  });
});
