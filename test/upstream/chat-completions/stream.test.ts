import { describe, expect, it } from "vitest";
import type { JsonObject, OutputItem, StreamEvent } from "../../../src/responses/types";
import type { SseMessage } from "../../../src/sse";
import { chatCompletionsProtocol } from "../../../src/upstream/chat-completions";
import { fixtureText } from "../../support/fixtures";
import { run, runBody, sdkFromSse, setup, sseMessages, withoutSdkFields, type Run } from "./harness";

const message = (chunk: JsonObject): SseMessage => ({ data: JSON.stringify(chunk) });
const delta = (fields: JsonObject, choice: JsonObject = {}): SseMessage =>
  message({
    id: "chatcmpl-1",
    model: "upstream-model",
    choices: [{ index: 0, delta: fields, finish_reason: null, ...choice }],
  });
const finish = (reason: string, usage?: JsonObject): SseMessage =>
  message({ id: "chatcmpl-1", choices: [{ index: 0, delta: {}, finish_reason: reason }], ...(usage ? { usage } : {}) });
const usageChunk = (usage: JsonObject): SseMessage => message({ id: "chatcmpl-1", choices: [], usage });
const DONE: SseMessage = { data: "[DONE]" };
const call = (index: number | undefined, fields: JsonObject) => ({
  ...(index === undefined ? {} : { index }),
  ...fields,
});

const types = (events: StreamEvent[]) => events.map((event) => event.type);
const outputOf = (result: Run) => result.final.output;

/** Ids are random and timestamps are the clock: blank them so two runs compare. */
const stable = (events: StreamEvent[]) =>
  JSON.parse(
    JSON.stringify(events)
      .replace(/"(resp|msg|rs|fc|ctc)_[0-9a-f]{48}"/g, '"$1_x"')
      .replace(/"(created_at|completed_at)":\d+/g, '"$1":0'),
  ) as unknown;

async function expectSdkAgrees(result: Run): Promise<void> {
  expect(result.anomalies).toEqual([]);
  expect(withoutSdkFields(await sdkFromSse(result))).toEqual(result.final);
}

describe("opening", () => {
  it("sends response.created and response.in_progress at the server's first chunk, before any output", () => {
    // A model that thinks silently sends its role chunk, then nothing for seconds: the client has the id meanwhile.
    const at = setup();
    const translator = chatCompletionsProtocol.createTranslator(at);
    const opened = translator.push(delta({ role: "assistant", content: "" }));
    expect(types(opened)).toEqual(["response.created", "response.in_progress"]);
    expect(opened[0]).toMatchObject({ response: { status: "in_progress", model: "upstream-model", output: [] } });
    expect(types(translator.push(delta({ content: "hi" })))).toEqual([
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
    ]);
  });
});

describe("network chunking", () => {
  const sseFixtures = [
    "pydantic-ai__test_openrouter_streaming_reasoning.body.sse",
    "pydantic-ai__test_openrouter_stream_error.body.sse",
    "fantasy__groq-kimi-k2__multi_tool_streaming.i0.body.sse",
    "openai-node__stream-refusal-logprobs.sse",
    "pydantic-ai__test_tool_use_failed_error_streaming.i0.body.sse",
  ];

  it.each(sseFixtures)("translates %s the same whatever the byte boundaries", async (file) => {
    const text = fixtureText(`chat/${file}`);
    const whole = stable(run(await sseMessages(text)).events);
    for (const pieceSize of [1, 2, 7, 61, 1024])
      expect(stable(run(await sseMessages(text, pieceSize)).events)).toEqual(whole);
  });

  it("translates a stream whose JSON and multi-byte characters are split across network chunks", async () => {
    const body = [
      delta({ role: "assistant", content: "" }),
      delta({ content: "Olá, " }),
      delta({ content: "café ☕ " }),
      delta({ content: "日本語" }),
      finish("stop"),
      DONE,
    ]
      .map((sse) => `data: ${sse.data}\n\n`)
      .join("");
    const result = run(await sseMessages(body, 3));
    expect((outputOf(result)[0]?.content as JsonObject[])[0]?.text).toBe("Olá, café ☕ 日本語");
    await expectSdkAgrees(result);
  });
});

