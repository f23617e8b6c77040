// What D1 keeps of a stored response: one row (input, snapshot, output and the events not in a batch
// row compressed in it) however many events it has, a running row's tail rewritten by each flush,
// batch rows only once a run's events pass the size limit, and values too large for a row split into
// parts that each fit, read back whole.

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { readConfig } from "../../src/config";
import { findResponse } from "../../src/db/responses";
import { tenantDb } from "../../src/db/shards";
import { foldEvents } from "../../src/responses/fold";
import { validateCreateRequest } from "../../src/responses/create-request";
import { newResponseId } from "../../src/responses/ids";
import type { StreamEvent } from "../../src/responses/types";
import type { RunSpec } from "../../src/run/spec";
import { runStoredForeground } from "../../src/stream/foreground";
import { chooseUpstream } from "../../src/upstream/registry";
import { client, model, rawEvents, readEvents, upstream } from "../support/gateway";
import { until } from "../support/hooks";
import { tenantOf } from "../support/run-object";
import { recordingEnv } from "../support/recording-db";
import { countAll, firstRow, keyD1 } from "../support/shards";

const KEY = "sk-test-storage";

async function rowCounts(id: string) {
  const [responses, batches, blobs] = await Promise.all([
    countAll("SELECT count(*) AS n FROM responses WHERE id = ?", id),
    countAll("SELECT count(*) AS n FROM response_event_batches WHERE response_id = ?", id),
    countAll("SELECT count(*) AS n FROM blobs WHERE owner_id = ?", id),
  ]);
  return { responses, batches, blobs };
}

/** Bytes the response's row holds in its compressed columns. */
async function storedBytes(id: string): Promise<number> {
  const row = await firstRow<{ n: number }>(
    `SELECT coalesce(length(input), 0) + coalesce(length(snapshot), 0) + coalesce(length(output), 0)
            + coalesce(length(events_tail), 0) AS n FROM responses WHERE id = ?`,
    id,
  );
  return row?.n ?? 0;
}

/** Starts a stored stream (or JSON create) in the Worker's foreground path with the recorder's settings given. */
async function started(
  m: string,
  recorder: { recordFlushMs: number; recordFlushChars?: number; recordStartMs?: number },
  workerEnv = env,
  stream = true,
) {
  const request = validateCreateRequest({ model: m, input: "x", stream });
  const spec: RunSpec = {
    responseId: newResponseId(),
    tenantId: await tenantOf(KEY),
    apiKeyId: null,
    requestId: "req_storage",
    createdAt: Math.floor(Date.now() / 1000),
    request,
    upstream: chooseUpstream(readConfig(env), m, KEY),
  };
  const ctx = createExecutionContext();
  const response = await runStoredForeground(
    { env: workerEnv, ctx, config: { ...readConfig(env), ...recorder } },
    spec,
  );
  return { spec, response, ended: () => waitOnExecutionContext(ctx) };
}

/** Runs a stored stream with a flush interval longer than it lasts: every event rides its end. */
async function streamed(m: string): Promise<{ id: string; frames: number; frameBytes: number }> {
  const { spec, response, ended } = await started(m, { recordFlushMs: 60_000 });
  const text = await response.text();
  await ended();
  return {
    id: spec.responseId,
    frames: text.split("\n\n").length - 1,
    frameBytes: new TextEncoder().encode(text).length,
  };
}

