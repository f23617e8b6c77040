// The Agents SDK's WebSocket model (`useResponsesWebSocket`) against the Worker, over both upstream
// protocols: a tool loop, chained runs, and an error that ends one request while the connection stays
// usable. The SDK opens its socket with `new globalThis.WebSocket(url, { headers })`; here that is a
// WebSocket whose handshake goes through the Worker's fetch handler. Its HTTP client refuses every
// request, so everything below went over the socket.

import { Agent, OpenAIProvider, Runner, setTracingDisabled } from "@openai/agents";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { received, routed } from "../support/chat";
import { client, GATEWAY_URL, model, words } from "../support/gateway";
import { weatherTool } from "../support/weather-tool";
import { GatewayWebSocket } from "./support/gateway-socket";

const KEY = "sk-test-ws-agents";

/** An `openai` client that only lends its base URL and key: any HTTP request it made would fail the test. */
const socketOnlyClient = () =>
  new OpenAI({
    apiKey: KEY,
    baseURL: GATEWAY_URL,
    maxRetries: 0,
    fetch: () => Promise.reject(new Error("unexpected HTTP request: everything goes over the socket")),
  });

/** Counts the sockets the SDK opens. */
class CountingWebSocket extends GatewayWebSocket {
  static opened = 0;
  constructor(...args: ConstructorParameters<typeof GatewayWebSocket>) {
    super(...args);
    CountingWebSocket.opened++;
  }
}

describe("the Agents SDK over the socket", () => {
  const original = globalThis.WebSocket;
  const provider = new OpenAIProvider({
    openAIClient: socketOnlyClient(),
    useResponses: true,
    useResponsesWebSocket: true,
  });
  const runner = new Runner({ modelProvider: provider });

  beforeAll(() => {
    setTracingDisabled(true);
    globalThis.WebSocket = CountingWebSocket as unknown as typeof WebSocket;
  });
  afterAll(async () => {
    await provider.close();
    globalThis.WebSocket = original;
  });

  it("runs a tool loop over a Chat Completions upstream: call, tool result, answer", async () => {
    const calls: string[] = [];
    const m = routed("tools");
    const agent = new Agent({ name: "weather", model: m.model, tools: [weatherTool(calls)] });
    const result = await runner.run(agent, "weather in Paris?");
    expect(calls).toEqual(["Paris"]);
    expect(result.finalOutput).toBe("results: sunny in Paris");
    const sent = await received(m);
    expect(sent).toHaveLength(2);
    const messages = sent[1]?.body.messages as Record<string, unknown>[];
    expect(messages.map((message) => message.role)).toEqual(["user", "assistant", "tool"]);
    // Stored like any response, under the id the SDK reported.
    expect(await client(KEY).responses.retrieve(result.lastResponseId as string)).toMatchObject({
      status: "completed",
      output_text: "results: sunny in Paris",
    });
  });

  it("calls a function tool over a Responses upstream, then chains a streamed run with previousResponseId", async () => {
    const calls: string[] = [];
    const agent = new Agent({
      name: "weather",
      model: model("function:get_weather"),
      tools: [weatherTool(calls)],
      toolUseBehavior: "stop_on_first_tool",
    });
    const first = await runner.run(agent, "weather in Paris?");
    expect(calls).toEqual(["Paris"]);
    expect(first.finalOutput).toBe("sunny in Paris");
    const chatty = new Agent({ name: "chatty", model: model("text:4") });
    const second = await runner.run(chatty, "again", { stream: true, previousResponseId: first.lastResponseId });
    let text = "";
    for await (const delta of second.toTextStream()) text += delta;
    await second.completed;
    expect(text).toBe(words(4));
    expect(await client(KEY).responses.retrieve(second.lastResponseId as string)).toMatchObject({
      previous_response_id: first.lastResponseId,
    });
  });

  it("fails one run on an error event and keeps its connection for the next", async () => {
    const agent = new Agent({ name: "failing", model: model("echo") });
    const before = CountingWebSocket.opened;
    await expect(runner.run(agent, "x", { previousResponseId: "resp_does_not_exist" })).rejects.toThrow(
      'OpenAI Responses request ended with unsuccessful terminal state "error".',
    );
    const result = await runner.run(agent, "after the error");
    expect(result.finalOutput).toBe("echo(1): after the error");
    expect(CountingWebSocket.opened - before).toBe(1);
  });
});
