// Replays real recorded upstream streams through the gateway: the client must see the same events
// (only the gateway-owned fields rewritten, and fields an older recording lacks filled in), the
// stored snapshot must equal the terminal event's response, and the replayed log must equal the stream.

import { describe, expect, it } from "vitest";
import { foldEvents } from "../../src/responses/fold";
import type { StreamEvent } from "../../src/responses/types";
import { fixtureEvents, splitResponses } from "../support/fixtures";
import { client, gatewayFetch, GATEWAY_URL, model, readEvents, upstream } from "../support/gateway";

type Event = Record<string, unknown>;

const OWNED = [
  "id",
  "created_at",
  "completed_at",
  "background",
  "store",
  "previous_response_id",
  "metadata",
  "instructions",
  "conversation",
  "prompt",
];

function comparable(event: Event): Event {
  const { sequence_number: _seq, ...rest } = event;
  if (typeof rest.response === "object" && rest.response !== null) {
    const response = { ...(rest.response as Event) };
    for (const field of OWNED) delete response[field];
    // The gateway serializes every field, as OpenAI does: a field an older recording omits is null.
    for (const [field, value] of Object.entries(response)) if (value === null) delete response[field];
    rest.response = response;
  }
  if (rest.type === "error") {
    const nested = (rest.error ?? {}) as Event;
    return { type: "error", code: nested.code, message: nested.message, param: nested.param ?? null };
  }
  return rest;
}

/**
 * `received` without the fields `recorded` does not have: the gateway fills in what OpenAI sends
 * today (presence_penalty, usage's cache_write_tokens, the function name on arguments.done...) over
 * older recordings; everything the recording does have must be unchanged.
 */
function onlyRecorded(received: unknown, recorded: unknown): unknown {
  if (Array.isArray(received) && Array.isArray(recorded))
    return received.map((value, i) => onlyRecorded(value, recorded[i]));
  if (typeof received !== "object" || received === null || typeof recorded !== "object" || recorded === null)
    return received;
  const kept = Object.entries(received).filter(([field]) => field in recorded);
  return Object.fromEntries(kept.map(([field, value]) => [field, onlyRecorded(value, (recorded as Event)[field])]));
}

const auth = { authorization: "Bearer sk-test-fixtures", "content-type": "application/json" };

const cases: [string, number][] = [
  ["azure-text.1.chunks.txt", 0],
  ["azure-tool-call.1.chunks.txt", 0],
  ["openai-web-search-tool.1.chunks.txt", 0],
  ["openai-error.1.chunks.txt", 0],
  ["openai-reasoning-encrypted-content.1.chunks.txt", 0],
  ["openai-reasoning-encrypted-content.1.chunks.txt", 1],
  ["openai-reasoning-encrypted-content.1.chunks.txt", 2],
  ["openai-reasoning-encrypted-content.1.chunks.txt", 3],
  ["synthetic__openai-shell-call.chunks.txt", 0],
];

describe("recorded Responses streams through the gateway", () => {
  it.each(cases)("%s (response %i)", async (file, index) => {
    const recorded = splitResponses(fixtureEvents(`responses/${file}`))[index] as Event[];
    const res = await gatewayFetch(`${GATEWAY_URL}/responses`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ model: model(`fixture:${file}:${index}`), input: "replay", stream: true }),
    });
    const received = await readEvents(res.body);

    expect(received.map((event) => event.sequence_number)).toEqual(received.map((_, i) => i));
    const recordedEvents = recorded.map(comparable);
    expect(received.map(comparable).map((event, i) => onlyRecorded(event, recordedEvents[i]))).toEqual(recordedEvents);

    const id = (received[0]?.response as Event).id as string;
    const terminal = received.at(-1)?.response as Event;
    const stored = await (await gatewayFetch(`${GATEWAY_URL}/responses/${id}`, { headers: auth })).json();
    expect(stored).toEqual(terminal);
    expect(foldEvents(received as StreamEvent[])).toEqual(stored);

    const replay = await gatewayFetch(`${GATEWAY_URL}/responses/${id}?stream=true`, { headers: auth });
    expect(await readEvents(replay.body)).toEqual(received);
  });
});