describe("D1 recording", () => {
  it("keeps a response in one row whatever its number of events, compressed", async () => {
    for (const [scenario, events] of [
      ["text:10", 18],
      ["text:1000", 1008],
    ] as const) {
      const { id, frames, frameBytes } = await streamed(model(scenario));
      expect(frames).toBe(events);
      expect(await rowCounts(id)).toEqual({ responses: 1, batches: 0, blobs: 0 });
      const row = await firstRow("SELECT event_count, status FROM responses WHERE id = ?", id);
      expect(row).toEqual({ event_count: events, status: "completed" });
      // The row holds the input, the snapshot, the output and every event in a fraction of the stream's bytes.
      if (events > 100) expect(await storedBytes(id)).toBeLessThan(frameBytes * 0.1);
      const replay = await rawEvents(KEY, `/responses/${id}?stream=true`);
      expect(replay).toHaveLength(events);
      const stored = await client(KEY).responses.retrieve(id);
      const { output_text: _text, ...snapshot } = stored;
      expect(foldEvents(replay as StreamEvent[])).toEqual(snapshot);
    }
  });

  it("rewrites its one row's tail while a run outlasts the flush interval; batch rows only past the size limit", async () => {
    for (const [flushChars, batched] of [
      [1024 * 1024, false],
      [300, true],
    ] as const) {
      const m = model("gate:6:12");
      const { spec, response, ended } = await started(m, { recordFlushMs: 200, recordFlushChars: flushChars });
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (text.split("\n\n").length - 1 < 6) text += (await reader.read()).value ?? "";
      // A flush lands while the run holds: its events are in D1, the row still the only one without a size flush.
      const running = await until(
        () =>
          firstRow<{ event_count: number; tail_seq: number | null }>(
            "SELECT event_count, tail_seq FROM responses WHERE id = ?",
            spec.responseId,
          ),
        (row) => (row?.event_count ?? 0) >= 6,
        "a progress flush",
      );
      const counts = await rowCounts(spec.responseId);
      if (batched) expect(counts.batches).toBeGreaterThan(0);
      else {
        expect(counts).toEqual({ responses: 1, batches: 0, blobs: 0 });
        expect(running?.tail_seq).toBe(0);
      }
      // A resume mid-run reads the flushed events from the row's tail or the batch rows alike.
      const partial = await client(KEY).responses.retrieve(spec.responseId);
      expect(partial.status).toBe("in_progress");
      expect(partial.output_text).toBe("w0 w1 ");
      await upstream.release(m);
      for (let next = await reader.read(); next.done !== true; next = await reader.read()) text += next.value;
      await ended();
      if (!batched) expect(await rowCounts(spec.responseId)).toEqual({ responses: 1, batches: 0, blobs: 0 });
      const frames = text.split("\n\n").slice(0, -1);
      const replay = await rawEvents(KEY, `/responses/${spec.responseId}?stream=true`);
      expect(replay).toEqual(frames.map((frame) => JSON.parse(frame.slice(frame.indexOf("data: ") + 6)) as unknown));
    }
  });

  it("writes a stream's row within a second of its upstream answering, events or not, its snapshot as text until the end compresses it; reads an ended row without its events", async () => {
    const m = model("gate:0:3");
    const { spec, response, ended } = await started(m, { recordFlushMs: 60_000 });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const snapshotType = async () =>
      (await firstRow<{ t: string }>("SELECT typeof(snapshot) AS t FROM responses WHERE id = ?", spec.responseId))?.t;
    // The upstream answered and holds its first event: the row is written anyway, and reads answer from it.
    await until(snapshotType, (type) => type !== undefined, "the row of a stream that has sent no event", 5_000);
    expect(await snapshotType()).toBe("text");
    const running = await client(KEY).responses.retrieve(spec.responseId);
    expect(running).toMatchObject({ id: spec.responseId, status: "in_progress", output: [] });
    await upstream.release(m);
    let text = "";
    for (let next = await reader.read(); next.done !== true; next = await reader.read()) text += next.value;
    await ended();
    expect(await snapshotType()).toBe("blob");
    const frames = text.split("\n\n").slice(0, -1);
    expect(frames.at(-1)).toContain("response.completed");
    const stored = await client(KEY).responses.retrieve(spec.responseId);
    expect(stored).toMatchObject({ status: "completed", output_text: "w0 w1 w2 " });
    // An ended row is read without its events (a retrieve needs none); a replay reads them apart.
    const db = await tenantDb(env, spec.tenantId);
    expect(await findResponse(db, spec.tenantId, spec.responseId)).toMatchObject({ eventsTail: null, tailSeq: 0 });
    const replay = await rawEvents(KEY, `/responses/${spec.responseId}?stream=true`);
    expect(replay).toEqual(frames.map((frame) => JSON.parse(frame.slice(frame.indexOf("data: ") + 6)) as unknown));
  });

  it("writes a waiting row at once when a batch's worth of events waits for it, not only when its time is up", async () => {
    const m = model("gate:6:12");
    // Neither the row's time nor the flush interval comes within the test: only the events' size can start the write.
    const { spec, response, ended } = await started(m, {
      recordFlushMs: 60_000,
      recordFlushChars: 300,
      recordStartMs: 60_000,
    });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (text.split("\n\n").length - 1 < 6) text += (await reader.read()).value ?? "";
    const running = await until(
      () => firstRow<{ status: string }>("SELECT status FROM responses WHERE id = ?", spec.responseId),
      (row) => row?.status !== undefined,
      "the row of a run whose events passed the size limit",
    );
    expect(running?.status).toBe("in_progress");
    await upstream.release(m);
    for (let next = await reader.read(); next.done !== true; next = await reader.read()) text += next.value;
    await ended();
    const frames = text.split("\n\n").slice(0, -1);
    const replay = await rawEvents(KEY, `/responses/${spec.responseId}?stream=true`);
    expect(replay).toEqual(frames.map((frame) => JSON.parse(frame.slice(frame.indexOf("data: ") + 6)) as unknown));
    expect(await client(KEY).responses.retrieve(spec.responseId)).toMatchObject({ status: "completed" });
  });

  it("writes a stream (or JSON create) that ends within its first second in one statement of one batch, its row as it ended; a longer one's row apart, a second in", async () => {
    const short = recordingEnv();
    const quick = await started(model("text:3"), { recordFlushMs: 60_000 }, short.env);
    expect(await quick.response.text()).toContain("response.completed");
    await quick.ended();
    const rowWrites = (batches: string[][]) =>
      batches.filter((sqls) => sqls.some((sql) => /^(insert into|update) "responses"/.test(sql)));
    const quickWrites = rowWrites(short.batches);
    // One statement writes the row, as it ended.
    expect(quickWrites).toHaveLength(1);
    expect(quickWrites[0]!.filter((sql) => /^(insert into|update) "responses"/.test(sql))).toHaveLength(1);
    expect(quickWrites[0]!.at(-1)).toMatch(/^insert into "responses"/);
    expect(await client(KEY).responses.retrieve(quick.spec.responseId)).toMatchObject({
      status: "completed",
      output_text: "w0 w1 w2 ",
    });
    // So does a JSON create.
    const json = recordingEnv();
    const answered = await started(model("text:3"), { recordFlushMs: 60_000 }, json.env, false);
    expect(await answered.response.json()).toMatchObject({ status: "completed", output: [{ type: "message" }] });
    await answered.ended();
    expect(rowWrites(json.batches)).toHaveLength(1);
    expect(rowWrites(json.batches)[0]!.at(-1)).toMatch(/^insert into "responses"/);

    const long = recordingEnv();
    const m = model("gate:2:4");
    const held = await started(m, { recordFlushMs: 60_000 }, long.env);
    const reader = held.response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("response.in_progress")) text += (await reader.read()).value ?? "";
    // Its first events are out and it is held: a second into the upstream call, its row is written on its own.
    await until(
      () => Promise.resolve(rowWrites(long.batches).length),
      (n) => n === 1,
      "the row's own write",
      5_000,
    );
    await upstream.release(m);
    for (let next = await reader.read(); next.done !== true; next = await reader.read()) text += next.value;
    await held.ended();
    expect(text).toContain("response.completed");
    const writes = rowWrites(long.batches);
    expect(writes).toHaveLength(2);
    expect(writes[0]!.at(-1)).toMatch(/^insert into "responses"/);
    expect(writes[1]!.at(-1)).toMatch(/^update "responses"/);
  });

  it("splits what is too large for a row over parts that fit, and reads it back whole", async () => {
    const openai = client(KEY);
    const final = await openai.responses.stream({ model: model("noise:3000000"), input: "x" }).finalResponse();
    expect(final.output_text).toHaveLength(3_000_000);
    const stored = await openai.responses.retrieve(final.id);
    expect(stored.output_text).toBe(final.output_text);
    const replay = await readEvents(
      (await client(KEY).responses.retrieve(final.id, { stream: true }).asResponse()).body,
    );
    expect(foldEvents(replay as unknown as StreamEvent[])?.output).toEqual(stored.output);
    const counts = await rowCounts(final.id);
    expect(counts.blobs).toBeGreaterThan(1);
    expect(counts.batches).toBeGreaterThan(1);
    const d1 = await keyD1(KEY);
    const largest = await d1.batch<{ n: number }>([
      d1.prepare("SELECT max(length(data)) AS n FROM blobs WHERE owner_id = ?").bind(final.id),
      d1.prepare("SELECT max(length(data)) AS n FROM response_event_batches WHERE response_id = ?").bind(final.id),
    ]);
    for (const result of largest) expect(result.results[0]?.n).toBeLessThanOrEqual(1_900_000);
  });
});
