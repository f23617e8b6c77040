// Clients other than the `openai` SDK, pointed at the real Worker as their users would (base URL
// and key only): the Vercel AI SDK's OpenAI Responses and Open Responses providers, the OpenAI Agents
// SDK, LangChain's ChatOpenAI on the Responses API, and the request Codex CLI sends (its shape:
// store:false, encrypted reasoning, function and custom tools).

import { createOpenAI } from "@ai-sdk/openai";
import { createOpenResponses } from "@ai-sdk/open-responses";
import { ChatOpenAI } from "@langchain/openai";
import {
  Agent,
  OpenAIConversationsSession,
  OpenAIProvider,
  Runner,
  RunState,
  setTracingDisabled,
} from "@openai/agents";
import { APICallError, generateText, jsonSchema, stepCountIs, streamText } from "ai";
import { describe, expect, it } from "vitest";
import { received, routed } from "../support/chat";
import { client, gatewayFetch, GATEWAY_URL, model, readEvents, upstream, words } from "../support/gateway";
import { weatherTool } from "../support/weather-tool";

const KEY = "sk-test-other-clients";
const DEEPSEEK_REASONING = "fixture:vercel-ai__deepseek-reasoning.chunks.txt";

/** The AI SDK tool set the function-call tests declare: the mock's `get_weather`. */
const WEATHER_TOOLS = {
  get_weather: {
    description: "The weather in a city",
    inputSchema: jsonSchema<{ city: string }>({
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
    }),
  },
};

/** The text of an AI SDK stream read to its end; an error part fails the test. */
async function streamedText(parts: AsyncIterable<{ type: string; text?: string; error?: unknown }>): Promise<string> {
  let text = "";
  for await (const part of parts) {
    if (part.type === "error") throw part.error;
    if (part.type === "text-delta") text += part.text ?? "";
  }
  return text;
}