describe("tool calls", () => {
  it("streams a lone call live, fragment by fragment", () => {
    const translator = chatCompletionsProtocol.createTranslator(setup());
    const first = translator.push(
      delta({ tool_calls: [call(0, { id: "call_1", type: "function", function: { name: "f", arguments: "" } })] }),
    );
    expect(types(first)).toEqual(["response.created", "response.in_progress", "response.output_item.added"]);
    const fragment = translator.push(delta({ tool_calls: [call(0, { function: { arguments: '{"a"' } })] }));
    expect(fragment).toMatchObject([{ type: "response.function_call_arguments.delta", delta: '{"a"' }]);
  });

  it("buffers interleaved calls and emits each item whole, one after another, in order", async () => {
    const messages = [
      delta({
        tool_calls: [call(0, { id: "call_a", type: "function", function: { name: "add", arguments: '{"x":' } })],
      }),
      delta({
        tool_calls: [call(1, { id: "call_b", type: "function", function: { name: "mul", arguments: '{"y":' } })],
      }),
      delta({ tool_calls: [call(0, { function: { arguments: "1}" } })] }),
      delta({ tool_calls: [call(1, { function: { arguments: "2}" } })] }),
      finish("tool_calls"),
      DONE,
    ];
    const translator = chatCompletionsProtocol.createTranslator(setup());
    const perPush = messages.map((sse) => translator.push(sse));
    // The first call streams live; the second is held back while the first is unfinished.
    expect(perPush[1]).toEqual([]);
    expect(perPush[2]).toMatchObject([{ type: "response.function_call_arguments.delta", delta: "1}" }]);
    const result = run(messages);
    expect(outputOf(result)).toMatchObject([
      { type: "function_call", call_id: "call_a", name: "add", arguments: '{"x":1}', status: "completed" },
      { type: "function_call", call_id: "call_b", name: "mul", arguments: '{"y":2}', status: "completed" },
    ]);
    await expectSdkAgrees(result);
  });

  it("keeps only the first call when parallel_tool_calls is false and the server made more", async () => {
    const messages = [
      delta({
        tool_calls: [call(0, { id: "call_a", type: "function", function: { name: "add", arguments: '{"x":' } })],
      }),
      delta({
        tool_calls: [call(1, { id: "call_b", type: "function", function: { name: "mul", arguments: '{"y":' } })],
      }),
      delta({ tool_calls: [call(0, { function: { arguments: "1}" } })] }),
      delta({ tool_calls: [call(1, { function: { arguments: "2}" } })] }),
      delta({ tool_calls: [call(2, { id: "call_c", type: "function", function: { name: "add", arguments: "{}" } })] }),
      finish("tool_calls"),
      DONE,
    ];
    const result = run(messages, setup({ parallel_tool_calls: false }));
    expect(outputOf(result)).toMatchObject([
      { type: "function_call", call_id: "call_a", name: "add", arguments: '{"x":1}', status: "completed" },
    ]);
    expect(outputOf(result)).toHaveLength(1);
    await expectSdkAgrees(result);
    // Text after the dropped call still comes; with the flag unset every call is kept.
    const withText = run(
      [...messages.slice(0, 5), delta({ content: "done" }), finish("stop"), DONE],
      setup({ parallel_tool_calls: false }),
    );
    expect(outputOf(withText).map((item) => item.type)).toEqual(["function_call", "message"]);
    expect(outputOf(run(messages))).toHaveLength(3);
  });

  it("finishes a call as soon as the next one starts once its JSON is complete, keeping both live", () => {
    const translator = chatCompletionsProtocol.createTranslator(setup());
    translator.push(
      delta({ tool_calls: [call(0, { id: "call_a", function: { name: "add", arguments: '{"x":1}' } })] }),
    );
    const next = translator.push(
      delta({ tool_calls: [call(1, { id: "call_b", function: { name: "mul", arguments: '{"y"' } })] }),
    );
    expect(types(next)).toEqual([
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.delta",
    ]);
    expect(translator.push(delta({ tool_calls: [call(1, { function: { arguments: ":2}" } })] }))).toMatchObject([
      { type: "response.function_call_arguments.delta", delta: ":2}" },
    ]);
  });

  it("follows calls without `index`: a new id starts a call, other deltas continue the last one", async () => {
    const result = run([
      delta({
        tool_calls: [call(undefined, { id: "call_a", type: "function", function: { name: "add", arguments: '{"x"' } })],
      }),
      delta({ tool_calls: [call(undefined, { function: { arguments: ":1}" } })] }),
      delta({
        tool_calls: [call(undefined, { id: "call_b", type: "function", function: { name: "mul", arguments: "{}" } })],
      }),
      finish("tool_calls"),
      DONE,
    ]);
    expect(outputOf(result)).toMatchObject([
      { call_id: "call_a", name: "add", arguments: '{"x":1}' },
      { call_id: "call_b", name: "mul", arguments: "{}" },
    ]);
    await expectSdkAgrees(result);
  });

  it("mints unique call ids when the upstream sends none, or repeats one", async () => {
    const result = run([
      delta({ tool_calls: [call(0, { function: { name: "a", arguments: "{}" } })] }),
      delta({ tool_calls: [call(1, { id: "call_same", function: { name: "b", arguments: "{}" } })] }),
      delta({ tool_calls: [call(2, { id: "call_same", function: { name: "c", arguments: "{}" } })] }),
      finish("tool_calls"),
      DONE,
    ]);
    const ids = outputOf(result).map((item) => item.call_id as string);
    expect(ids[0]).toMatch(/^call_[A-Za-z0-9]{24}$/);
    expect(ids[1]).toBe("call_same");
    expect(ids[2]).toMatch(/^call_[A-Za-z0-9]{24}$/);
    expect(new Set(ids).size).toBe(3);
    await expectSdkAgrees(result);
  });

  it("starts a new call when a server reuses an index with a new id", () => {
    const result = run([
      delta({ tool_calls: [call(0, { id: "call_a", function: { name: "a", arguments: "{}" } })] }),
      delta({ tool_calls: [call(0, { id: "call_b", function: { name: "b", arguments: "{}" } })] }),
      finish("tool_calls"),
      DONE,
    ]);
    expect(outputOf(result).map((item) => [item.call_id, item.name])).toEqual([
      ["call_a", "a"],
      ["call_b", "b"],
    ]);
  });

  it("sends a call that got no arguments at all as `{}`", async () => {
    const result = run([
      delta({ tool_calls: [call(0, { id: "call_a", function: { name: "now" } })] }),
      finish("tool_calls"),
      DONE,
    ]);
    expect(outputOf(result)).toMatchObject([{ arguments: "{}" }]);
    await expectSdkAgrees(result);
  });

  it("returns calls of custom tools as custom_tool_call items with the decoded input", async () => {
    const at = setup({ tools: [{ type: "custom", name: "run_sql" }] });
    const result = run(
      [
        delta({ tool_calls: [call(0, { id: "call_s", function: { name: "run_sql", arguments: '{"input":' } })] }),
        delta({ tool_calls: [call(0, { function: { arguments: '"SELECT 1"}' } })] }),
        finish("tool_calls"),
        DONE,
      ],
      at,
    );
    expect(outputOf(result)).toMatchObject([
      { type: "custom_tool_call", call_id: "call_s", name: "run_sql", input: "SELECT 1" },
    ]);
    expect(outputOf(result)[0]?.id).toMatch(/^ctc_/);
    expect(types(result.events)).toContain("response.custom_tool_call_input.done");
    await expectSdkAgrees(result);
  });

  it("closes the call and opens a message when text follows a tool call", async () => {
    const result = run([
      delta({ tool_calls: [call(0, { id: "call_a", function: { name: "a", arguments: "{}" } })] }),
      delta({ content: "Done." }),
      finish("stop"),
      DONE,
    ]);
    expect(outputOf(result).map((item) => item.type)).toEqual(["function_call", "message"]);
    await expectSdkAgrees(result);
  });
  it("holds text and reasoning that come between fragments of a call's arguments until the call is whole", async () => {
    const messages = [
      delta({ tool_calls: [call(0, { id: "call_a", type: "function", function: { name: "f", arguments: '{"x":' } })] }),
      delta({ content: "\n" }),
      delta({ reasoning_content: "hmm" }),
      delta({ tool_calls: [call(0, { function: { arguments: "1}" } })] }),
      delta({ content: "Done." }),
      finish("tool_calls"),
      DONE,
    ];
    const result = run(messages);
    expect(outputOf(result)).toMatchObject([
      { type: "function_call", call_id: "call_a", arguments: '{"x":1}', status: "completed" },
      { type: "message", content: [{ type: "output_text", text: "\n" }] },
      { type: "reasoning", content: [{ type: "reasoning_text", text: "hmm" }] },
      { type: "message", content: [{ type: "output_text", text: "Done." }] },
    ]);
    await expectSdkAgrees(result);
  });

  it("sends text held behind a call whose arguments never complete after that call", async () => {
    const result = run([
      delta({ tool_calls: [call(0, { id: "call_a", type: "function", function: { name: "f", arguments: '{"x":' } })] }),
      delta({ content: "Oops." }),
      finish("stop"),
      DONE,
    ]);
    expect(outputOf(result)).toMatchObject([
      { type: "function_call", arguments: '{"x":' },
      { type: "message", content: [{ type: "output_text", text: "Oops." }] },
    ]);
    await expectSdkAgrees(result);
  });
});

