// A tool output that answers no call is refused as OpenAI refuses it (400, param `input`), whatever
// the upstream would have made of it, before any upstream call or write; an output whose call is in
// the request itself or the conversation goes through (the previous response: chat-tool-loop and
// ws/continuation). A function or custom tool call left without its output is refused likewise over
// a chat upstream (OpenAI's "No tool output found…"); a Responses upstream is sent it and decides.

import { BadRequestError } from "openai";
import { beforeAll, describe, expect, it } from "vitest";
import { received, routed } from "../support/chat";
import { client, model, upstream } from "../support/gateway";
import { rowCounts } from "../support/tables";

const KEY = "sk-test-tool-outputs";
const openai = client(KEY);

const ORPHAN = { type: "function_call_output" as const, call_id: "call_answers_nothing", output: "sunny" };

const weatherTool = {
  type: "function" as const,
  name: "get_weather",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  strict: false,
};

/** A model name on each upstream protocol, and what its upstream was sent. */
const PROTOCOLS = [
  ["responses", () => {
    const m = model("text:1");
    return { model: m, sent: () => upstream.requests(m) };
  }],
  ["chat_completions", () => {
    const m = routed("text:1");
    return { model: m.model, sent: () => received(m) };
  }],
] as const; // prettier-ignore

const MODES = [
  ["a JSON create", {}],
  ["a stream", { stream: true }],
  ["a background run", { background: true }],
  ["store:false", { store: false }],
] as const;

beforeAll(async () => {
  // The key's first use records its tenant; the refusals below must write nothing at all.
  await openai.responses.create({ model: model("text:1"), input: "hello" });
});

describe("a tool output that answers no call", () => {
  describe.each(PROTOCOLS)("over a %s upstream", (_protocol, target) => {
    it.each(MODES)("%s: 400 in OpenAI's words, no upstream call, nothing written", async (_mode, extra) => {
      const { model: m, sent } = target();
      const before = await rowCounts();
      const error = await openai.responses.create({ model: m, input: [ORPHAN], ...extra }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BadRequestError);
      expect((error as BadRequestError).error).toEqual({
        message: "No tool call found for function call output with call_id call_answers_nothing.",
        type: "invalid_request_error",
        param: "input",
        code: null,
      });
      expect(await sent()).toEqual([]);
      expect(await rowCounts()).toEqual(before);
    });
  });
});

describe("a tool output that answers a call", () => {
  it("goes through when the call is in the request itself, of another kind (Codex's local shell, store:false)", async () => {
    const m = model("echo");
    const shell = {
      type: "local_shell_call" as const,
      id: "lsh_1",
      call_id: "call_shell_1",
      status: "completed" as const,
      action: { type: "exec" as const, command: ["ls"], env: {} },
    };
    const answer = { type: "function_call_output" as const, call_id: "call_shell_1", output: "README.md" };
    const response = await openai.responses.create({ model: m, input: [shell, answer], store: false });
    expect(response.status).toBe("completed");
    const [sent] = await upstream.requests(m);
    expect((sent?.body.input as { type?: string }[]).map((item) => item.type)).toEqual([
      "local_shell_call",
      "function_call_output",
    ]);
  });

  it("goes through when the call is in the conversation's items", async () => {
    const conversation = await openai.conversations.create();
    const first = await openai.responses.create({
      model: model("function:get_weather"),
      conversation: conversation.id,
      input: "weather in Paris?",
      tools: [weatherTool],
    });
    const call = first.output.find((item) => item.type === "function_call");
    const m = model("echo");
    const next = await openai.responses.create({
      model: m,
      conversation: conversation.id,
      input: [
        { type: "function_call_output", call_id: call?.type === "function_call" ? call.call_id : "", output: "sunny" },
      ],
    });
    expect(next.status).toBe("completed");
    const [sent] = await upstream.requests(m);
    expect((sent?.body.input as { type?: string }[]).map((item) => item.type ?? "message")).toEqual([
      "message",
      "function_call",
      "function_call_output",
    ]);
  });
});