describe("the Vercel AI SDK (@ai-sdk/openai, Responses)", () => {
  const provider = createOpenAI({ baseURL: GATEWAY_URL, apiKey: KEY, fetch: gatewayFetch });

  /**
   * A two-step store:false tool loop on the thinking chat route (`openai`: more provider options), and
   * the assistant message of its second chat request, where the first step's reasoning must come back.
   */
  async function storelessWeatherLoop(openai: Record<string, string | boolean>) {
    const m = routed("think-tools");
    const result = await generateText({
      model: provider.responses(m.model),
      prompt: "Weather in Paris?",
      tools: {
        get_weather: { ...WEATHER_TOOLS.get_weather, execute: ({ city }: { city: string }) => `sunny in ${city}` },
      },
      stopWhen: stepCountIs(2),
      providerOptions: { openai: { store: false, ...openai } },
    });
    const [, second] = await received(m);
    const assistant = (second?.body.messages as Record<string, unknown>[]).find(
      (message) => message.role === "assistant",
    );
    return { result, assistant };
  }

  it("streams text, finishes with usage, and the response is stored under the id it reports", async () => {
    const result = streamText({ model: provider.responses(model("text:5")), prompt: "hi" });
    const text = await streamedText(result.fullStream);
    expect(text).toBe(words(5));
    expect(await result.finishReason).toBe("stop");
    expect((await result.usage).outputTokens).toBeGreaterThan(0);
    const stored = await client(KEY).responses.retrieve((await result.response).id);
    expect(stored).toMatchObject({ status: "completed", output_text: words(5) });
  });

  it("generates text and chains it with previousResponseId", async () => {
    const first = await generateText({ model: provider.responses(model("text:2")), prompt: "one" });
    expect(first.text).toBe(words(2));
    const m = model("echo");
    const second = await generateText({
      model: provider.responses(m),
      prompt: "two",
      providerOptions: { openai: { previousResponseId: first.response.id } },
    });
    // The upstream got the chain: the first turn's input and output, then the new input.
    expect(second.text).toBe("echo(3): two");
    expect((await upstream.requests(m))[0]?.body.store).toBe(false);
  });

  it("reads a function call as a tool call with its parsed input", async () => {
    const result = await generateText({
      model: provider.responses(model("function:get_weather")),
      prompt: "weather?",
      tools: WEATHER_TOOLS,
    });
    expect(result.toolCalls.map((call) => [call.toolName, call.input])).toEqual([["get_weather", { city: "Paris" }]]);
    expect(result.finishReason).toBe("tool-calls");
  });

  it("streams with store:false and nothing of it can be retrieved", async () => {
    const result = streamText({
      model: provider.responses(model("text:3")),
      prompt: "hi",
      providerOptions: { openai: { store: false } },
    });
    let text = "";
    for await (const delta of result.textStream) text += delta;
    expect(text).toBe(words(3));
    await expect(client(KEY).responses.retrieve((await result.response).id)).rejects.toMatchObject({ status: 404 });
  });

  it.each([
    ["told to reason (forceReasoning)", { forceReasoning: true }],
    // A model name the SDK does not know to reason: it asks for no encrypted reasoning, and sends
    // back the reasoning part it got with whatever encrypted_content the item carried.
    ["not told", {}],
  ])(
    "carries a chat model's reasoning through a store:false tool loop, %s, back as reasoning_content",
    async (_how, options) => {
      const { result, assistant } = await storelessWeatherLoop(options);
      expect(result.text).toBe("results: sunny in Paris");
      // The SDK sent the reasoning back as OpenAI's stateless form (sealed, no text); the server got the text.
      expect(assistant).toMatchObject({
        reasoning_content: "The weather needs a tool.",
        tool_calls: [{ type: "function" }],
      });
    },
  );

  it("shows a chat model's reasoning asked for with reasoningSummary, generated and streamed", async () => {
    // The SDK sends `reasoning.summary` only for a model it takes to reason: this name needs forceReasoning.
    const openai = { reasoningSummary: "auto", forceReasoning: true };
    const generated = await generateText({
      model: provider.responses(routed(DEEPSEEK_REASONING).model),
      prompt: "How many r's in strawberry?",
      providerOptions: { openai },
    });
    expect(generated.reasoningText).toMatch(/^We need to count the number of the letter "r"/);
    const streamed = streamText({
      model: provider.responses(routed(DEEPSEEK_REASONING).model),
      prompt: "How many r's in strawberry?",
      providerOptions: { openai },
    });
    let reasoning = "";
    for await (const part of streamed.fullStream) if (part.type === "reasoning-delta") reasoning += part.text;
    expect(reasoning).toBe(generated.reasoningText);
  });

  it("carries a chat model's reasoning shown as a summary through a store:false tool loop", async () => {
    const { result, assistant } = await storelessWeatherLoop({ reasoningSummary: "auto", forceReasoning: true });
    expect(result.steps[0]?.reasoningText).toBe("The weather needs a tool.");
    expect(assistant).toMatchObject({ reasoning_content: "The weather needs a tool." });
  });

  it.each([
    ["Responses", () => model("cut-after:3")],
    ["Chat Completions", () => routed("cut-after:3").model],
  ])(
    "reports a non-streaming create whose %s upstream was cut with the gateway's message, as retrieve keeps it",
    async (_protocol, scenario) => {
      const message = "The upstream connection failed before the response was complete.";
      const failure: unknown = await generateText({
        model: provider.responses(scenario()),
        prompt: "x",
        maxRetries: 0,
      }).catch((caught: unknown) => caught);
      // The SDK parsed the failed Response (its schema requires the error's `type`) and threw its message.
      expect(APICallError.isInstance(failure)).toBe(true);
      expect((failure as APICallError).message).toBe(message);
      // The body the SDK parsed (this version keeps the object, though its type says string).
      const body: unknown = (failure as APICallError).responseBody;
      const created = (typeof body === "string" ? JSON.parse(body) : body) as { id: string; error: unknown };
      expect(created.error).toEqual({ code: "server_error", message, type: "server_error", param: null });
      const stored = await client(KEY).responses.retrieve(created.id);
      expect(stored).toMatchObject({ status: "failed" });
      expect(stored.error).toEqual(created.error);
    },
  );
});