/**
 * Synthetic streams (test/fixtures/responses/PROVENANCE.md) modelled on servers whose `/v1/responses`
 * breaks the grammar the SDK's stream helper enforces: the gateway repairs them, and the helper,
 * the stored response and the replay all agree.
 */
const repaired: [file: string, summary: string[], reasoning: string[]][] = [
  // vLLM: `response.reasoning_part.added`/`.done` around a reasoning item's `reasoning_text` part
  ["synthetic__vllm-reasoning-parts.chunks.txt", [], ["think hard"]],
  // Ollama: `reasoning_summary_text.delta`/`.done` without `reasoning_summary_part.added`/`.done`
  ["synthetic__ollama-reasoning-summary.chunks.txt", ["The user says hi"], []],
];

describe("synthetic Responses streams the gateway repairs", () => {
  it.each(repaired)(
    "%s reaches the SDK's stream helper whole, stored as streamed",
    async (file, summary, reasoning) => {
      const openai = client("sk-test-fixtures");
      const stream = openai.responses.stream({ model: model(`fixture:${file}:0`), input: "replay" });
      const events: { type: string; sequence_number: number }[] = [];
      for await (const event of stream) events.push(event);
      const final = await stream.finalResponse();

      expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i));
      expect(final.status).toBe("completed");
      expect(final.output_text).toBe("Héllo 😀 wörld");
      const item = final.output[0] as { type: string; summary: { text: string }[]; content?: { text: string }[] };
      expect(item.type).toBe("reasoning");
      expect(item.summary.map((part) => part.text)).toEqual(summary);
      expect((item.content ?? []).map((part) => part.text)).toEqual(reasoning);

      const stored = await (await gatewayFetch(`${GATEWAY_URL}/responses/${final.id}`, { headers: auth })).json();
      expect(stored).toEqual((events.at(-1) as unknown as { response: unknown }).response);
      expect(foldEvents(events as unknown as StreamEvent[])).toEqual(stored);
      // vLLM lists its reasoning item with `encrypted_content: null` and `status: null`, which the Open
      // Responses schema and the SDK's types refuse: in the events and the stored response, as OpenAI lists it.
      expect(JSON.stringify([events, stored])).not.toMatch(/"(encrypted_content|status)":null/);
      const json = await openai.responses.create({ model: model(`fixture:${file}:0`), input: "replay" });
      expect(JSON.stringify(json)).not.toMatch(/"(encrypted_content|status)":null/);
    },
  );
});

/**
 * OpenAI's shell tool streams its commands with `response.shell_call_command.*` events, which carry
 * no `item_id` (openai-node 7.60's types; its helper finds their item by `output_index`), and the
 * commands' output with `response.shell_call_output_content.*`.
 */
describe("a synthetic shell call streamed as OpenAI streams it", () => {
  it("reaches the SDK's stream helper whole, and the fold builds its commands and output as the helper does", async () => {
    const file = "synthetic__openai-shell-call.chunks.txt";
    const stream = client("sk-test-fixtures").responses.stream({
      model: model(`fixture:${file}:0`),
      input: "replay",
      tools: [{ type: "shell" }],
    });
    const events: Event[] = [];
    for await (const event of stream) events.push(event as unknown as Event);
    const final = await stream.finalResponse();

    expect(final.status).toBe("completed");
    const [call, output] = final.output as unknown as [
      { type: string; action: { commands: string[] } },
      { type: string; output: { stdout: string; stderr: string }[] },
    ];
    expect(call.action.commands).toEqual(["ls", "cat README.md"]);
    expect(output.output.map((entry) => entry.stdout + entry.stderr)).toEqual([
      "README.md\nsrc\n",
      "cat: README.md: Permission denied\n",
    ]);
    expect(final.output_text).toBe("The README is not readable.");
    // Before its terminal event (a response cut there is stored from this fold) the output is built too.
    const streamed = foldEvents(events.slice(0, -1) as unknown as StreamEvent[]);
    expect(streamed?.output.slice(0, 2)).toEqual(final.output.slice(0, 2));
  });
});

