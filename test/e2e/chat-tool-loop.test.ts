// A multi-turn tool loop over a Chat Completions upstream, chained with previous_response_id: on
// every turn the upstream must receive the whole conversation as chat `messages`, each assistant
// `tool_calls` message followed by its `tool` results, with the arguments exactly as the model sent them.

import type { ResponseFunctionToolCall, ResponseInputItem } from "openai/resources/responses/responses";
import { describe, expect, it } from "vitest";
import { received, routed } from "../support/chat";
import { fixtureText } from "../support/fixtures";
import { client } from "../support/gateway";
import { lineChunks, saidByChunks } from "../upstream/chat-completions/upstream-truth";

const tools = [
  {
    type: "function" as const,
    name: "get_weather",
    description: "Weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    strict: false,
  },
  {
    type: "function" as const,
    name: "get_time",
    parameters: { type: "object", properties: { city: { type: "string" } } },
    strict: null,
  },
];

const chatTools = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Weather in a city",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      strict: false,
    },
  },
  {
    type: "function",
    function: { name: "get_time", parameters: { type: "object", properties: { city: { type: "string" } } } },
  },
];

const calls = (output: { type: string }[]) =>
  output.filter((item): item is ResponseFunctionToolCall => item.type === "function_call");

/** The chat form of the calls a response made: one assistant message carrying them all. */
const assistantCalls = (made: ResponseFunctionToolCall[]) => ({
  role: "assistant",
  content: null,
  tool_calls: made.map((call) => ({
    id: call.call_id,
    type: "function",
    function: { name: call.name, arguments: call.arguments },
  })),
});

const outputsFor = (made: ResponseFunctionToolCall[], results: string[]): ResponseInputItem[] =>
  made.map((call, index) => ({ type: "function_call_output", call_id: call.call_id, output: results[index] ?? "" }));

describe("a tool loop over a Chat Completions upstream", () => {
  it("sends assistant tool_calls followed by their tool results on every chained turn", async () => {
    const openai = client("sk-test-chat-tools");
    const m = routed("tools");
    const question = "Weather and time in Paris?";

    const first = await openai.responses.create({ model: m.model, input: question, instructions: "Be brief.", tools });
    const firstCalls = calls(first.output);
    expect(firstCalls.map((call) => [call.name, call.arguments])).toEqual([
      ["get_weather", '{"city":"Paris","n":0}'],
      ["get_time", '{"city":"Paris","n":1}'],
    ]);

    const second = await openai.responses.create({
      model: m.model,
      previous_response_id: first.id,
      instructions: "Be brief.",
      input: outputsFor(firstCalls, ["sunny", "10:00"]),
      tools,
    });
    expect(second.output_text).toBe("results: sunny | 10:00");

    // A streamed turn continues the chain the same way.
    const third = await openai.responses
      .stream({ model: m.model, previous_response_id: second.id, input: "And tomorrow?", tools })
      .finalResponse();
    const thirdCalls = calls(third.output);
    expect(thirdCalls).toHaveLength(2);

    const fourth = await openai.responses.create({
      model: m.model,
      previous_response_id: third.id,
      input: outputsFor(thirdCalls, ["rain", "10:00 tomorrow"]),
      tools,
    });
    expect(fourth.output_text).toBe("results: rain | 10:00 tomorrow");

    const sent = await received(m);
    expect(sent.map((request) => request.path)).toEqual(Array(4).fill("/v1/chat/completions"));
    for (const request of sent) {
      expect(request.body.tools).toEqual(chatTools);
      expect(request.body.stream).toBe(true);
      expect(request.authorization).toBe("Bearer sk-test-chat-tools");
    }
    const turn1 = [{ role: "user", content: question }];
    const turn2 = [
      ...turn1,
      assistantCalls(firstCalls),
      { role: "tool", tool_call_id: firstCalls[0]?.call_id, content: "sunny" },
      { role: "tool", tool_call_id: firstCalls[1]?.call_id, content: "10:00" },
    ];
    const turn3 = [
      ...turn2,
      { role: "assistant", content: "results: sunny | 10:00" },
      { role: "user", content: "And tomorrow?" },
    ];
    const turn4 = [
      ...turn3,
      assistantCalls(thirdCalls),
      { role: "tool", tool_call_id: thirdCalls[0]?.call_id, content: "rain" },
      { role: "tool", tool_call_id: thirdCalls[1]?.call_id, content: "10:00 tomorrow" },
    ];
    // Instructions are the request's own: never inherited from an earlier turn.
    const system = { role: "system", content: "Be brief." };
    expect(sent.map((request) => request.body.messages)).toEqual([
      [system, ...turn1],
      [system, ...turn2],
      turn3,
      turn4,
    ]);
  });

  it("replays a recorded reasoning tool call byte for byte into the next turn", async () => {
    const openai = client("sk-test-chat-tools");
    const file = "vercel-ai__deepseek-tool-call.chunks.txt";
    const first = await openai.responses.create({ model: routed(`fixture:${file}`).model, input: "Weather in SF?" });
    const [call] = calls(first.output);
    const said = saidByChunks(lineChunks(fixtureText(`chat/${file}`)));

    const m = routed("echo");
    const second = await openai.responses.create({
      model: m.model,
      previous_response_id: first.id,
      input: outputsFor(calls(first.output), ['{"temperature":7}']),
    });
    expect(second.output_text).toBe("echo(3): Weather in SF?");
    const [sent] = await received(m);
    expect(sent?.body.messages).toEqual([
      { role: "user", content: "Weather in SF?" },
      {
        role: "assistant",
        content: null,
        reasoning_content: said.reasoning,
        tool_calls: [{ id: call?.call_id, type: "function", function: { name: "weather", arguments: said.args[0] } }],
      },
      { role: "tool", tool_call_id: call?.call_id, content: '{"temperature":7}' },
    ]);
  });
});
