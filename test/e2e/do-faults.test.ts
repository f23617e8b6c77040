// Faults that end a run in a race: a cancel racing the upstream's terminal event or landing while a
// background run writes its end, readers attached while the run ends, an instance reset under an
// attached client, and a delete while a foreground run is writing its end. Each ends in one
// consistent terminal state: the same in the snapshot, the D1 row, the replayed log, every
// reader's stream and the webhook.

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { foldEvents } from "../../src/responses/fold";
import type { StreamEvent } from "../../src/responses/types";
import { client, gatewayFetch, GATEWAY_URL, model, readEvents, upstream } from "../support/gateway";
import { hookUrl, received, until } from "../support/hooks";
import { runStub } from "../support/run-object";
import { watchUnhandled } from "../support/uncaught";
import { countAll, execEverywhere, firstRow } from "../support/shards";

/** Logged when a test makes D1 refuse the terminal write (and by nothing else). */
const EXPECTED_LOGS = [/the terminal write failed: .*refused_/, /progress flush failed.*refused_/];
const watch = watchUnhandled();
afterEach(() => watch.expectNone(EXPECTED_LOGS));
afterAll(() => watch.stop());

/** How long the recorder's terminal write keeps retrying (recorder.ts: 4 attempts, 100 ms doubling). */
const FINAL_RETRY_SPAN_MS = 1000;

/** Two deltas: events 0-8 are sent, then the mock waits before `response.completed` (event 9). */
const BEFORE_TERMINAL = "gate:9:2";

type Event = Record<string, unknown> & { type: string; sequence_number: number };