const paris = '{"city":"Paris"}';
const weather = {
  type: "function" as const,
  name: "get_weather",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  strict: false,
};

/**
 * Ollama's `/v1/responses` adds a tool call at the output index of the text before it, a message it
 * never finishes, and ends with only the calls (and reasoning) in its output. The gateway finishes the
 * text and moves each call on, so the SDK's helper completes with every item, in order.
 */
const textThenCalls: [file: string, types: string[], text: string, calls: string[]][] = [
  [
    "synthetic__ollama-text-then-tool.chunks.txt",
    ["message", "function_call"],
    "Let me check the weather in Paris.",
    [paris],
  ],
  [
    "synthetic__ollama-reasoning-text-two-tools.chunks.txt",
    ["reasoning", "message", "function_call", "function_call"],
    "Checking both cities 😀.",
    [paris, '{"city":"Tokyo"}'],
  ],
];

describe("synthetic Ollama streams with text before a tool call", () => {
  it.each(textThenCalls)(
    "%s: the text is finished and kept, each call at an index of its own, stored as streamed",
    async (file, types, text, calls) => {
      await expectTextThenCalls(file, types, text, calls);
    },
  );
});

/**
 * llama.cpp's `/v1/responses` (`server-task.cpp`) numbers nothing: no `output_index`, `content_index`
 * or `sequence_number` on any event, a reasoning item's text streamed without its part, and calls
 * without an `id`, their deltas naming the `call_id`. The gateway places each event by its item.
 */
describe("a synthetic llama.cpp stream without output or content indexes", () => {
  it("reaches the SDK's stream helper whole, each item at its index, stored as streamed", async () => {
    const file = "synthetic__llamacpp-reasoning-text-tool.chunks.txt";
    const final = await expectTextThenCalls(
      file,
      ["reasoning", "message", "function_call"],
      "Let me check Paris 😀.",
      [paris],
      true,
    );
    const reasoning = final.output[0] as { content?: { type: string; text: string }[] };
    expect(reasoning.content).toEqual([{ type: "reasoning_text", text: "The user wants the weather." }]);
    const call = final.output[2] as { id?: string; call_id: string };
    expect(call.id).toMatch(/^fc_/);
    expect(call.call_id).toBe("fc_Kq3xZ");
  });

  it("adds its text part listed as OpenAI's, with annotations and logprobs", async () => {
    // llama.cpp adds the part as `{type, text}` alone: the Open Responses schema requires `annotations`
    // (its compliance check of each event fails without them), and the SDK's types promise both.
    const m = model("fixture:synthetic__llamacpp-reasoning-text-tool.chunks.txt:0");
    const stream = client("sk-test-fixtures").responses.stream({ model: m, input: "replay", tools: [weather] });
    const texts: unknown[] = [];
    for await (const event of stream)
      if (event.type === "response.content_part.added" && event.part.type === "output_text") texts.push(event.part);
    expect(texts).toEqual([{ type: "output_text", text: "", annotations: [], logprobs: [] }]);
  });
});