describe("text, reasoning and refusals", () => {
  it("maps content logprobs onto output_text deltas and the final part", async () => {
    const logprob = (token: string, logprob: number) => ({
      token,
      logprob,
      bytes: null,
      top_logprobs: [{ token, logprob, bytes: [65] }],
    });
    const result = run([
      delta({ role: "assistant", content: "Hel" }, { logprobs: { content: [logprob("Hel", -0.1)] } }),
      delta({ content: "lo" }, { logprobs: { content: [logprob("lo", -0.2)] } }),
      finish("stop"),
      DONE,
    ]);
    const expected = [
      { token: "Hel", logprob: -0.1, bytes: [], top_logprobs: [{ token: "Hel", logprob: -0.1, bytes: [65] }] },
      { token: "lo", logprob: -0.2, bytes: [], top_logprobs: [{ token: "lo", logprob: -0.2, bytes: [65] }] },
    ];
    const deltas = result.events.filter((event) => event.type === "response.output_text.delta");
    expect(deltas.map((event) => event.logprobs)).toEqual([[expected[0]], [expected[1]]]);
    expect((outputOf(result)[0]?.content as JsonObject[])[0]).toEqual({
      type: "output_text",
      annotations: [],
      logprobs: expected,
      text: "Hello",
    });
    await expectSdkAgrees(result);
  });

  it("sends text deltas with empty logprobs when the upstream sent none", () => {
    const result = run([delta({ content: "Hi" }), finish("stop"), DONE]);
    expect(result.events.find((event) => event.type === "response.output_text.delta")?.logprobs).toEqual([]);
  });

  it("keeps a refusal and the text after it as two parts of one message", async () => {
    const result = run([delta({ refusal: "I can't" }), delta({ content: "But here is why." }), finish("stop"), DONE]);
    expect(outputOf(result)).toHaveLength(1);
    expect(outputOf(result)[0]?.content).toEqual([
      { type: "refusal", refusal: "I can't" },
      { type: "output_text", annotations: [], logprobs: [], text: "But here is why." },
    ]);
    await expectSdkAgrees(result);
  });

  it("reads reasoning once when a server sends it under two names (vLLM `reasoning` + `reasoning_content`)", () => {
    const result = run([
      delta({ reasoning: "Think", reasoning_content: "Think" }),
      delta({ content: "Answer" }),
      finish("stop"),
      DONE,
    ]);
    expect(outputOf(result)[0]?.content).toEqual([{ type: "reasoning_text", text: "Think" }]);
  });

  it("reads OpenRouter reasoning_details when no plain reasoning field is set", () => {
    const details = [{ type: "reasoning.text", text: "Step one.", format: "anthropic-claude-v1", index: 0 }];
    const result = run([delta({ reasoning: null, reasoning_details: details }), finish("stop"), DONE]);
    expect(outputOf(result)[0]?.content).toEqual([{ type: "reasoning_text", text: "Step one." }]);
  });

  it("reads Mistral's thinking parts of content as reasoning, its text parts as the answer", async () => {
    const thinking = (text: string) => ({ type: "thinking", thinking: [{ type: "text", text }] });
    const result = run([
      delta({ role: "assistant", content: [thinking("Weigh it. ")] }),
      delta({ content: [thinking("Done.")] }),
      delta({ content: [{ type: "text", text: "Forty-two." }] }),
      finish("stop"),
      DONE,
    ]);
    expect(outputOf(result).map((item: OutputItem) => item.type)).toEqual(["reasoning", "message"]);
    expect(outputOf(result)[0]?.content).toEqual([{ type: "reasoning_text", text: "Weigh it. Done." }]);
    expect(outputOf(result)[1]?.content).toMatchObject([{ type: "output_text", text: "Forty-two." }]);
    await expectSdkAgrees(result);
  });

  it("opens a new reasoning item when reasoning resumes after text", async () => {
    const result = run([
      delta({ reasoning_content: "a" }),
      delta({ content: "b" }),
      delta({ reasoning_content: "c" }),
      delta({ content: "d" }),
      finish("stop"),
      DONE,
    ]);
    expect(outputOf(result).map((item: OutputItem) => item.type)).toEqual([
      "reasoning",
      "message",
      "reasoning",
      "message",
    ]);
    await expectSdkAgrees(result);
  });
});

