// RECORD_STORE_FALSE=on: a `store: false` create is recorded as a stored one (listed, retrievable,
// counted), while its client sees what it sees without the setting: `store: false` in every event,
// the same events, the same errors, the same WebSocket continuations. Each case runs the same model
// with the setting off and on and compares the client's view, ids and times aside.

import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { client, GATEWAY_URL, model, storedFor, upstream } from "../support/gateway";
import { until } from "../support/hooks";
import { countAll } from "../support/shards";
import { SdkSocket } from "../ws/support/sdk";

const ON = { RECORD_STORE_FALSE: "on" };
const recording: Env = { ...env, ...ON };
const KEY = "sk-test-record-store-false";

/** The SDK against a Worker that records store:false. */
const recordingClient = (): OpenAI =>
  new OpenAI({
    apiKey: KEY,
    baseURL: GATEWAY_URL,
    maxRetries: 0,
    fetch: (input, init) => worker.fetch(new Request(input, init), recording, createExecutionContext()),
  });

const ID = /^(resp|msg|rs|fc|call|item|ws)_[A-Za-z0-9]+$/;
const TIMES = new Set(["created_at", "completed_at"]);

/** What a client sees, ids and times replaced by placeholders. */
function shape(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (key, field: unknown) => {
      if (typeof field === "string" && ID.test(field)) return field.slice(0, field.indexOf("_") + 1);
      if (TIMES.has(key) && typeof field === "number") return 0;
      return field;
    }),
  ) as unknown;
}

/** A body as sent, byte for byte but for its ids and times. */
const masked = (text: string): string =>
  text
    .replace(/"(resp|msg|rs|fc|call|item)_[A-Za-z0-9]+"/g, '"$1_"')
    .replace(/"(created_at|completed_at)":\d+/g, '"$1":0');

/** A store:false create's raw body (an SSE stream, or JSON) and its response's id. */
async function created(openai: OpenAI, m: string, stream: boolean): Promise<{ text: string; id: string }> {
  const answer = await openai.responses.create({ model: m, input: "x", store: false, stream }).asResponse();
  const text = await answer.text();
  return { text, id: /"(resp_[A-Za-z0-9]+)"/.exec(text)?.[1] ?? "" };
}

/** A Response's `store`, which the SDK's type leaves out. */
const storeOf = (response: object): unknown => (response as { store?: unknown }).store;

/** What the SDK threw for a refused create: its status and error body. */
const refusal = (create: Promise<unknown>): Promise<{ status: unknown; error: unknown }> =>
  create.then(
    () => ({ status: null, error: null }),
    (thrown: unknown) => {
      const { status, error } = thrown as { status?: unknown; error?: unknown };
      return { status, error };
    },
  );

/** The events of an SSE body. */
const eventsOf = (text: string): { type: string; response?: Record<string, unknown> }[] =>
  text
    .split("\n\n")
    .filter((frame) => frame.includes("data: "))
    .map((frame) => JSON.parse(frame.slice(frame.indexOf("data: ") + 6)) as { type: string });