async function expectTextThenCalls(file: string, types: string[], text: string, calls: string[], mintsCallIds = false) {
  const openai = client("sk-test-fixtures");
  const m = model(`fixture:${file}:0`);
  const stream = openai.responses.stream({ model: m, input: "replay", tools: [weather] });
  const events: Event[] = [];
  for await (const event of stream) events.push(event as unknown as Event);
  const final = await stream.finalResponse();

  expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i));
  expect(final.status).toBe("completed");
  expect(final.output.map((item) => item.type)).toEqual(types);
  expect(final.output_text).toBe(text);
  const message = final.output.find((item) => item.type === "message");
  expect(message?.status).toBe("completed");
  const called = final.output.flatMap((item) => (item.type === "function_call" ? [item.arguments] : []));
  expect(called).toEqual(calls);
  // Each item added once and done once, at its own index in order: the text done before the call.
  const at = (type: string) =>
    events.filter((event) => event.type === type).map((event) => [event.output_index, (event.item as Event).type]);
  expect(at("response.output_item.added")).toEqual(types.map((type, i) => [i, type]));
  expect(at("response.output_item.done")).toEqual(types.map((type, i) => [i, type]));
  const textDone = events.find((event) => event.type === "response.output_text.done");
  expect(textDone).toMatchObject({ output_index: types.indexOf("message"), text });
  const partDone = events.filter((event) => event.type === "response.content_part.done");
  expect(partDone.find((event) => event.output_index === types.indexOf("message"))).toMatchObject({ part: { text } });

  const terminal = (events.at(-1) as { response: Event }).response;
  const stored = await (await gatewayFetch(`${GATEWAY_URL}/responses/${final.id}`, { headers: auth })).json<Event>();
  expect(stored).toEqual(terminal);
  expect(foldEvents(events as unknown as StreamEvent[])).toEqual(stored);
  const replay = await gatewayFetch(`${GATEWAY_URL}/responses/${final.id}?stream=true`, { headers: auth });
  expect(await readEvents(replay.body)).toEqual(JSON.parse(JSON.stringify(events)));

  // Not streamed to the client, stored or not: the same items.
  const json = await openai.responses.create({ model: m, input: "replay", tools: [weather] });
  // Calls the server sent without an id (llama.cpp's) get one minted per response.
  const same = (output: object[]) =>
    output.map((item) =>
      mintsCallIds && (item as Event).type === "function_call"
        ? { ...item, id: expect.stringMatching(/^fc_/) as unknown }
        : item,
    );
  expect(json.output).toEqual(same(stored.output as object[]));
  const unstored = await openai.responses.create({ model: m, input: "replay", tools: [weather], store: false });
  expect(unstored.output).toEqual(same(stored.output as object[]));

  // The next turn sends the upstream the text and the calls it answers.
  const outputs = final.output.flatMap((item) =>
    item.type === "function_call"
      ? [{ type: "function_call_output" as const, call_id: item.call_id, output: "sunny" }]
      : [],
  );
  const next = await openai.responses.create({ model: m, input: outputs, previous_response_id: final.id });
  expect(next.status).toBe("completed");
  const sent = (await upstream.requests(m)).at(-1)?.body.input as Event[];
  expect(sent.slice(1, 1 + types.length).map((item) => [item.type, item.id])).toEqual(
    final.output.map((item) => [item.type, item.id]),
  );
  expect(sent.slice(1 + types.length)).toEqual(outputs);
  expect((await openai.responses.inputItems.list(next.id)).data.map((item) => item.type)).toEqual(
    outputs.map(() => "function_call_output"),
  );
  return final;
}

/**
 * vLLM's `/v1/responses` ends every stream with `response.completed`, its response `incomplete`
 * when the answer was cut at `max_output_tokens` (`responses/serving.py`): OpenAI sends
 * `response.incomplete`, the event clients act on (Codex CLI treats the cut answer as an error).
 */