describe("a function call without its output", () => {
  const CALL = {
    type: "function_call" as const,
    call_id: "call_never_answered",
    name: "get_weather",
    arguments: '{"city":"Paris"}',
  };
  const refusal = {
    message: "No tool output found for function call call_never_answered.",
    type: "invalid_request_error",
    param: "input",
    code: null,
  };

  it.each(MODES)("%s over chat: 400 in OpenAI's words, no upstream call, nothing written", async (_mode, extra) => {
    const m = routed("text:1");
    const before = await rowCounts();
    const input = [{ role: "user" as const, content: "weather?" }, CALL, { role: "user" as const, content: "and?" }];
    const error = await openai.responses
      .create({ model: m.model, input, tools: [weatherTool], ...extra })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).error).toEqual(refusal);
    expect(await received(m)).toEqual([]);
    expect(await rowCounts()).toEqual(before);
  });

  it("over chat: refused when the previous response's call is left unanswered by the next turn", async () => {
    const first = await openai.responses.create({
      model: routed("tools").model,
      input: "weather in Paris?",
      tools: [weatherTool],
    });
    const call = first.output.find((item) => item.type === "function_call");
    expect(call).toBeDefined();
    const m = routed("text:1");
    const error = await openai.responses
      .create({ model: m.model, previous_response_id: first.id, input: "never mind", tools: [weatherTool] })
      .catch((e: unknown) => e);
    expect((error as BadRequestError).error).toMatchObject({
      message: `No tool output found for function call ${call?.type === "function_call" ? call.call_id : ""}.`,
      param: "input",
    });
    expect(await received(m)).toEqual([]);
  });

  it("over chat: goes through when it is answered later in the input, a custom tool call as well", async () => {
    const m = routed("text:1");
    const custom = { type: "custom_tool_call" as const, call_id: "call_custom_1", name: "run", input: "ls" };
    const input = [
      { role: "user" as const, content: "weather?" },
      CALL,
      custom,
      { type: "function_call_output" as const, call_id: CALL.call_id, output: "sunny" },
      { type: "custom_tool_call_output" as const, call_id: custom.call_id, output: "README.md" },
    ];
    const tools = [weatherTool, { type: "custom" as const, name: "run" }];
    const response = await openai.responses.create({ model: m.model, input, tools });
    expect(response.status).toBe("completed");
    expect(await received(m)).toHaveLength(1);
  });

  it("over chat: refused when it follows a compaction item, which answers only what it replaced", async () => {
    const summary = await openai.responses.compact({
      model: routed("summarize").model,
      input: [{ role: "user", content: "Plan a trip." }],
    });
    const compaction = summary.output.find((item) => item.type === "compaction");
    expect(compaction).toBeDefined();
    const m = routed("text:1");
    const input = [
      compaction!,
      { role: "user" as const, content: "weather?" },
      CALL,
      { role: "user" as const, content: "and?" },
    ];
    const error = await openai.responses
      .create({ model: m.model, input, tools: [weatherTool], store: false })
      .catch((e: unknown) => e);
    expect((error as BadRequestError).error).toEqual(refusal);
    expect(await received(m)).toEqual([]);
  });

  it("over chat: POST /v1/responses/compact refuses it too, before its summary call", async () => {
    const m = routed("summarize");
    const input = [{ role: "user" as const, content: "weather?" }, CALL, { role: "user" as const, content: "and?" }];
    const error = await openai.responses.compact({ model: m.model, input }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).error).toEqual(refusal);
    expect(await received(m)).toEqual([]);
  });

  it("is sent to a Responses upstream, which decides", async () => {
    const m = model("text:1");
    const response = await openai.responses.create({
      model: m,
      input: [{ role: "user", content: "weather?" }, CALL],
      tools: [weatherTool],
    });
    expect(response.status).toBe("completed");
    expect(await upstream.requests(m)).toHaveLength(1);
  });
});
