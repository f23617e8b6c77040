// Real recorded Chat Completions streams and bodies from several providers, served by the mock chat
// upstream and read through the real Worker with the `openai` SDK: the stream helper accepts every
// one, `finalResponse()` equals the stored Response, the replay equals the stream, and the text,
// tool-call arguments, refusals and reasoning are byte-identical to what the upstream sent.

import { APIError } from "openai";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../src/responses/types";
import { routed } from "../support/chat";
import { fixtureText } from "../support/fixtures";
import { client, gatewayFetch, GATEWAY_URL, rawEvents } from "../support/gateway";
import { withoutSdkFields } from "../upstream/chat-completions/harness";
import { lineChunks, saidByChunks, saidByResponse, sseChunks } from "../upstream/chat-completions/upstream-truth";

const KEY = "sk-test-chat-fixtures";
const openai = client(KEY);

/** Every recorded chat stream and body, with the status it ends in and its output item types. */
const completed: [file: string, items: string[], status?: "completed" | "incomplete"][] = [
  ["vercel-ai__groq-text.chunks.txt", ["message"]],
  ["vercel-ai__groq-tool-call.chunks.txt", ["function_call"]],
  ["vercel-ai__deepseek-text.chunks.txt", ["message"], "incomplete"],
  ["vercel-ai__deepseek-reasoning.chunks.txt", ["reasoning", "message"]],
  ["vercel-ai__deepseek-tool-call.chunks.txt", ["reasoning", "function_call"]],
  ["vercel-ai__openai-text.chunks.txt", ["message"]],
  ["vercel-ai__azure-model-router.1.chunks.txt", ["message"]],
  ["vercel-ai__alibaba-tool-call.chunks.txt", ["function_call"]],
  ["vercel-ai__mistral-incremental-tool-call.chunks.txt", ["function_call"]],
  ["llama-stack__ollama-llama3.2-tool-call-stream.chunks.jsonl", ["function_call"]],
  ["openai-node__stream-json-schema.sse", ["message"]],
  ["openai-node__stream-refusal-logprobs.sse", ["message"]],
  ["pydantic-ai__test_openai_moderation_stream.body.sse", ["message"]],
  ["pydantic-ai__test_openrouter_streaming_reasoning.body.sse", ["reasoning", "message"]],
  ["pydantic-ai__test_snowflake_model_streaming.body.sse", ["message"]],
  ["pydantic-ai__test_tool_use_failed_error_streaming.i1.body.sse", ["reasoning", "function_call"]],
  ["pydantic-ai__test_tool_use_failed_error_streaming.i2.body.sse", ["reasoning", "message"]],
  ["fantasy__llama-cpp-gpt-oss__simple_streaming.body.sse", ["reasoning", "message"]],
  ["fantasy__groq-kimi-k2__multi_tool_streaming.i0.body.sse", ["message", "function_call", "function_call"]],
  ["fantasy__groq-kimi-k2__multi_tool_streaming.i1.body.sse", ["message"]],
  ["pydantic-ai__test_ollama_cloud_tool_output.i0.body.json", ["reasoning", "message"]],
  ["pydantic-ai__test_ollama_cloud_tool_output.i1.body.json", ["reasoning", "function_call"]],
  ["vercel-ai__deepseek-json.json", ["reasoning", "message"]],
  ["vercel-ai__groq-tool-call.json", ["function_call"]],
];

const failed: [file: string, code: string, type: string, message: string][] = [
  ["pydantic-ai__test_openrouter_stream_error.body.sse", "server_error", "server_error", "Token limit reached"],
  [
    "pydantic-ai__test_tool_use_failed_error_streaming.i0.body.sse",
    "tool_use_failed",
    "invalid_request_error",
    "Tool call validation failed: tool call validation failed: parameters for tool get_something_by_name did not match schema: errors: [missing properties: 'name', additionalProperties 'invalid_param' not allowed]",
  ],
];