describe("a synthetic vLLM stream cut at max_output_tokens", () => {
  it("ends with response.incomplete, as its response says, stored and replayed so", async () => {
    const m = model("fixture:synthetic__vllm-length-completed.chunks.txt:0");
    const res = await gatewayFetch(`${GATEWAY_URL}/responses`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ model: m, input: "replay", stream: true, max_output_tokens: 16 }),
    });
    const received = await readEvents(res.body);
    const terminal = received.at(-1) as { type: string; response: Event };
    expect(terminal.type).toBe("response.incomplete");
    expect(terminal.response).toMatchObject({
      status: "incomplete",
      incomplete_details: { reason: "max_output_tokens" },
      completed_at: null,
    });
    expect(received.filter((event) => event.type === "response.completed")).toEqual([]);
    const id = terminal.response.id as string;
    const stored = await (await gatewayFetch(`${GATEWAY_URL}/responses/${id}`, { headers: auth })).json();
    expect(stored).toEqual(terminal.response);
    const replay = await gatewayFetch(`${GATEWAY_URL}/responses/${id}?stream=true`, { headers: auth });
    expect(await readEvents(replay.body)).toEqual(received);

    const json = await client("sk-test-fixtures").responses.create({ model: m, input: "replay" });
    expect(json.status).toBe("incomplete");
    expect(json.output_text).toBe("Once upon a time");
  });
});

/**
 * A stream that ends `incomplete` or `failed` with an item still open: OpenAI finishes the item cut
 * at `max_output_tokens` (`output_text.done`, `content_part.done`, `output_item.done` with
 * `status: "incomplete"`) before `response.incomplete`; a server that sends the terminal event
 * straight after its last delta, or a body cut mid-answer, must reach clients that build the answer
 * from `output_item.done` (Codex CLI) the same way.
 */
describe("a synthetic stream that ends with an item still open", () => {
  const file = "synthetic__open-item-at-incomplete-end.chunks.txt";
  const finishing = ["response.output_text.done", "response.content_part.done", "response.output_item.done"];

  async function checkStored(events: Event[]) {
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i));
    const terminal = (events.at(-1) as { response: Event }).response;
    const done = events.filter((event) => event.type === "response.output_item.done").map((event) => event.item);
    expect(done).toEqual(terminal.output);
    const stored = await (
      await gatewayFetch(`${GATEWAY_URL}/responses/${terminal.id as string}`, { headers: auth })
    ).json();
    expect(stored).toEqual(terminal);
    expect(foldEvents(events as unknown as StreamEvent[])).toEqual(stored);
    const replay = await gatewayFetch(`${GATEWAY_URL}/responses/${terminal.id as string}?stream=true`, {
      headers: auth,
    });
    expect(await readEvents(replay.body)).toEqual(JSON.parse(JSON.stringify(events)));
  }

  it("finishes the item response.incomplete left open, incomplete, before it", async () => {
    const stream = client("sk-test-fixtures").responses.stream({ model: model(`fixture:${file}:0`), input: "replay" });
    const events: Event[] = [];
    for await (const event of stream) events.push(event as unknown as Event);
    const final = await stream.finalResponse();

    expect(events.map((event) => event.type).slice(-4)).toEqual([...finishing, "response.incomplete"]);
    expect(events.at(-2)?.item).toMatchObject({ id: "msg_oi1", status: "incomplete" });
    expect(final.status).toBe("incomplete");
    expect(final.output_text).toBe("Once upon a time");
    await checkStored(events);
  });

  it("finishes the item a cut left open, incomplete, before error and response.failed", async () => {
    const res = await gatewayFetch(`${GATEWAY_URL}/responses`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ model: model(`fixture:${file}:1`), input: "replay", stream: true }),
    });
    const events = await readEvents(res.body);
    expect(events.map((event) => event.type).slice(-5)).toEqual([...finishing, "error", "response.failed"]);
    expect(events.at(-3)?.item).toMatchObject({
      id: "msg_oc1",
      status: "incomplete",
      content: [{ type: "output_text", text: "Once upon " }],
    });
    expect((events.at(-1)?.response as Event).status).toBe("failed");
    await checkStored(events);
  });
});

/**
 * SGLang's `/v1/responses` (`serving_responses.py`) streams item events only for gpt-oss: for any
 * other model its stream is `response.created`, `response.in_progress` and `response.completed`,
 * the whole output in the last. The gateway streams each item before the terminal event, as OpenAI
 * does, for clients that build the answer from item events (Codex CLI reads `output_item.done`).
 */