describe("the Vercel AI SDK's Open Responses provider (@ai-sdk/open-responses)", () => {
  const provider = createOpenResponses({
    name: "gateway",
    url: `${GATEWAY_URL}/responses`,
    apiKey: KEY,
    fetch: gatewayFetch,
  });
  it("streams text to a stop with usage", async () => {
    const result = streamText({ model: provider(model("text:4")), prompt: "hi" });
    const text = await streamedText(result.fullStream);
    expect(text).toBe(words(4));
    expect(await result.finishReason).toBe("stop");
    expect((await result.usage).outputTokens).toBeGreaterThan(0);
  });

  it("generates text, and the response is stored under the id it reports", async () => {
    // (Its stream parts carry no response id: the provider reports one for a JSON create only.)
    const result = await generateText({ model: provider(model("text:2")), prompt: "hi" });
    expect(result.text).toBe(words(2));
    expect(result.finishReason).toBe("stop");
    const stored = await client(KEY).responses.retrieve(result.response.id);
    expect(stored).toMatchObject({ status: "completed", output_text: words(2) });
  });

  it("reads a function call as a tool call, and sends its result back as input the upstream gets", async () => {
    const first = await generateText({
      model: provider(model("function:get_weather")),
      prompt: "weather?",
      tools: WEATHER_TOOLS,
    });
    expect(first.toolCalls.map((call) => [call.toolName, call.input])).toEqual([["get_weather", { city: "Paris" }]]);
    expect(first.finishReason).toBe("tool-calls");
    const callId = first.toolCalls[0]!.toolCallId;
    const m = model("echo");
    const second = await generateText({
      model: provider(m),
      tools: WEATHER_TOOLS,
      messages: [
        { role: "user", content: "weather?" },
        ...first.response.messages,
        {
          role: "tool",
          content: [
            {
              type: "tool-result",
              toolCallId: callId,
              toolName: "get_weather",
              output: { type: "text", value: "sunny" },
            },
          ],
        },
      ],
    });
    expect(second.finishReason).toBe("stop");
    const sent = (await upstream.requests(m))[0]?.body.input as Record<string, unknown>[];
    expect(sent).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: "function_call", call_id: callId, name: "get_weather" }),
        expect.objectContaining({ type: "function_call_output", call_id: callId, output: "sunny" }),
      ]),
    );
  });
});