describe("RECORD_STORE_FALSE=on", () => {
  it("records a streamed store:false create, its events as without the setting", async () => {
    const m = model("think");
    const plain = await created(client(KEY), m, true);
    const kept = await created(recordingClient(), m, true);
    expect(masked(kept.text)).toBe(masked(plain.text));
    const events = eventsOf(kept.text);
    expect(events.at(-1)?.type).toBe("response.completed");
    for (const event of events) if (event.response !== undefined) expect(event.response.store).toBe(false);
    // Listed and retrievable, still saying store:false; the one made without the setting is not.
    const listed = await storedFor(recordingClient(), m);
    expect(listed.map((response) => [response.id, storeOf(response), response.status])).toEqual([
      [kept.id, false, "completed"],
    ]);
    const final = events.at(-1)?.response;
    // The SDK adds `output_text` to what retrieve answers (the model only thought and called a tool).
    expect(await recordingClient().responses.retrieve(kept.id)).toEqual({ ...final, output_text: "" });
    expect(await countAll("SELECT count(*) AS n FROM responses WHERE id = ?", plain.id)).toBe(0);
  });

  it("records a JSON store:false create, its answer as without the setting; a warm-up is not recorded", async () => {
    const m = model("text:3");
    const plain = await created(client(KEY), m, false);
    const kept = await created(recordingClient(), m, false);
    expect(masked(kept.text)).toBe(masked(plain.text));
    expect(JSON.parse(kept.text)).toMatchObject({ id: kept.id, store: false, status: "completed" });
    const warm = m + "-warm";
    const warmUp = await recordingClient().post<OpenAI.Responses.Response>("/responses", {
      body: { model: warm, input: "x", store: false, generate: false },
    });
    expect(warmUp.status).toBe("completed");
    expect(await countAll("SELECT count(*) AS n FROM responses WHERE id = ?", warmUp.id)).toBe(0);
    expect((await storedFor(recordingClient(), m)).map((response) => response.id)).toEqual([kept.id]);
  });

  it("gives an upstream refusal the same error, and keeps it failed", async () => {
    const m = model("status:400");
    const plain = await refusal(client(KEY).responses.create({ model: m, input: "x", store: false }));
    const kept = await refusal(recordingClient().responses.create({ model: m, input: "x", store: false }));
    expect(kept.status).toBe(400);
    expect(kept).toEqual(plain);
    expect((await storedFor(recordingClient(), m)).map((response) => [response.status, storeOf(response)])).toEqual([
      ["failed", false],
    ]);
  });

  it("records ResponsesWS store:false turns, continuations kept in the connection as without the setting", async () => {
    const m = model("echo");
    const run = async (overrides?: Record<string, unknown>) => {
      const socket = new SdkSocket(KEY, overrides);
      try {
        const first = await socket.create({ model: m, input: "one", store: false });
        const firstId = (first.at(-1) as { response: { id: string } }).response.id;
        const second = await socket.create({ model: m, input: "two", store: false, previous_response_id: firstId });
        return {
          events: [...first, ...second],
          ids: [firstId, (second.at(-1) as { response: { id: string } }).response.id],
        };
      } finally {
        socket.close();
      }
    };
    const plain = await run();
    const kept = await run(ON);
    expect(shape(kept.events)).toEqual(shape(plain.events));
    // The second turn echoes the id it continued, and the upstream had the first turn's context.
    expect(
      (kept.events.at(-1) as { response: { previous_response_id: string; output_text?: string } }).response,
    ).toMatchObject({ previous_response_id: kept.ids[0], store: false });
    const listed = await storedFor(recordingClient(), m);
    expect(listed.map((response) => [response.id, storeOf(response)])).toEqual([
      [kept.ids[1], false],
      [kept.ids[0], false],
    ]);
  });

  it("keeps it as a stored response for the operator: chained and deleted; its Idempotency-Key still ignored", async () => {
    const openai = recordingClient();
    const m = model("echo");
    const first = await openai.responses.create({ model: m, input: "one", store: false });
    // Where OpenAI would 404 a store:false id, the gateway has it.
    const next = await openai.responses.create({
      model: m,
      input: "two",
      store: false,
      previous_response_id: first.id,
    });
    expect(next.output_text).toBe("echo(3): two");
    const retry = { headers: { "Idempotency-Key": `rsf-${crypto.randomUUID()}` } };
    const a = await openai.responses.create({ model: m, input: "three", store: false }, retry);
    const b = await openai.responses.create({ model: m, input: "three", store: false }, retry);
    expect(a.id).not.toBe(b.id);
    await openai.responses.delete(first.id);
    await expect(openai.responses.retrieve(first.id)).rejects.toMatchObject({ status: 404 });
    expect((await storedFor(openai, m)).map((response) => response.id)).toEqual([b.id, a.id, next.id]);
  });

  it("continues from a record whose reasoning came without encrypted content: the item stays, is not sent", async () => {
    // Its client did not ask for `reasoning.encrypted_content`, so the record has the reasoning item
    // by id alone, which a stateless upstream cannot look up (OpenAI: 404 "Item with id … not found").
    const openai = recordingClient();
    const m = model("think:get_weather");
    const tools = [{ type: "function" as const, name: "get_weather", parameters: {}, strict: false }];
    const first = await openai.responses.create({ model: m, input: "weather in Paris?", tools, store: false });
    const [reasoning, call] = first.output;
    expect([reasoning?.type, call?.type]).toEqual(["reasoning", "function_call"]);
    expect(reasoning).not.toHaveProperty("encrypted_content");
    const next = await openai.responses.create({
      model: m,
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: (call as { call_id: string }).call_id, output: "sunny" }],
      tools,
      store: false,
    });
    expect(next.output_text).toBe("done");
    const sent = (await upstream.requests(m)).map((request) =>
      (request.body.input as { type?: string; role?: string }[]).map((item) => item.type ?? item.role),
    );
    expect(sent[1]).toEqual(["user", "function_call", "function_call_output"]);
    // What is stored is as it came.
    expect((await openai.responses.retrieve(first.id)).output[0]).toEqual(reasoning);
  });

  it("lists a background store:false response and a store:false conversation turn as stored ones", async () => {
    const openai = recordingClient();
    const m = model("text:2");
    const background = await openai.responses.create({ model: m, input: "x", store: false, background: true });
    expect(background).toMatchObject({ store: false, background: true });
    const conversation = await openai.conversations.create();
    const turn = await openai.responses.create({ model: m, input: "x", store: false, conversation: conversation.id });
    expect(storeOf(turn)).toBe(false);
    const listed = await until(
      () => storedFor(openai, m),
      (rows) => rows.length === 2 && rows.every((row) => row.status === "completed"),
      "both ended",
    );
    expect(listed.map((row) => [row.id, storeOf(row)])).toEqual([
      [turn.id, false],
      [background.id, false],
    ]);
    // The scheduled deletion of background store:false responses (ten minutes) is not for it.
    expect(await countAll("SELECT count(*) AS n FROM responses WHERE id = ? AND store = 1", background.id)).toBe(1);
  });

  it("stops a stream its client left at once, as without the setting, and keeps it cancelled", async () => {
    const m = model("gate:5:6");
    const res = await worker.fetch(
      new Request(`${GATEWAY_URL}/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ model: m, input: "x", store: false, stream: true }),
      }),
      recording,
      createExecutionContext(),
    );
    const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (text.split("\n\n").length - 1 < 4) text += (await reader.read()).value ?? "";
    await reader.cancel("the client went away");
    const id = eventsOf(text)[0]?.response?.id as string;
    // No DISCONNECT_GRACE_SECONDS: the upstream call is closed while the model is still held.
    await until(
      () => upstream.closedEarly(m),
      (closed) => closed === 1,
      "the upstream call to stop",
    );
    const ended = await until(
      () => recordingClient().responses.retrieve(id),
      (response) => response.status === "cancelled",
      "the record to end cancelled",
    );
    expect(storeOf(ended)).toBe(false);
    await upstream.release(m);
  });
});
