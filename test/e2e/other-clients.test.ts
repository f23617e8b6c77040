// Clients other than the `openai` SDK, pointed at the real Worker as their users would (base URL
// and key only): the Vercel AI SDK's OpenAI Responses provider and the OpenAI Agents SDK.

import { createOpenAI } from "@ai-sdk/openai";
import { Agent, OpenAIProvider, Runner, setTracingDisabled, tool } from "@openai/agents";
import { generateText, jsonSchema, streamText } from "ai";
import { describe, expect, it } from "vitest";
import { client, gatewayFetch, GATEWAY_URL, model, upstream, words } from "../support/gateway";

const KEY = "sk-test-other-clients";

describe("the Vercel AI SDK (@ai-sdk/openai, Responses)", () => {
  const provider = createOpenAI({ baseURL: GATEWAY_URL, apiKey: KEY, fetch: gatewayFetch });

  it("streams text, finishes with usage, and the response is stored under the id it reports", async () => {
    const result = streamText({ model: provider.responses(model("text:5")), prompt: "hi" });
    let text = "";
    for await (const part of result.fullStream) {
      if (part.type === "error") throw part.error;
      if (part.type === "text-delta") text += part.text;
    }
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
      tools: {
        get_weather: {
          description: "The weather in a city",
          inputSchema: jsonSchema<{ city: string }>({
            type: "object",
            properties: { city: { type: "string" } },
            required: ["city"],
          }),
        },
      },
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
    const getWeather = tool({
      name: "get_weather",
      description: "The weather in a city",
      parameters: {
        type: "object",
        properties: { city: { type: "string" } },
        required: ["city"],
        additionalProperties: false,
      },
      strict: true,
      execute: (input) => {
        const { city } = input as { city: string };
        calls.push(city);
        return `sunny in ${city}`;
      },
    });
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
});
