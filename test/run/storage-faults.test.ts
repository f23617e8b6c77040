// D1 faults during a run, injected with SQLite triggers that make D1 refuse a write: the client's
// stream never waits for D1 and loses nothing (it is served from the Durable Object's own log),
// reads by id answer from the object while D1 lags, and the object's alarm catches D1 up: the
// log in D1 is complete and gap-free, the stored snapshot equals the fold of that log.

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type OpenAI from "openai";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { foldEvents } from "../../src/responses/fold";
import type { StreamEvent } from "../../src/responses/types";
import { client, model, upstream } from "../support/gateway";
import { hookUrl, received, until } from "../support/hooks";
import { watchUnhandled } from "../support/uncaught";

const KEY = "sk-test-storage-faults";
const stub = (id: string) => env.RESPONSE_RUN.getByName(id);

/** What the run logs while D1 refuses (each names the injected refusal); nothing else may be logged. */
const D1_REFUSALS = [
  /^D1 write failed: .*refused_/,
  /^response row write failed.*: .*refused_/,
  /^the end of the run could not be recorded/,
];
const watch = watchUnhandled();
afterEach(() => watch.expectNone(D1_REFUSALS));
afterAll(() => watch.stop());

/** Makes D1 refuse inserts into `table` for responses of model `m` until the returned function runs. */
async function refuse(
  table: "responses" | "response_events",
  m: string,
): Promise<{ tag: string; lift: () => Promise<void> }> {
  const tag = `refused_${crypto.randomUUID().replaceAll("-", "")}`;
  const when =
    table === "responses" ? `NEW.model = '${m}'` : `NEW.response_id IN (SELECT id FROM responses WHERE model = '${m}')`;
  await env.DB.exec(
    `CREATE TRIGGER ${tag} BEFORE INSERT ON ${table} WHEN ${when} BEGIN SELECT RAISE(ABORT, '${tag}'); END;`,
  );
  return { tag, lift: async () => void (await env.DB.exec(`DROP TRIGGER IF EXISTS ${tag};`)) };
}

/** Waits until the run logged that D1 refused a write marked `tag`. */
const refusedAt = (tag: string, what: RegExp) =>
  until(
    () => Promise.resolve(watch.logged().filter((line) => line.includes(tag) && what.test(line))),
    (lines) => lines.length > 0,
    `a refusal of ${what} (${tag})`,
  );

async function row(id: string) {
  return env.DB.prepare("SELECT status, event_count FROM responses WHERE id = ?")
    .bind(id)
    .first<{ status: string; event_count: number }>();
}

/** The event rows D1 holds for `id` cover 0..count-1 exactly once, in order. */
async function expectGapFreeInD1(id: string, count: number) {
  const { results } = await env.DB.prepare(
    "SELECT first_seq, last_seq FROM response_events WHERE response_id = ? AND part = 0 ORDER BY first_seq",
  )
    .bind(id)
    .all<{ first_seq: number; last_seq: number }>();
  let next = 0;
  for (const range of results) {
    expect(range.first_seq).toBe(next);
    next = range.last_seq + 1;
  }
  expect(next).toBe(count);
}