describe("a synthetic SGLang stream whose output comes only in response.completed", () => {
  it("streams every item before the terminal event, stored and replayed as streamed", async () => {
    const m = model("fixture:synthetic__sglang-output-only-at-end.chunks.txt:0");
    const openai = client("sk-test-fixtures");
    const stream = openai.responses.stream({ model: m, input: "replay" });
    const events: { type: string; sequence_number: number }[] = [];
    for await (const event of stream) events.push(event);
    const final = await stream.finalResponse();

    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.map((event) => event.type)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.reasoning_text.delta",
      "response.reasoning_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(final.output.map((item) => item.type)).toEqual(["reasoning", "message"]);
    expect(final.output_text).toBe("Héllo 😀 wörld");
    const done = events.filter((event) => event.type === "response.output_item.done") as unknown as {
      item: { id: string };
    }[];
    expect(done.map((event) => event.item.id)).toEqual(final.output.map((item) => item.id));

    const stored = await (await gatewayFetch(`${GATEWAY_URL}/responses/${final.id}`, { headers: auth })).json();
    expect(stored).toEqual((events.at(-1) as unknown as { response: unknown }).response);
    expect(foldEvents(events as unknown as StreamEvent[])).toEqual(stored);
    const replay = await gatewayFetch(`${GATEWAY_URL}/responses/${final.id}?stream=true`, { headers: auth });
    expect((await readEvents(replay.body)).map((event) => event.type)).toEqual(events.map((event) => event.type));
  });
});

/**
 * SGLang's `/v1/responses` with gpt-oss (`serving_responses.py`, `StreamingHarmonyContext`): every
 * streamed item takes one id, the reasoning's part is added as `output_text`, each item's `done`
 * events come at the next output index (it moves on before sending them), the reasoning's
 * `output_item.done` names another id, a call gets no events at all (only `response.completed`
 * lists it), and that output names every item anew, reasoning and calls with `status: null`.
 */