describe("reasoning asked for as a summary (`reasoning.summary`)", () => {
  const asked = (summary = "auto") => setup({ reasoning: { summary } });
  /** The events as the client gets them (the normalizer's fold writes into the translator's items). */
  const sent = (result: Run) => result.normalized.map((event) => JSON.parse(event.json) as JsonObject);
  const reasoningEvents = (result: Run) =>
    types(result.events).filter((type) => type.startsWith("response.reasoning") || type.includes("part"));

  it.each(["auto", "concise", "detailed"])(
    "%s: streams the text as one summary part, in OpenAI's order, and keeps no content",
    async (summary) => {
      const result = run(
        [delta({ reasoning_content: "Count " }), delta({ reasoning_content: "the r's." }), delta({ content: "3" }), finish("stop"), DONE],
        asked(summary),
      ); // prettier-ignore
      expect(types(result.events).slice(2, 9)).toEqual([
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
      ]);
      expect(sent(result)[2]?.item).toEqual({
        id: expect.stringMatching(/^rs_/) as string,
        type: "reasoning",
        summary: [],
        encrypted_content: "gwr1",
        status: "in_progress",
      });
      expect(sent(result)[3]).toMatchObject({ summary_index: 0, part: { type: "summary_text", text: "" } });
      expect(sent(result)[7]).toMatchObject({
        summary_index: 0,
        part: { type: "summary_text", text: "Count the r's." },
      });
      expect(sent(result)[7]).not.toHaveProperty("status");
      expect(outputOf(result)[0]).toEqual({
        id: expect.stringMatching(/^rs_/) as string,
        type: "reasoning",
        summary: [{ type: "summary_text", text: "Count the r's." }],
        encrypted_content: "gwr1",
        status: "completed",
      });
      await expectSdkAgrees(result);
    },
  );

  it("splits a <think> block into the summary, and leaves a request without summary as it was", () => {
    const body = [delta({ content: "<think>Hmm.</think>Yes." }), finish("stop"), DONE];
    expect(outputOf(run(body, asked()))[0]).toMatchObject({ summary: [{ type: "summary_text", text: "Hmm." }] });
    expect(outputOf(run(body, asked()))[0]).not.toHaveProperty("content");
    const plain = run(body, setup({ reasoning: { effort: "high", summary: null } }));
    expect(outputOf(plain)[0]).toMatchObject({ summary: [], content: [{ type: "reasoning_text", text: "Hmm." }] });
    expect(reasoningEvents(plain)).not.toContain("response.reasoning_summary_part.added");
  });

  it("marks the summary part of a cut answer incomplete, and a plain JSON body gives the same item", async () => {
    const cut = run([delta({ reasoning_content: "Long" }), finish("length"), DONE], asked());
    expect(cut.events.find((event) => event.type === "response.reasoning_summary_part.done")).toMatchObject({
      status: "incomplete",
    });
    expect(outputOf(cut)[0]).toMatchObject({ summary: [{ type: "summary_text", text: "Long" }], status: "incomplete" });
    await expectSdkAgrees(cut);
    const body = {
      id: "chatcmpl-1",
      choices: [{ index: 0, message: { role: "assistant", reasoning_content: "Why.", content: "So." }, finish_reason: "stop" }],
    }; // prettier-ignore
    const whole = runBody(body, asked());
    expect(whole.anomalies).toEqual([]);
    expect(sent(whole)[2]?.item).toEqual({
      id: expect.stringMatching(/^rs_/) as string,
      type: "reasoning",
      summary: [],
      encrypted_content: "gwr1",
      status: "in_progress",
    });
    expect(outputOf(whole)[0]).toMatchObject({ summary: [{ type: "summary_text", text: "Why." }] });
    expect(outputOf(whole)[0]).not.toHaveProperty("content");
  });
});