/** What the upstream said, read straight from the recording (not through the gateway's decoder). */
function upstreamSaid(file: string) {
  const text = fixtureText(`chat/${file}`);
  if (file.endsWith(".json")) {
    const body = JSON.parse(text) as JsonObject;
    return saidByChunks([body]);
  }
  const lines = file.endsWith(".chunks.txt") || file.endsWith(".chunks.jsonl");
  return saidByChunks(lines ? lineChunks(text) : sseChunks(text));
}

async function rawStored(id: string): Promise<JsonObject> {
  return (await gatewayFetch(`${GATEWAY_URL}/responses/${id}`, { headers: { authorization: `Bearer ${KEY}` } })).json();
}

const rawReplay = (id: string) => rawEvents(KEY, `/responses/${id}?stream=true`);

describe("recorded chat streams through the Worker, read with the openai SDK", () => {
  it.each(completed)("%s", async (file, items, status = "completed") => {
    const m = routed(`fixture:${file}`);
    const stream = openai.responses.stream({ model: m.model, input: "replay" });
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const final = await stream.finalResponse();

    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    expect(final.status).toBe(status);
    expect(final.output.map((item) => item.type)).toEqual(items);
    const stored = await openai.responses.retrieve(final.id);
    expect(withoutSdkFields(final)).toEqual(withoutSdkFields(stored));
    expect(await rawStored(final.id)).toEqual((events.at(-1) as { response: unknown }).response);
    expect(saidByResponse(stored as unknown as JsonObject)).toEqual(upstreamSaid(file));

    const replay: ResponseStreamEvent[] = [];
    for await (const event of await openai.responses.retrieve(final.id, { stream: true })) replay.push(event);
    expect(replay).toEqual(events);

    // The same recording answered to a non-streaming create: the same output, stored as returned.
    const plain = await openai.responses.create({ model: m.model, input: "replay" });
    expect(plain.status).toBe(status);
    expect(saidByResponse(plain as unknown as JsonObject)).toEqual(upstreamSaid(file));
    expect(withoutSdkFields(await openai.responses.retrieve(plain.id))).toEqual(withoutSdkFields(plain));
  });

  it.each(failed)("%s fails with the upstream's error, partial output stored", async (file, code, type, message) => {
    const m = routed(`fixture:${file}`);
    const stream = openai.responses.stream({ model: m.model, input: "replay" });
    let id = "";
    stream.on("response.created", (event) => (id = event.response.id));
    const error = await stream.finalResponse().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).message).toContain(message);

    const stored = await openai.responses.retrieve(id);
    expect(stored.status).toBe("failed");
    expect(stored.error).toEqual({ code, message, type, param: null });
    expect(stored.output.map((item) => item.type)).toEqual(["reasoning"]);
    expect(stored.output.every((item) => (item as { status?: string }).status === "incomplete")).toBe(true);
    expect(saidByResponse(stored as unknown as JsonObject)).toEqual(upstreamSaid(file));

    const replay = await rawReplay(id);
    expect(replay.map((event) => event.sequence_number)).toEqual(replay.map((_, index) => index));
    expect(replay.at(-2)).toMatchObject({ type: "error", code, message });
    expect(replay.at(-1)).toMatchObject({ type: "response.failed", response: await rawStored(id) });
  });
});

describe("a chat stream that sends a tool call's arguments whole again after they were complete", () => {
  it("keeps them once: the arguments parse, stored as streamed", async () => {
    // Synthetic (test/fixtures/chat/PROVENANCE.md), modelled on servers that resend whole arguments.
    const m = routed("fixture:synthetic__tool-args-resent.chunks.txt");
    const stream = openai.responses.stream({ model: m.model, input: "replay" });
    const deltas: string[] = [];
    stream.on("response.function_call_arguments.delta", (event) => deltas.push(event.delta));
    const final = await stream.finalResponse();
    expect(final.status).toBe("completed");
    expect(final.output).toMatchObject([{ type: "function_call", call_id: "call_1", arguments: '{"city":"Paris"}' }]);
    expect(deltas.join("")).toBe('{"city":"Paris"}');
    expect(withoutSdkFields(await openai.responses.retrieve(final.id))).toEqual(withoutSdkFields(final));
  });
});