async function collect(stream: AsyncIterable<ResponseStreamEvent>): Promise<ResponseStreamEvent[]> {
  const events: ResponseStreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

/** Everything the client saw is in D1, gap-free; the replay equals it; the snapshot equals its fold. */
async function expectCaughtUp(openai: OpenAI, id: string, seen: ResponseStreamEvent[]) {
  expect(await row(id)).toEqual({ status: seen.at(-1)?.type.replace("response.", ""), event_count: seen.length });
  await expectGapFreeInD1(id, seen.length);
  const replay = await collect(await openai.responses.retrieve(id, { stream: true }));
  expect(replay).toEqual(seen);
  const { output_text: _text, ...stored } = await openai.responses.retrieve(id);
  expect(foldEvents(replay as unknown as StreamEvent[])).toEqual(stored);
}

describe("D1 refuses writes during a run", () => {
  it("refused event flushes: the client still gets every event, and D1 gets them all with the terminal write", async () => {
    const openai = client(KEY);
    // 10 deltas of 70,000 characters: more than FLUSH_CHARS (256 KiB) pending after the 4th.
    const m = model("gate:9:10:70000");
    const { tag, lift } = await refuse("response_events", m);
    const stream = await openai.responses.create({ model: m, input: "x", stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    const seen: ResponseStreamEvent[] = [];
    while (seen.length < 9) seen.push((await iterator.next()).value as ResponseStreamEvent);
    await refusedAt(tag, /^D1 write failed/);
    const id = (seen[0] as { response: { id: string } }).response.id;
    expect(await row(id)).toEqual({ status: "in_progress", event_count: 0 });
    // A second reader gets the same events from the object's log meanwhile.
    const follower = openai.responses.retrieve(id, { stream: true }).then(collect);
    await lift();
    await upstream.release(m);
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) seen.push(next.value);
    expect(seen.map((event) => event.sequence_number)).toEqual(seen.map((_, index) => index));
    expect(seen.at(-1)?.type).toBe("response.completed");
    expect(await follower).toEqual(seen);
    await expectCaughtUp(openai, id, seen);
  });

  it("a refused terminal write: the client still gets the end; reads answer from the object; the alarm catches D1 up", async () => {
    const openai = client(KEY);
    const m = model("text:5");
    const { tag, lift } = await refuse("response_events", m);
    const seen = await collect(await openai.responses.create({ model: m, input: "x", stream: true }));
    expect(seen.at(-1)?.type).toBe("response.completed");
    await refusedAt(tag, /^D1 write failed/);
    const id = (seen[0] as { response: { id: string } }).response.id;
    // D1 lags: its row is not final yet, and has no events.
    expect(await row(id)).toEqual({ status: "in_progress", event_count: 0 });
    // Reads by id answer from the object, which has everything.
    expect((await openai.responses.retrieve(id)).status).toBe("completed");
    expect(await collect(await openai.responses.retrieve(id, { stream: true }))).toEqual(seen);
    // A retry while D1 still refuses changes nothing and loses nothing.
    expect(await runDurableObjectAlarm(stub(id))).toBe(true);
    expect(await row(id)).toEqual({ status: "in_progress", event_count: 0 });
    await lift();
    expect(await runDurableObjectAlarm(stub(id))).toBe(true);
    await expectCaughtUp(openai, id, seen);
  });

  it("a background response's webhook waits for D1 to have its end, then is delivered", async () => {
    const openai = client(`${KEY}-${crypto.randomUUID()}`);
    const url = hookUrl("ok");
    await openai.webhooks.create({ url, name: "receiver", event_types: ["response.completed"] });
    const m = model("text:3");
    const { tag, lift } = await refuse("response_events", m);
    const created = await openai.responses.create({ model: m, input: "x", background: true });
    await refusedAt(tag, /^D1 write failed/);
    await until(
      () => openai.responses.retrieve(created.id),
      (response) => response.status === "completed",
      "the end of the run",
    );
    // Deliveries are planned only by the alarm, once D1 has the end: none yet.
    expect((await openai.get<{ data: unknown[] }>(`/responses/${created.id}/webhook_deliveries`)).data).toEqual([]);
    await lift();
    expect(await runDurableObjectAlarm(stub(created.id))).toBe(true);
    expect((await row(created.id))?.status).toBe("completed");
    const hooks = await until(
      () => received(url),
      (list) => list.length === 1,
      "the webhook",
    );
    expect(JSON.parse(hooks[0]?.body ?? "{}")).toMatchObject({ type: "response.completed", data: { id: created.id } });
  });

  it("a refused response row: the stream goes on; reads by id answer from the object; the alarm writes it all later", async () => {
    const openai = client(KEY);
    const m = model("gate:6:4");
    const { tag, lift } = await refuse("responses", m);
    const stream = await openai.responses.create({ model: m, input: "hello", stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    const seen: ResponseStreamEvent[] = [];
    while (seen.length < 6) seen.push((await iterator.next()).value as ResponseStreamEvent);
    const id = (seen[0] as { response: { id: string } }).response.id;
    await refusedAt(tag, /^response row write failed/);
    expect(await row(id)).toBeNull();
    // D1 has no row, yet the response is found: its object answers for it.
    expect(await openai.responses.retrieve(id)).toMatchObject({ status: "in_progress", output_text: "w0 w1 " });
    expect((await openai.responses.inputItems.list(id)).data).toMatchObject([
      { type: "message", role: "user", content: [{ type: "input_text", text: "hello" }] },
    ]);
    await expect(openai.responses.cancel(id)).rejects.toMatchObject({ status: 400 });
    await upstream.release(m);
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) seen.push(next.value);
    expect(seen.at(-1)?.type).toBe("response.completed");
    expect(await row(id)).toBeNull();
    expect((await openai.responses.retrieve(id)).status).toBe("completed");
    expect(await collect(await openai.responses.retrieve(id, { stream: true }))).toEqual(seen);
    await lift();
    expect(await runDurableObjectAlarm(stub(id))).toBe(true);
    await expectCaughtUp(openai, id, seen);
    expect((await openai.responses.inputItems.list(id)).data).toHaveLength(1);
  });

  it("a refused response row is written by the watchdog alarm while the run goes on", async () => {
    const openai = client(KEY);
    const m = model("gate:6:8");
    const { tag, lift } = await refuse("responses", m);
    const stream = await openai.responses.create({ model: m, input: "x", stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    const seen: ResponseStreamEvent[] = [];
    while (seen.length < 6) seen.push((await iterator.next()).value as ResponseStreamEvent);
    const id = (seen[0] as { response: { id: string } }).response.id;
    await refusedAt(tag, /^response row write failed/);
    await lift();
    expect(await runDurableObjectAlarm(stub(id))).toBe(true);
    expect(await row(id)).toEqual({ status: "in_progress", event_count: 0 });
    await upstream.release(m);
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) seen.push(next.value);
    await expectCaughtUp(openai, id, seen);
  });

  it("an instance lost while D1 refuses the row loses no row: the alarms end the run and write it", async () => {
    const openai = client(KEY);
    const m = model("gate:6:4");
    const { tag, lift } = await refuse("responses", m);
    const abort = new AbortController();
    const stream = await openai.responses.create({ model: m, input: "x", stream: true }, { signal: abort.signal });
    const iterator = stream[Symbol.asyncIterator]();
    const seen: ResponseStreamEvent[] = [];
    while (seen.length < 6) seen.push((await iterator.next()).value as ResponseStreamEvent);
    const id = (seen[0] as { response: { id: string } }).response.id;
    // The first refusal: the row write is still being retried when the instance goes.
    await refusedAt(tag, /^D1 write failed/);
    const reset = await runInDurableObject(stub(id), (_instance, state) => state.abort("simulated reset")).catch(
      (error: unknown) => error,
    );
    expect(String(reset)).toContain("simulated reset");
    abort.abort();
    await lift();
    // The watchdog ends the lost run (failed, partial output kept); the D1 retry writes row and end.
    expect(await runDurableObjectAlarm(stub(id))).toBe(true);
    expect(await runDurableObjectAlarm(stub(id))).toBe(true);
    expect(await openai.responses.retrieve(id)).toMatchObject({ status: "failed", output_text: "w0 w1 " });
    // Its log: what the client saw, then OpenAI's failure pair, all in D1 without a gap.
    const stored = await row(id);
    expect(stored?.status).toBe("failed");
    expect(stored?.event_count).toBe(seen.length + 2);
    await expectGapFreeInD1(id, seen.length + 2);
    await upstream.release(m);
  });

  it("deleting a response whose row D1 refused: gone from the object, and nothing reaches D1 later", async () => {
    const openai = client(KEY);
    const m = model("text:3");
    const { tag, lift } = await refuse("responses", m);
    const seen = await collect(await openai.responses.create({ model: m, input: "x", stream: true }));
    const id = (seen[0] as { response: { id: string } }).response.id;
    await refusedAt(tag, /^response row write failed/);
    expect((await openai.responses.retrieve(id)).status).toBe("completed");
    expect(await openai.responses.delete(id)).toEqual({ id, object: "response.deleted", deleted: true });
    await lift();
    await expect(openai.responses.retrieve(id)).rejects.toMatchObject({ status: 404 });
    expect(await runDurableObjectAlarm(stub(id))).toBe(false);
    expect(await row(id)).toBeNull();
  });
});