describe("a <think> block at the start of content (no reasoning parser on the server)", () => {
  const texts = (result: Run) =>
    outputOf(result).map((item: OutputItem) => [
      item.type,
      ((item.content ?? []) as JsonObject[]).map((part) => part.text).join(""),
    ]);

  it("reads it as reasoning and the rest as the answer, wherever the chunks cut the tags", async () => {
    const content = "\n<think>\nLet me see.\n</think>\n\nHello.";
    for (let cut = 1; cut < content.length; cut++)
      for (let second = cut + 1; second <= content.length; second++) {
        const pieces = [content.slice(0, cut), content.slice(cut, second), content.slice(second)];
        const result = run([...pieces.filter((piece) => piece !== "").map((piece) => delta({ content: piece })), DONE]);
        expect(texts(result), JSON.stringify(pieces)).toEqual([
          ["reasoning", "Let me see."],
          ["message", "Hello."],
        ]);
      }
    const result = run([
      delta({ content: "<thi" }),
      delta({ content: "nk>Hm.</th" }),
      delta({ content: "ink>Hi" }),
      DONE,
    ]);
    await expectSdkAgrees(result);
  });

  it("leaves no reasoning for an empty block (Qwen3 with thinking off)", () => {
    const result = run([delta({ content: "<think>\n\n</think>\n\n" }), delta({ content: "Hi." }), DONE]);
    expect(texts(result)).toEqual([["message", "Hi."]]);
  });

  it("keeps tags that do not open the content as text, with their logprobs", () => {
    const logprobs = { content: [{ token: "<", logprob: -0.5, bytes: [60], top_logprobs: [] }] };
    const result = run([
      delta({ content: "<" }, { logprobs }),
      delta({ content: "b>Use <think> tags.</think>" }),
      finish("stop"),
      DONE,
    ]);
    expect(texts(result)).toEqual([["message", "<b>Use <think> tags.</think>"]]);
    expect(outputOf(result)[0]?.content).toMatchObject([{ logprobs: [{ token: "<", logprob: -0.5 }] }]);
  });

  it("ends the reasoning item incomplete when the answer is cut off inside the block", async () => {
    const result = run([delta({ content: "<think>Step one" }), delta({ content: "</thi" }), finish("length"), DONE]);
    expect(result.final.status).toBe("incomplete");
    expect(outputOf(result)).toMatchObject([
      { type: "reasoning", status: "incomplete", content: [{ type: "reasoning_text", text: "Step one</thi" }] },
    ]);
    await expectSdkAgrees(result);
  });

  it("reads content as reasoning up to </think> on a route whose template opened the block", async () => {
    const opened = () => ({ ...setup(), templateOpensThink: true });
    const result = run(
      [
        delta({ content: "\nThe user greets" }),
        delta({ content: " me.\n</th" }),
        delta({ content: "ink>\n\nHi!" }),
        finish("stop"),
        DONE,
      ],
      opened(),
    );
    expect(texts(result)).toEqual([
      ["reasoning", "The user greets me."],
      ["message", "Hi!"],
    ]);
    await expectSdkAgrees(result);
    // A model that writes the tag itself anyway, and one cut off before `</think>`.
    expect(texts(run([delta({ content: "<think>Hm.</think>Yes." }), DONE], opened()))).toEqual([
      ["reasoning", "Hm."],
      ["message", "Yes."],
    ]);
    expect(texts(run([delta({ content: "Still thinking" }), finish("length"), DONE], opened()))).toEqual([
      ["reasoning", "Still thinking"],
    ]);
  });

  it("reads it before a tool call, and in a non-streamed completion", () => {
    const result = run([
      delta({ content: "<think>Call f.</think>\n\n" }),
      delta({ tool_calls: [call(0, { id: "call_f", function: { name: "f", arguments: "{}" } })] }),
      finish("tool_calls"),
      DONE,
    ]);
    expect(texts(result)).toEqual([
      ["reasoning", "Call f."],
      ["function_call", ""],
    ]);
    const body = {
      id: "chatcmpl-1",
      object: "chat.completion",
      model: "m",
      choices: [{ index: 0, message: { role: "assistant", content: "<think>Hm.</think>Yes." }, finish_reason: "stop" }],
    };
    expect(texts(runBody(body))).toEqual([
      ["reasoning", "Hm."],
      ["message", "Yes."],
    ]);
  });
});