describe("synthetic SGLang gpt-oss streams", () => {
  const thinking = "The user wants the weather in Paris.";
  const opened = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.reasoning_text.delta",
    "response.reasoning_text.delta",
    "response.reasoning_text.delta",
    "response.reasoning_text.done",
    "response.content_part.done",
    "response.output_item.done",
  ];

  async function streamed(file: string, body: { tools?: (typeof weather)[] } = {}) {
    const m = model(`fixture:${file}:0`);
    const openai = client("sk-test-fixtures");
    const stream = openai.responses.stream({ model: m, input: "replay", ...body });
    const events: Event[] = [];
    for await (const event of stream) events.push(event as unknown as Event);
    const final = await stream.finalResponse();

    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i));
    const terminal = (events.at(-1) as { response: { output: Event[] } }).response;
    const done = events.filter((event) => event.type === "response.output_item.done").map((event) => event.item);
    expect(done).toEqual(terminal.output);
    const added = events.filter((event) => event.type === "response.output_item.added");
    expect(added.map((event) => [event.output_index, (event.item as Event).id])).toEqual(
      final.output.map((item, i) => [i, item.id]),
    );
    expect(new Set(final.output.map((item) => item.id)).size).toBe(final.output.length);
    const reasoning = final.output[0] as unknown as Event;
    expect(reasoning).toEqual({
      id: expect.any(String) as unknown,
      type: "reasoning",
      summary: [],
      content: [{ type: "reasoning_text", text: thinking }],
      status: "completed",
    });
    const part = events.find((event) => event.type === "response.content_part.added");
    expect(part?.part).toEqual({ type: "reasoning_text", text: "" });

    const stored = await (await gatewayFetch(`${GATEWAY_URL}/responses/${final.id}`, { headers: auth })).json<Event>();
    expect(stored).toEqual(terminal);
    expect(foldEvents(events as unknown as StreamEvent[])).toEqual(stored);
    const replay = await gatewayFetch(`${GATEWAY_URL}/responses/${final.id}?stream=true`, { headers: auth });
    expect(await readEvents(replay.body)).toEqual(JSON.parse(JSON.stringify(events)));

    // Not streamed to the client: the same output, each item named as it was streamed.
    const json = await openai.responses.create({ model: m, input: "replay", ...body });
    expect(json.output.map((item) => item.type)).toEqual(final.output.map((item) => item.type));
    expect(json.output[0]).toEqual({ ...reasoning, id: expect.any(String) as unknown });
    return { m, openai, events, final };
  }

  it("streams a call only response.completed lists, each item under the id it keeps", async () => {
    const { m, openai, events, final } = await streamed("synthetic__sglang-gptoss-call.chunks.txt", {
      tools: [weather],
    });
    expect(events.map((event) => event.type)).toEqual([
      ...opened,
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(final.output[1]).toMatchObject({
      id: "ft_9f8e7d6c5b4a4392a1b0c9d8e7f6a5b4",
      type: "function_call",
      call_id: "call_9f8e7d6c5b4a4392a1b0c9d8e7f6a5b4",
      name: "get_weather",
      arguments: paris,
      status: "completed",
    });

    const output = {
      type: "function_call_output" as const,
      call_id: "call_9f8e7d6c5b4a4392a1b0c9d8e7f6a5b4",
      output: "sunny",
    };
    const next = await openai.responses.create({ model: m, input: [output], previous_response_id: final.id });
    expect(next.status).toBe("completed");
    const sent = (await upstream.requests(m)).at(-1)?.body.input as Event[];
    const stored = (events.at(-1) as { response: { output: Event[] } }).response.output;
    expect(sent.slice(1)).toEqual([...stored, output]);
  });

  it("streams the text answer at its own index under an id of its own", async () => {
    const { events, final } = await streamed("synthetic__sglang-gptoss-text.chunks.txt");
    expect(events.map((event) => event.type)).toEqual([
      ...opened,
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(final.output.map((item) => item.type)).toEqual(["reasoning", "message"]);
    expect(final.output_text).toBe("Héllo 😀 wörld");
    expect(final.output[1]?.id).toMatch(/^msg_/);
  });

  // `<|return|>` not in the output SGLang reads (or a server cut short): the answer is never finished.
  it("finishes the answer response.completed left open, as that event lists it, before it", async () => {
    const { events, final } = await streamed("synthetic__sglang-gptoss-text-open.chunks.txt");
    expect(events.map((event) => event.type)).toEqual([
      ...opened,
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(final.output_text).toBe("Héllo 😀 wörld");
    expect(final.output[1]).toMatchObject({ id: expect.stringMatching(/^msg_/) as unknown, status: "completed" });
    const text = events.find((event) => event.type === "response.output_text.done");
    expect(text).toMatchObject({ item_id: final.output[1]?.id, output_index: 1, text: "Héllo 😀 wörld" });
  });

  // `<|end|>` and the answer's header in one chunk: the reasoning's done events never come, and
  // SGLang adds the answer at the reasoning's index, under its id.
  it("finishes the reasoning a multi-token chunk left open and keeps each item once", async () => {
    const { events, final } = await streamed("synthetic__sglang-gptoss-text-chunked.chunks.txt");
    expect(events.map((event) => event.type)).toEqual([
      ...opened.slice(0, -3),
      "response.reasoning_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(final.output.map((item) => item.type)).toEqual(["reasoning", "message"]);
    expect(final.output_text).toBe("Héllo 😀 wörld");
  });

  // SGLang's output may come back empty: a call, which it streams no event for, is then in no event.
  it("keeps the streamed reasoning when response.completed lists no output", async () => {
    const { events, final } = await streamed("synthetic__sglang-gptoss-call-empty-output.chunks.txt", {
      tools: [weather],
    });
    expect(events.map((event) => event.type)).toEqual([...opened, "response.completed"]);
    expect(final.output.map((item) => item.type)).toEqual(["reasoning"]);
  });
});