async function send(key: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  return gatewayFetch(`${GATEWAY_URL}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

const events = async (response: Response) => (await readEvents(response.body)) as Event[];

/** The response id the first event of a stream carries. */
const idOf = (list: Event[]): string => (list[0]?.response as { id: string }).id;

async function d1Row(id: string) {
  return firstRow<{ status: string; event_count: number }>(
    "SELECT status, event_count FROM responses WHERE id = ?",
    id,
  );
}

/** Waits until `reader` (a raw SSE body) delivered `count` events; returns them and the rest. */
async function readUntil(response: Promise<Response>, count: number) {
  const body = (await response).body as ReadableStream<Uint8Array>;
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  // Whole frames only: a chunk may end inside one.
  const frames = () =>
    text
      .slice(0, text.lastIndexOf("\n\n") + 2)
      .split("\n\n")
      .filter((frame) => frame.includes("data: "));
  while (frames().length < count) {
    const next = await reader.read();
    if (next.done) break;
    text += next.value;
  }
  return {
    seen: frames().map((frame) => JSON.parse(frame.slice(frame.indexOf("data: ") + 6)) as Event),
    rest: async (): Promise<Event[] | Error> => {
      try {
        for (let next = await reader.read(); !next.done; next = await reader.read()) text += next.value;
      } catch (error) {
        return error as Error;
      }
      return frames().map((frame) => JSON.parse(frame.slice(frame.indexOf("data: ") + 6)) as Event);
    },
  };
}

describe("a cancel racing the upstream's terminal event", () => {
  // Three orders, a few times each: the cancel sent with the release, the cancel sent as the
  // release is answered (the terminal event is then on its way: either may win), the cancel sent
  // once the attached stream has the end. Whichever wins, every view agrees with it.
  const ORDERS = ["with the release", "as the release is answered", "after the end"] as const;
  const RUNS = [0, 1, 2].flatMap((index) => ORDERS.map((order) => ({ order, index })));

  it.each(RUNS)("cancel $order (#$index): one terminal state everywhere", async ({ order }) => {
    const key = `sk-test-do-faults-${crypto.randomUUID()}`;
    const openai = client(key);
    const hook = hookUrl("ok");
    await openai.webhooks.create({ url: hook, name: "r", event_types: ["response.completed", "response.cancelled"] });
    const m = model(BEFORE_TERMINAL);
    const attached = await readUntil(
      send(key, "/responses", { body: { model: m, input: "x", stream: true, background: true } }),
      10,
    );
    const id = idOf(attached.seen);
    const cancel = () => openai.responses.cancel(id);
    const release = () => upstream.release(m);
    let cancelled: Awaited<ReturnType<typeof cancel>>;
    let ended: Promise<Event[] | Error> | undefined;
    if (order === "with the release") [cancelled] = await Promise.all([cancel(), release()]);
    else if (order === "as the release is answered") cancelled = await release().then(cancel);
    else {
      ended = attached.rest();
      await Promise.all([release(), ended]);
      cancelled = await cancel();
    }
    const outcome = (cancelled as { status: string }).status;
    expect(["completed", "cancelled"]).toContain(outcome);

    const streamed = await (ended ?? attached.rest());
    if (streamed instanceof Error) throw streamed;
    const snapshot = await openai.responses.retrieve(id);
    const { output_text: _text, ...stored } = snapshot;
    expect(stored).toEqual(JSON.parse(JSON.stringify(cancelled)));
    expect(snapshot.status).toBe(outcome);
    expect((await d1Row(id))?.status).toBe(outcome);
    const replay = await events(await send(key, `/responses/${id}?stream=true`));
    expect(replay).toEqual(streamed);
    expect(replay.map((event) => event.sequence_number)).toEqual(replay.map((_, index) => index));
    if (outcome === "completed") {
      expect(replay.at(-1)?.type).toBe("response.completed");
      expect(foldEvents(replay as unknown as StreamEvent[])).toEqual(stored);
    } else expect(replay.some((event) => event.type === "response.completed")).toBe(false);
    // A later cancel answers the same final Response.
    expect(await openai.responses.cancel(id)).toEqual(cancelled);
    await runDurableObjectAlarm(await runStub(id, key));
    const hooks = await until(
      () => received(hook),
      (list) => list.length === 1,
      "the webhook",
    );
    expect(JSON.parse(hooks[0]?.body ?? "{}")).toMatchObject({ type: `response.${outcome}`, data: { id } });
  });
});

/** Makes D1 refuse the end of the runs of model `m` (the terminal update of their row) until dropped. */
async function refuseEnds(m: string): Promise<{ tag: string; drop: () => Promise<void> }> {
  const tag = `refused_${crypto.randomUUID().replaceAll("-", "")}`;
  await execEverywhere(
    `CREATE TRIGGER ${tag} BEFORE UPDATE OF status ON responses WHEN NEW.model = '${m}' AND NEW.status IN ('completed', 'failed', 'cancelled', 'incomplete') BEGIN SELECT RAISE(ABORT, '${tag}'); END;`,
  );
  return { tag, drop: () => execEverywhere(`DROP TRIGGER ${tag};`) };
}

/** Makes D1 refuse every write of a run of model `m` that would record more than `count` events, until dropped. */
async function refuseUpdates(m: string, count: number): Promise<{ tag: string; drop: () => Promise<void> }> {
  const tag = `refused_${crypto.randomUUID().replaceAll("-", "")}`;
  await execEverywhere(
    `CREATE TRIGGER ${tag} BEFORE UPDATE ON responses WHEN NEW.model = '${m}' AND NEW.event_count > ${count} BEGIN SELECT RAISE(ABORT, '${tag}'); END;`,
  );
  return { tag, drop: () => execEverywhere(`DROP TRIGGER ${tag};`) };
}

describe("a cancel landing while the run writes its end", () => {
  it("the run had ended: the cancel answers the completed Response, and every view agrees", async () => {
    const key = `sk-test-do-faults-${crypto.randomUUID()}`;
    const openai = client(key);
    const hook = hookUrl("ok");
    await openai.webhooks.create({ url: hook, name: "r", event_types: ["response.completed", "response.cancelled"] });
    const m = model("text:3");
    // D1 refuses the terminal write for a while: the run is in its end, retrying.
    const { tag, drop } = await refuseEnds(m);
    const attached = await readUntil(
      send(key, "/responses", { body: { model: m, input: "x", stream: true, background: true } }),
      1,
    );
    const id = idOf(attached.seen);
    await until(
      () => Promise.resolve(watch.logged().filter((line) => line.includes(tag))),
      (lines) => lines.length > 0,
      "a refused terminal write",
    );
    const cancelling = openai.responses.cancel(id);
    await drop();
    const cancelled = await cancelling;
    expect(cancelled.status).toBe("completed");

    const streamed = await attached.rest();
    if (streamed instanceof Error) throw streamed;
    expect(streamed.at(-1)?.type).toBe("response.completed");
    // Should D1 still have refused the end, the object kept it and its alarm writes it now.
    await runDurableObjectAlarm(await runStub(id, key));
    expect((await d1Row(id))?.status).toBe("completed");
    const { output_text: text, ...stored } = await openai.responses.retrieve(id);
    expect(text).toBe("w0 w1 w2 ");
    expect(stored).toEqual(JSON.parse(JSON.stringify(cancelled)));
    const replay = await events(await send(key, `/responses/${id}?stream=true`));
    expect(replay).toEqual(streamed);
    expect(await openai.responses.cancel(id)).toEqual(cancelled);
    const hooks = await until(
      () => received(hook),
      (list) => list.length === 1,
      "the webhook",
    );
    expect(JSON.parse(hooks[0]?.body ?? "{}")).toMatchObject({ type: "response.completed", data: { id } });
  });
});

describe("readers attached while the run ends", () => {
  it("the creator, a reader from 0 and a reader resuming mid-way all get the full stream to its end", async () => {
    const key = "sk-test-do-faults-readers";
    const m = model(BEFORE_TERMINAL);
    const creator = await readUntil(
      send(key, "/responses", { body: { model: m, input: "x", stream: true, background: true } }),
      10,
    );
    const id = idOf(creator.seen);
    const fromStart = await readUntil(send(key, `/responses/${id}?stream=true`), 10);
    const resumed = await readUntil(send(key, `/responses/${id}?stream=true&starting_after=4`), 5);
    await upstream.release(m);
    const [a, b, c] = await Promise.all([creator.rest(), fromStart.rest(), resumed.rest()]);
    if (a instanceof Error || b instanceof Error || c instanceof Error) throw new Error("a reader broke");
    expect(a.map((event) => event.sequence_number)).toEqual([...Array(11).keys()]);
    expect(a.at(-1)?.type).toBe("response.completed");
    expect(b).toEqual(a);
    expect(c).toEqual(a.slice(5));
    expect(await events(await send(key, `/responses/${id}?stream=true`))).toEqual(a);
  });
});

describe("an instance reset under an attached client", () => {
  it("the client's stream breaks; a resume from where it broke gets the rest, ending failed, partial output kept", async () => {
    const key = "sk-test-do-faults-reset";
    const m = model("gate:6:4");
    const attached = await readUntil(
      send(key, "/responses", { body: { model: m, input: "x", stream: true, background: true } }),
      7,
    );
    const id = idOf(attached.seen);
    // What the client saw is in D1 (batches land every second in tests): a reset loses at most the
    // batch not yet written, and here there is none.
    await until(
      () => d1Row(id),
      (row) => (row?.event_count ?? 0) >= 7,
      "the events in D1",
    );
    const reset = await runInDurableObject(await runStub(id, key), (_instance, state) =>
      state.abort("simulated reset"),
    ).catch((error: unknown) => error);
    expect(String(reset)).toContain("simulated reset");
    const after = await attached.rest();
    // The stream broke, or ended without a terminal event: either way the client knows it is cut.
    if (!(after instanceof Error)) expect(after.at(-1)?.type).not.toMatch(/^response\.(completed|failed)$/);
    const seen = after instanceof Error ? attached.seen : after;
    const last = seen.at(-1)?.sequence_number ?? -1;
    const rest = await events(await send(key, `/responses/${id}?stream=true&starting_after=${last}`));
    const whole = [...seen, ...rest];
    expect(seen.map((event) => event.sequence_number)).toEqual(seen.map((_, index) => index));
    expect(rest.slice(-2).map((event) => event.type)).toEqual(["error", "response.failed"]);
    // The end (the open item closed, the error, response.failed) is numbered after the readers' noted
    // step (SEEN_STEP in src/run/response-run.ts), past any number they may have been sent.
    expect(rest.map((event) => event.sequence_number)).toEqual([1000, 1001, 1002, 1003, 1004]);
    const openai = client(key);
    expect(await openai.responses.retrieve(id)).toMatchObject({ status: "failed", output_text: "w0 w1 " });
    expect((await d1Row(id))?.status).toBe("failed");
    expect(await events(await send(key, `/responses/${id}?stream=true`))).toEqual(whole);
    await upstream.release(m);
  });
});

describe("an instance reset after readers were sent events D1 never got", () => {
  it("the recorded end is numbered past every number a reader saw: no number names two events", async () => {
    const key = `sk-test-do-faults-${crypto.randomUUID()}`;
    const openai = client(key);
    const m = model("gate:6:10");
    const { id } = await openai.responses.create({ model: m, input: "x", background: true });
    // 7 events before the gate, then 8 deltas and the three done events: 18 before the terminal one.
    const reader = readUntil(send(key, `/responses/${id}?stream=true`), 18);
    await until(
      () => d1Row(id),
      (row) => (row?.event_count ?? 0) >= 7,
      "the first events in D1",
    );
    // D1 takes nothing more (no flush, no end): the run goes on, its reader sees what D1 never gets.
    const { tag, drop } = await refuseUpdates(m, 7);
    await upstream.release(m);
    const { seen, rest } = await reader;
    expect(seen.map((event) => event.sequence_number)).toEqual(seen.map((_, index) => index));
    await until(
      () => Promise.resolve(watch.logged().filter((line) => line.includes(tag))),
      (lines) => lines.some((line) => line.includes("terminal write")),
      "a refused terminal write",
    );
    // A deploy or crash now: events 7-17 are lost.
    const reset = await runInDurableObject(await runStub(id, key), (_instance, state) =>
      state.abort("simulated reset"),
    ).catch((error: unknown) => error);
    expect(String(reset)).toContain("simulated reset");
    await rest();
    await drop();
    expect(await openai.responses.retrieve(id)).toMatchObject({ status: "failed", output_text: "w0 w1 " });

    const replay = await events(await send(key, `/responses/${id}?stream=true`));
    expect(replay.slice(-2).map((event) => event.type)).toEqual(["error", "response.failed"]);
    // The record has what D1 took (0-6), as the reader saw it; its end (the open item closed, the
    // error, response.failed) is numbered past 17, so no number names two different events.
    expect(replay.slice(0, 7)).toEqual(seen.slice(0, 7));
    expect(replay.slice(7).map((event) => event.sequence_number)).toEqual([1000, 1001, 1002, 1003, 1004]);
    // A reader resuming from anywhere it got to gets that same end, under the same numbers.
    for (const after of [3, 10, 17])
      expect(await events(await send(key, `/responses/${id}?stream=true&starting_after=${after}`))).toEqual(
        replay.filter((event) => event.sequence_number > after),
      );
  });
});

describe("a lost background run whose end D1 refuses when its keepalive alarm finds it", () => {
  it("the alarm stays set and ends it failed once D1 takes the end, without waiting for the sweep or a read", async () => {
    const key = `sk-test-do-faults-${crypto.randomUUID()}`;
    const openai = client(key);
    const m = model("gate:6:4");
    const { id } = await openai.responses.create({ model: m, input: "x", background: true });
    await until(
      () => d1Row(id),
      (row) => (row?.event_count ?? 0) >= 7,
      "the events in D1",
    );
    const reset = await runInDurableObject(await runStub(id, key), (_instance, state) =>
      state.abort("simulated reset"),
    ).catch((error: unknown) => error);
    expect(String(reset)).toContain("simulated reset");
    const { drop } = await refuseEnds(m);
    // The keepalive alarm finds the run lost; D1 refuses the end it writes.
    expect(await runDurableObjectAlarm(await runStub(id, key))).toBe(true);
    expect((await d1Row(id))?.status).toBe("in_progress");
    const alarm = await runInDurableObject(await runStub(id, key), (_instance, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    await drop();
    expect(await runDurableObjectAlarm(await runStub(id, key))).toBe(true);
    expect((await d1Row(id))?.status).toBe("failed");
    expect(await openai.responses.retrieve(id)).toMatchObject({ status: "failed", output_text: "w0 w1 " });
    await upstream.release(m);
  });
});

describe("a delete while a foreground run writes its end", () => {
  it("the delete wins; the run's end writes nothing; the client is told its end was not recorded", async () => {
    const key = "sk-test-do-faults-delete";
    const m = model(BEFORE_TERMINAL);
    // D1 refuses the terminal write for a while: the run is in its end, retrying.
    const { tag, drop } = await refuseEnds(m);
    const attached = await readUntil(send(key, "/responses", { body: { model: m, input: "x", stream: true } }), 1);
    const id = idOf(attached.seen);
    // The client keeps reading (a client that stops would hold the run up before its end).
    const reading = attached.rest();
    // Held before its end, the run outlasts its first second: its row is in D1 on its own.
    await until(
      () => d1Row(id),
      (row) => row !== null,
      "the running response's row",
    );
    await upstream.release(m);
    await until(
      () => Promise.resolve(watch.logged().filter((line) => line.includes(tag))),
      (lines) => lines.length > 0,
      "a refused terminal write",
    );
    const deleted = send(key, `/responses/${id}`, { method: "DELETE" });
    expect(await (await deleted).json()).toEqual({ id, object: "response.deleted", deleted: true });
    // The terminal write's next attempt lands after the delete.
    await drop();
    const rest = await reading;
    if (rest instanceof Error) throw rest;
    // Deleted before its end landed (or, on a slow machine, after the end's attempts ran out): either
    // way the client is told the end was not recorded, instead of a terminal event.
    expect(rest.at(-1)?.type).toBe("error");
    expect(["response_not_recorded", "storage_unavailable"]).toContain(rest.at(-1)?.code);
    // A negative check, not a synchronisation: a terminal write retried after the delete (100, 200,
    // 400 ms apart) must write nothing. Nothing may land within that span.
    await new Promise((resolve) => setTimeout(resolve, FINAL_RETRY_SPAN_MS));
    const counts = await Promise.all([
      countAll("SELECT count(*) AS n FROM responses WHERE id = ?", id),
      countAll("SELECT count(*) AS n FROM response_event_batches WHERE response_id = ?", id),
      countAll("SELECT count(*) AS n FROM usage_daily WHERE model = ?", m),
    ]);
    expect(counts).toEqual([0, 0, 0]);
    expect((await send(key, `/responses/${id}`)).status).toBe(404);
    expect((await send(key, `/responses/${id}?stream=true`)).status).toBe(404);
  });
});

describe("an instance reset while a background run writes its end", () => {
  it("the end never landed: the run ends failed, and the one webhook says so (not the end it was writing)", async () => {
    const key = `sk-test-do-faults-${crypto.randomUUID()}`;
    const openai = client(key);
    const hook = hookUrl("ok");
    await openai.webhooks.create({ url: hook, name: "r", event_types: ["response.completed", "response.failed"] });
    const m = model("text:3");
    // D1 refuses the terminal write: the run is in its end, its webhook noted as due, retrying the write.
    const { tag, drop } = await refuseEnds(m);
    const attached = await readUntil(
      send(key, "/responses", { body: { model: m, input: "x", stream: true, background: true } }),
      1,
    );
    const id = idOf(attached.seen);
    await until(
      () => Promise.resolve(watch.logged().filter((line) => line.includes(tag))),
      (lines) => lines.length > 0,
      "a refused terminal write",
    );
    // A deploy or crash now: the write never lands.
    const reset = await runInDurableObject(await runStub(id, key), (_instance, state) =>
      state.abort("simulated reset"),
    ).catch((error: unknown) => error);
    expect(String(reset)).toContain("simulated reset");
    await attached.rest();
    await drop();
    // Not ended in D1 (`queued`: it ended before its first heartbeat marked it in progress).
    expect(["queued", "in_progress"]).toContain((await d1Row(id))?.status);

    // The dead man's alarm that the end set comes first (before any read or sweep).
    await runDurableObjectAlarm(await runStub(id, key));
    expect((await d1Row(id))?.status).toBe("failed");
    expect(await openai.responses.retrieve(id)).toMatchObject({ status: "failed" });
    await runDurableObjectAlarm(await runStub(id, key));
    const hooks = await received(hook);
    expect(hooks.map((hook) => (JSON.parse(hook.body) as { type: string }).type)).toEqual(["response.failed"]);
  });

  it("an endpoint for response.completed only gets nothing: the end D1 has is failed, not the one noted", async () => {
    const key = `sk-test-do-faults-${crypto.randomUUID()}`;
    const openai = client(key);
    const hook = hookUrl("ok");
    await openai.webhooks.create({ url: hook, name: "r", event_types: ["response.completed"] });
    const m = model("text:3");
    const { tag, drop } = await refuseEnds(m);
    const attached = await readUntil(
      send(key, "/responses", { body: { model: m, input: "x", stream: true, background: true } }),
      1,
    );
    const id = idOf(attached.seen);
    await until(
      () => Promise.resolve(watch.logged().filter((line) => line.includes(tag))),
      (lines) => lines.length > 0,
      "a refused terminal write",
    );
    const reset = await runInDurableObject(await runStub(id, key), (_instance, state) =>
      state.abort("simulated reset"),
    ).catch((error: unknown) => error);
    expect(String(reset)).toContain("simulated reset");
    await attached.rest();
    await drop();

    await runDurableObjectAlarm(await runStub(id, key));
    expect((await d1Row(id))?.status).toBe("failed");
    await runDurableObjectAlarm(await runStub(id, key));
    expect(await received(hook)).toEqual([]);
    // Nothing is left for the object to do: its storage and alarm are gone.
    expect(await runDurableObjectAlarm(await runStub(id, key))).toBe(false);
  });
});