describe("the OpenAI Agents SDK", () => {
  setTracingDisabled(true);
  const runner = new Runner({
    modelProvider: new OpenAIProvider({ openAIClient: client(KEY), useResponses: true }),
  });

  it("runs an agent, then streams a second turn chained to the first", async () => {
    const agent = new Agent({ name: "assistant", instructions: "Be brief.", model: model("text:4") });
    const first = await runner.run(agent, "hi");
    expect(first.finalOutput).toBe(words(4));
    const second = await runner.run(agent, "again", { stream: true, previousResponseId: first.lastResponseId });
    let text = "";
    for await (const delta of second.toTextStream()) text += delta;
    await second.completed;
    expect(text).toBe(words(4));
    const stored = await client(KEY).responses.retrieve(second.lastResponseId as string);
    expect(stored.previous_response_id).toBe(first.lastResponseId);
  });

  it("calls a function tool from the model's function call and stops on its result", async () => {
    const calls: string[] = [];
    const getWeather = weatherTool(calls);
    const agent = new Agent({
      name: "weather",
      model: model("function:get_weather"),
      tools: [getWeather],
      toolUseBehavior: "stop_on_first_tool",
    });
    const result = await runner.run(agent, "weather in Paris?");
    expect(calls).toEqual(["Paris"]);
    expect(result.finalOutput).toBe("sunny in Paris");
  });

  it("keeps a conversation's items across runs with conversationId", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create();
    const agent = new Agent({ name: "assistant", model: model("text:1") });
    await runner.run(agent, "one", { conversationId: conversation.id });
    await runner.run(agent, "two", { conversationId: conversation.id });
    const items = [];
    for await (const item of openai.conversations.items.list(conversation.id, { order: "asc", limit: 2 }))
      items.push((item as { content?: { text: string }[] }).content?.[0]?.text);
    expect(items).toEqual(["one", words(1), "two", words(1)]);
  });

  it("keeps a tool-calling agent's turns in an OpenAIConversationsSession over a chat route, pops and clears them", async () => {
    const openai = client(KEY);
    const session = new OpenAIConversationsSession({ client: openai });
    const agent = new Agent({ name: "weather", model: routed("tools").model, tools: [weatherTool([])] });
    await runner.run(agent, "weather in Paris?", { session });
    const streamed = await runner.run(agent, "and now?", { session, stream: true });
    for await (const delta of streamed.toTextStream()) void delta;
    await streamed.completed;
    // The session reads the conversation oldest first (order asc) and its latest items newest first (desc).
    const turn = ["message", "function_call", "function_call_result", "message"];
    expect((await session.getItems()).map((item) => item.type)).toEqual([...turn, ...turn]);
    expect((await session.getItems(2)).map((item) => item.type)).toEqual(turn.slice(2));
    const popped = await session.popItem();
    expect(popped).toMatchObject({ role: "assistant", content: [{ text: "results: sunny in Paris" }] });
    expect(await session.getItems()).toHaveLength(7);
    const id = await session.getSessionId();
    await session.clearSession();
    await expect(openai.conversations.retrieve(id)).rejects.toMatchObject({ status: 404 });
  });

  it("resumes a run stopped for approval from its JSON state, on a conversation over a chat route", async () => {
    const openai = client(KEY);
    const conversationId = (await openai.conversations.create()).id;
    const calls: string[] = [];
    const m = routed("tools");
    const agent = new Agent({ name: "weather", model: m.model, tools: [weatherTool(calls, true)] });
    const stopped = await runner.run(agent, "weather in Paris?", { conversationId });
    expect(stopped.interruptions.map((call) => call.name)).toEqual(["get_weather"]);
    // As another process would: the state from its JSON, the call approved, the run resumed.
    const state = await RunState.fromString(agent, JSON.stringify(stopped.state));
    for (const call of state.getInterruptions()) state.approve(call);
    const resumed = await runner.run(agent, state, { conversationId, stream: true });
    for await (const delta of resumed.toTextStream()) void delta;
    await resumed.completed;
    expect(calls).toEqual(["Paris"]);
    expect(resumed.finalOutput).toBe("results: sunny in Paris");
    const [, second] = await received(m);
    expect(second?.body.messages).toMatchObject([{ role: "user" }, { role: "assistant" }, { role: "tool" }]);
    const items = await openai.conversations.items.list(conversationId, { order: "asc" });
    expect(items.data.map((item) => item.type)).toEqual([
      "message",
      "function_call",
      "function_call_output",
      "message",
    ]);
  });

  it("hands off, streaming, from an agent on a Responses route to one on a chat route", async () => {
    const chat = routed("tools");
    const billing = new Agent({ name: "billing", handoffDescription: "Billing questions", model: chat.model });
    const triage = new Agent({ name: "triage", model: model("function:transfer_to_billing"), handoffs: [billing] });
    const result = await runner.run(triage, "my invoice", { stream: true, maxTurns: 3 });
    let text = "";
    for await (const delta of result.toTextStream()) text += delta;
    await result.completed;
    expect(result.lastAgent?.name).toBe("billing");
    expect(text).toBe('results: {"assistant":"billing"}');
    const [sent] = await received(chat);
    expect(sent?.body.messages).toMatchObject([{ role: "user" }, { role: "assistant" }, { role: "tool" }]);
  });

  it("hands off from an OpenAI reasoning model to one on a vLLM route, which refuses OpenAI's encrypted reasoning", async () => {
    const vllm = routed("vllm-think", "vllm/");
    const support = new Agent({ name: "support", handoffDescription: "Anything else", model: vllm.model });
    const triage = new Agent({ name: "triage", model: model("think:transfer_to_support"), handoffs: [support] });
    const result = await runner.run(triage, "my invoice", { maxTurns: 3 });
    expect(result.lastAgent?.name).toBe("support");
    expect(result.finalOutput).toBe("answer");
    const [sent] = await received(vllm);
    const types = (sent?.body.input as { type?: string; role?: string }[]).map((item) => item.type ?? item.role);
    expect(types).toEqual(["user", "function_call", "function_call_output"]);
  });
});