describe("terminal events", () => {
  it("waits for [DONE] so a usage chunk with empty choices after the finish reason is included", () => {
    const translator = chatCompletionsProtocol.createTranslator(setup());
    translator.push(delta({ content: "Hi" }));
    expect(translator.push(finish("stop"))).toEqual([]);
    expect(translator.push(usageChunk({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 }))).toEqual([]);
    const closing = translator.push(DONE);
    expect(types(closing)).toEqual([
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect((closing.at(-1)?.response as JsonObject).usage).toEqual({
      input_tokens: 5,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: 2,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 7,
    });
    expect(translator.push(delta({ content: "late" }))).toEqual([]);
    expect(translator.finish()).toEqual([]);
  });

  it("keeps usage when a later choices:[] chunk carries none (OpenAI moderation chunk)", () => {
    const result = run([
      delta({ content: "Hi" }),
      finish("stop"),
      usageChunk({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7, prompt_cache_hit_tokens: 3 }),
      message({ id: "chatcmpl-1", choices: [], moderation: { input: {} } }),
      DONE,
    ]);
    expect(result.final.usage).toMatchObject({ input_tokens: 5, input_tokens_details: { cached_tokens: 3 } });
  });

  it("ends as incomplete with reason content_filter", async () => {
    const result = run([delta({ content: "Once upon" }), finish("content_filter"), DONE]);
    expect(result.final).toMatchObject({
      status: "incomplete",
      incomplete_details: { reason: "content_filter" },
      completed_at: null,
    });
    expect(outputOf(result)[0]?.status).toBe("incomplete");
    await expectSdkAgrees(result);
  });

  it("ends as incomplete with reason max_output_tokens on Mistral's model_length", async () => {
    const result = run([delta({ content: "Once upon" }), finish("model_length"), DONE]);
    expect(result.final).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
    await expectSdkAgrees(result);
  });

  it.each(["error", "abort", "insufficient_system_resource"])(
    "fails, keeping the partial output, when the server stops the answer with finish_reason %s",
    (reason) => {
      const usage = { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 };
      for (const ending of [[finish(reason, usage), DONE], [finish(reason, usage)]]) {
        const result = run([delta({ content: "Once upon" }), ...ending]);
        expect(result.anomalies).toEqual([]);
        expect(result.final).toMatchObject({
          status: "failed",
          error: { code: "server_error", message: expect.stringContaining(`'${reason}'`) as string },
          usage: { input_tokens: 5, output_tokens: 2 },
        });
        expect(outputOf(result)).toMatchObject([{ status: "incomplete", content: [{ text: "Once upon" }] }]);
        expect(result.events.map((event) => event.type).slice(-2)).toEqual(["error", "response.failed"]);
      }
    },
  );

  it("completes a body that ends after its finish reason without [DONE]", () => {
    const result = run([delta({ content: "Hi" }), finish("stop")]);
    expect(result.final.status).toBe("completed");
    expect(typeof result.final.completed_at).toBe("number");
  });

  it("returns nothing when the body is cut off with no [DONE] and no finish reason, so the response fails", () => {
    const translator = chatCompletionsProtocol.createTranslator(setup());
    translator.push(delta({ content: "Hel" }));
    expect(translator.finish()).toEqual([]);
    const result = run([delta({ content: "Hel" })]);
    expect(result.final.status).toBe("failed");
    expect(outputOf(result)).toMatchObject([{ type: "message", status: "incomplete", content: [{ text: "Hel" }] }]);
  });

  it("fails with the upstream's words on an `event: error` that is not JSON", () => {
    const result = run([delta({ content: "Hi" }), { event: "error", data: "upstream exploded" }]);
    expect(result.final).toMatchObject({
      status: "failed",
      error: { code: "server_error", message: "upstream exploded" },
    });
  });

  it("fails with the server's words and OpenAI's context_length_exceeded on llama.cpp's `error:` line, though `[DONE]` follows", async () => {
    const body =
      'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n' +
      'error: {"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}\n\n' +
      "data: [DONE]\n\n";
    const result = run(await sseMessages(body));
    expect(result.final).toMatchObject({
      status: "failed",
      // Codex CLI retries a stream failed with any other code, the same prompt each time.
      error: {
        code: "context_length_exceeded",
        message: "the request exceeds the available context size, try increasing it",
        type: "invalid_request_error",
        param: "input",
      },
    });
    expect(outputOf(result)).toMatchObject([{ status: "incomplete", content: [{ text: "Hel" }] }]);
  });

  it("fails on a data line that is not JSON", () => {
    const result = run([delta({ content: "Hi" }), { data: "{not json" }, DONE]);
    expect(result.final.status).toBe("failed");
    expect(result.final.error).toMatchObject({ code: "server_error" });
    expect(outputOf(result)).toMatchObject([{ status: "incomplete", content: [{ text: "Hi" }] }]);
  });

  it("ends with the tier the server served (else default), not the requested one it was never sent", () => {
    const served = (chunk: JsonObject) => message({ id: "chatcmpl-1", choices: [{ index: 0, delta: {} }], ...chunk });
    const flex = setup({ service_tier: "flex" });
    const reported = run([served({ service_tier: "default" }), delta({ content: "Hi" }), finish("stop"), DONE], flex);
    expect((reported.events[0]?.response as JsonObject).service_tier).toBe("flex");
    expect(reported.final.service_tier).toBe("default");
    expect(
      run([delta({ content: "Hi" }), finish("stop"), DONE], setup({ service_tier: "priority" })).final,
    ).toMatchObject({
      service_tier: "default",
    });
    // A tier no Response can name (Groq's, an empty one) is not taken up.
    const groq = run([served({ service_tier: "on_demand" }), served({ service_tier: "" }), finish("length"), DONE]);
    expect(groq.final).toMatchObject({ status: "incomplete", service_tier: "default" });
    expect(run([served({ service_tier: "flex" }), finish("stop"), DONE]).final.service_tier).toBe("flex");
  });

  it("uses the requested model when the upstream names none", () => {
    const result = run([message({ choices: [{ index: 0, delta: { content: "Hi" } }] }), DONE]);
    expect(result.final.model).toBe("requested-model");
  });

  it("completes an empty answer", async () => {
    const result = run([finish("stop"), DONE]);
    expect(result.final).toMatchObject({ status: "completed", output: [] });
    await expectSdkAgrees(result);
  });

  it("passes a background normalizer too (created and queued come from the gateway)", () => {
    const at = setup({ background: true });
    const normalizer = at.normalizer;
    const translator = chatCompletionsProtocol.createTranslator(at);
    const sent = [...normalizer.begin()];
    for (const sse of [delta({ content: "Hi" }), finish("stop"), DONE])
      for (const event of translator.push(sse)) sent.push(...normalizer.accept(event));
    expect(sent.slice(0, 3).map((event) => event.type)).toEqual([
      "response.created",
      "response.queued",
      "response.in_progress",
    ]);
    expect(normalizer.snapshot).toMatchObject({ status: "completed", model: "upstream-model", background: true });
    expect(at.anomalies).toEqual([]);
  });
});
