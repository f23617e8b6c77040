// A stored response created over the socket is the same history as one created over HTTP, over
// both upstream protocols: the HTTP replay equals what the socket carried, event for event; and
// retrieve, input_items, the list filters, usage and conversations all see it.

import { afterAll, afterEach, describe, expect, it } from "vitest";
import { routed } from "../support/chat";
import { client, gatewayFetch, GATEWAY_URL, model, rawEvents, words } from "../support/gateway";
import { watchUnhandled } from "../support/uncaught";
import { finalResponse, RawSocket, type ServerEvent } from "./support/frames";

const watch = watchUnhandled();
afterEach(() => watch.expectNone());
afterAll(() => watch.stop());

const PROTOCOLS = [
  { protocol: "responses", modelOf: (scenario: string) => model(scenario) },
  { protocol: "chat_completions", modelOf: (scenario: string) => routed(scenario).model },
];

const withoutStreamId = (events: ServerEvent[]) => events.map(({ stream_id: _lane, ...event }) => event);

async function get<T>(key: string, path: string): Promise<T> {
  const res = await gatewayFetch(`${GATEWAY_URL}${path}`, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  return res.json<T>();
}

describe.each(PROTOCOLS)("a stored response over the socket ($protocol upstream)", ({ modelOf }) => {
  it("is replayed over HTTP exactly as the socket carried it, and read back like any stored response", async () => {
    const key = `sk-test-ws-recorded-${crypto.randomUUID()}`;
    const m = modelOf("text:5");
    const socket = await RawSocket.open({}, key);
    const events = await socket.create({ model: m, input: "hello there", metadata: { via: "socket" } });
    socket.close();

    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    expect(events[0]?.type).toBe("response.created");
    expect(events.every((event) => !("stream_id" in event))).toBe(true);
    const response = finalResponse(events);
    expect(response).toMatchObject({ status: "completed", store: true, metadata: { via: "socket" } });

    // The record is what the socket carried.
    expect(await rawEvents(key, `/responses/${response.id}?stream=true`)).toEqual(events);
    expect(await rawEvents(key, `/responses/${response.id}?stream=true&starting_after=3`)).toEqual(events.slice(4));
    const openai = client(key);
    const retrieved = await openai.responses.retrieve(response.id);
    expect(retrieved.output_text).toBe(words(5));
    expect(JSON.parse(JSON.stringify(retrieved)) as unknown).toMatchObject(response);
    const items = await openai.responses.inputItems.list(response.id);
    expect(items.data.map((item) => (item as { content?: { text: string }[] }).content?.[0]?.text)).toEqual([
      "hello there",
    ]);
    const listed = await get<{ data: { id: string }[] }>(key, `/responses?model=${encodeURIComponent(m)}`);
    expect(listed.data.map((entry) => entry.id)).toEqual([response.id]);
    const usage = await get<{ data: { model: string; responses: number; output_tokens: number }[] }>(
      key,
      "/usage?group_by=model",
    );
    expect(usage.data).toEqual([expect.objectContaining({ model: m, responses: 1, output_tokens: 5 })]);
  });

  it("on a named lane: every event carries its stream_id, and the record is the same events without it", async () => {
    const key = `sk-test-ws-recorded-lane-${crypto.randomUUID()}`;
    const socket = await RawSocket.open({}, key);
    const events = await socket.create({ model: modelOf("text:3"), input: "x", stream_id: "lane.A-1" });
    socket.close();
    expect(events.every((event) => event.stream_id === "lane.A-1")).toBe(true);
    const { id } = finalResponse(events);
    expect(await rawEvents(key, `/responses/${id}?stream=true`)).toEqual(withoutStreamId(events));
  });

  it("chains from a stored response made on another socket, expanded from storage", async () => {
    const key = `sk-test-ws-recorded-chain-${crypto.randomUUID()}`;
    const first = await RawSocket.open({}, key);
    const parent = finalResponse(await first.create({ model: modelOf("text:2"), input: "one" }));
    first.close();
    const second = await RawSocket.open({}, key);
    const m = modelOf("echo");
    const child = finalResponse(await second.create({ model: m, input: "two", previous_response_id: parent.id }));
    second.close();
    // The upstream saw the chain: the first turn's input and output, then the new input.
    expect(child).toMatchObject({ previous_response_id: parent.id, status: "completed" });
    expect(await client(key).responses.retrieve(child.id)).toMatchObject({ previous_response_id: parent.id });
    expect((child.output[0] as { content: { text: string }[] }).content[0]?.text).toBe("echo(3): two");
  });

  it("joins a conversation: the turn's items are in it before the socket sees the terminal event", async () => {
    const key = `sk-test-ws-recorded-conv-${crypto.randomUUID()}`;
    const openai = client(key);
    const conversation = await openai.conversations.create();
    const socket = await RawSocket.open({}, key);
    const response = finalResponse(
      await socket.create({ model: modelOf("text:1"), input: "in a conversation", conversation: conversation.id }),
    );
    const items = await openai.conversations.items.list(conversation.id, { order: "asc" });
    socket.close();
    expect(response.conversation).toEqual({ id: conversation.id });
    expect(items.data.map((item) => (item as { content?: { text: string }[] }).content?.[0]?.text)).toEqual([
      "in a conversation",
      words(1),
    ]);
  });
});