describe("LangChain's ChatOpenAI on the Responses API (@langchain/openai)", () => {
  const chat = (name: string) =>
    new ChatOpenAI({
      model: name,
      apiKey: KEY,
      useResponsesApi: true,
      configuration: { baseURL: GATEWAY_URL, fetch: gatewayFetch },
    });
  const textOf = (content: unknown): string =>
    typeof content === "string" ? content : (content as { text?: string }[]).map((part) => part.text ?? "").join("");

  it("invokes with usage, and the response is stored under the id it reports", async () => {
    const message = await chat(model("text:3")).invoke("hi");
    expect(textOf(message.content)).toBe(words(3));
    expect(message.usage_metadata?.output_tokens).toBeGreaterThan(0);
    const id = message.response_metadata.id as string;
    expect(await client(KEY).responses.retrieve(id)).toMatchObject({ status: "completed", output_text: words(3) });
  });

  it("streams text in chunks", async () => {
    let text = "";
    for await (const chunk of await chat(model("text:5")).stream("hi")) text += textOf(chunk.content);
    expect(text).toBe(words(5));
  });

  it("reads a function call as a tool call, and sends its result back as the upstream expects it", async () => {
    const tools = [
      {
        type: "function" as const,
        function: {
          name: "get_weather",
          description: "The weather in a city",
          parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        },
      },
    ];
    const asked = await chat(model("function:get_weather")).bindTools(tools).invoke("weather in Paris?");
    const call = asked.tool_calls?.[0];
    expect(call).toMatchObject({ name: "get_weather", args: { city: "Paris" } });
    const m = model("echo");
    const answered = await chat(m).invoke([
      { role: "user", content: "weather in Paris?" },
      asked,
      { role: "tool", tool_call_id: call?.id ?? "", content: "sunny" },
    ]);
    expect(textOf(answered.content)).toBe("echo(3): weather in Paris?");
    const [sent] = await upstream.requests(m);
    expect((sent?.body.input as { type?: string }[]).map((item) => item.type ?? "message")).toEqual([
      "message",
      "function_call",
      "function_call_output",
    ]);
  });

  it("chains with previous_response_id", async () => {
    const first = await chat(model("text:1")).invoke("one");
    const next = await chat(model("echo")).invoke("two", {
      previous_response_id: first.response_metadata.id as string,
    });
    expect(textOf(next.content)).toBe("echo(3): two");
  });
});

describe("Codex CLI's request", () => {
  it("is accepted as sent, streamed to its end, and reaches the upstream with its tools and options intact", async () => {
    const m = model("text:2");
    const tools = [
      {
        type: "function",
        name: "shell",
        description: "Runs a shell command and returns its output.",
        strict: false,
        parameters: {
          type: "object",
          properties: { command: { type: "array", items: { type: "string" } }, workdir: { type: "string" } },
          required: ["command"],
          additionalProperties: false,
        },
      },
      {
        type: "custom",
        name: "apply_patch",
        description: "Use the `apply_patch` tool to edit files.",
        format: {
          type: "grammar",
          syntax: "lark",
          definition: 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF',
        },
      },
    ];
    const body = {
      model: m,
      instructions: "You are a coding agent running in the Codex CLI.",
      input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "list the files" }] }],
      tools,
      tool_choice: "auto",
      parallel_tool_calls: false,
      reasoning: { effort: "medium", summary: "auto" },
      store: false,
      stream: true,
      include: ["reasoning.encrypted_content"],
      prompt_cache_key: crypto.randomUUID(),
      text: { verbosity: "medium" },
    };
    const response = await gatewayFetch(`${GATEWAY_URL}/responses`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${KEY}`,
        "content-type": "application/json",
        accept: "text/event-stream",
        originator: "codex_cli_rs",
        session_id: crypto.randomUUID(),
      },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    const events = await readEvents(response.body);
    expect(events.at(-1)?.type).toBe("response.completed");
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    const [sent] = await upstream.requests(m);
    expect(sent?.body).toMatchObject({
      tools,
      tool_choice: "auto",
      parallel_tool_calls: false,
      reasoning: { effort: "medium", summary: "auto" },
      include: ["reasoning.encrypted_content"],
      prompt_cache_key: body.prompt_cache_key,
      text: { verbosity: "medium" },
      instructions: body.instructions,
    });
  });
});
