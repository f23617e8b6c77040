import { APIError } from "openai";
import { describe, expect, it } from "vitest";
import type { JsonObject, OutputItem } from "../../../src/responses/types";
import { fixtureText } from "../../support/fixtures";
import {
  lineMessages,
  run,
  runBody,
  sdkFromNdjson,
  sdkFromSse,
  sseMessages,
  withoutSdkFields,
  type Run,
} from "./harness";
import { lineChunks, saidByChunks, saidByResponse, sseChunks } from "./upstream-truth";

interface Usage {
  input: number;
  output: number;
  total: number;
  cached?: number;
  reasoning?: number;
}

interface Case {
  file: string;
  status: "completed" | "incomplete" | "failed";
  model: string;
  /** Output item types in order. */
  items: string[];
  usage: Usage | null;
  /** Extra checks on the final snapshot. */
  check?: (final: JsonObject) => void;
}

const usageOf = ({ input, output, total, cached = 0, reasoning = 0 }: Usage) => ({
  input_tokens: input,
  input_tokens_details: { cached_tokens: cached, cache_write_tokens: 0 },
  output_tokens: output,
  output_tokens_details: { reasoning_tokens: reasoning },
  total_tokens: total,
});

const item = (final: JsonObject, index: number): OutputItem => (final.output as OutputItem[])[index] as OutputItem;

const streams: Case[] = [
  {
    file: "vercel-ai__groq-text.chunks.txt",
    status: "completed",
    model: "llama-3.3-70b-versatile",
    items: ["message"],
    usage: { input: 45, output: 662, total: 707 },
  },
  {
    file: "vercel-ai__groq-tool-call.chunks.txt",
    status: "completed",
    model: "llama-3.3-70b-versatile",
    items: ["function_call"],
    usage: { input: 210, output: 15, total: 225 },
    check: (final) => expect(item(final, 0)).toMatchObject({ call_id: "tk85n1k4m", name: "weather", arguments: "{}" }),
  },
  {
    file: "vercel-ai__deepseek-text.chunks.txt",
    status: "incomplete",
    model: "deepseek-chat",
    items: ["message"],
    usage: { input: 13, output: 400, total: 413 },
    check: (final) => {
      expect(final.incomplete_details).toEqual({ reason: "max_output_tokens" });
      expect(final.completed_at).toBeNull();
      expect(item(final, 0).status).toBe("incomplete");
    },
  },
  {
    file: "vercel-ai__deepseek-reasoning.chunks.txt",
    status: "completed",
    model: "deepseek-reasoner",
    items: ["reasoning", "message"],
    usage: { input: 18, output: 219, total: 237, reasoning: 205 },
  },
  {
    file: "vercel-ai__deepseek-tool-call.chunks.txt",
    status: "completed",
    model: "deepseek-reasoner",
    items: ["reasoning", "function_call"],
    usage: { input: 339, output: 83, total: 422, cached: 320, reasoning: 39 },
    check: (final) =>
      expect(item(final, 1)).toMatchObject({ call_id: "call_00_ioIn7yN9p1ZOMNpDLwd4MgAF", name: "weather" }),
  },
  {
    file: "vercel-ai__openai-text.chunks.txt",
    status: "completed",
    model: "gpt-4.1-nano-2025-04-14",
    items: ["message"],
    usage: { input: 16, output: 300, total: 316 },
  },
  {
    file: "vercel-ai__azure-model-router.1.chunks.txt",
    status: "completed",
    model: "gpt-5-nano-2025-08-07",
    items: ["message"],
    usage: { input: 15, output: 78, total: 93, reasoning: 64 },
  },
  {
    file: "vercel-ai__alibaba-tool-call.chunks.txt",
    status: "completed",
    model: "qwen3-max",
    items: ["function_call"],
    usage: { input: 295, output: 22, total: 317 },
    check: (final) =>
      expect(item(final, 0)).toMatchObject({
        call_id: "call_eee11723464a4b9eb8cee71d",
        name: "weather",
        arguments: '{"location": "San Francisco"}',
      }),
  },
  {
    file: "vercel-ai__mistral-incremental-tool-call.chunks.txt",
    status: "completed",
    model: "zai-glm-5-2",
    items: ["function_call"],
    usage: { input: 171, output: 14, total: 185, cached: 128 },
    check: (final) =>
      expect(item(final, 0)).toMatchObject({ call_id: "chatcmpl-tool-9f149c74c42f265b", name: "webSearchTool" }),
  },
  {
    file: "llama-stack__ollama-llama3.2-tool-call-stream.chunks.jsonl",
    status: "completed",
    model: "llama3.2:3b-instruct-fp16",
    items: ["function_call"],
    usage: { input: 161, output: 14, total: 175 },
    check: (final) => expect(item(final, 0)).toMatchObject({ call_id: "call_24ibtmea", name: "get_current_time" }),
  },
  {
    file: "openai-node__stream-json-schema.sse",
    status: "completed",
    model: "gpt-4o-2024-08-06",
    items: ["message"],
    usage: { input: 17, output: 10, total: 27 },
  },
  {
    file: "openai-node__stream-refusal-logprobs.sse",
    status: "completed",
    model: "gpt-4o-2024-08-06",
    items: ["message"],
    usage: { input: 17, output: 13, total: 30 },
    check: (final) => expect((item(final, 0).content as JsonObject[]).map((part) => part.type)).toEqual(["refusal"]),
  },
  {
    file: "pydantic-ai__test_openai_moderation_stream.body.sse",
    status: "completed",
    model: "gpt-5-2025-08-07",
    items: ["message"],
    usage: { input: 13, output: 11, total: 24 },
  },
  {
    file: "pydantic-ai__test_openrouter_streaming_reasoning.body.sse",
    status: "completed",
    model: "anthropic/claude-sonnet-4.5",
    items: ["reasoning", "message"],
    usage: { input: 43, output: 36, total: 79, reasoning: 13 },
  },
  {
    file: "pydantic-ai__test_snowflake_model_streaming.body.sse",
    status: "completed",
    model: "claude-sonnet-4-6",
    items: ["message"],
    usage: { input: 22, output: 5, total: 27 },
  },
  {
    file: "pydantic-ai__test_tool_use_failed_error_streaming.i1.body.sse",
    status: "completed",
    model: "openai/gpt-oss-120b",
    items: ["reasoning", "function_call"],
    usage: { input: 304, output: 49, total: 353, reasoning: 23 },
  },
  {
    file: "pydantic-ai__test_tool_use_failed_error_streaming.i2.body.sse",
    status: "completed",
    model: "openai/gpt-oss-120b",
    items: ["reasoning", "message"],
    usage: { input: 339, output: 58, total: 397, reasoning: 38 },
  },
  {
    file: "fantasy__llama-cpp-gpt-oss__simple_streaming.body.sse",
    status: "completed",
    model: "openai/gpt-oss-20b",
    items: ["reasoning", "message"],
    usage: { input: 84, output: 57, total: 141, cached: 83 },
  },
  {
    file: "fantasy__groq-kimi-k2__multi_tool_streaming.i0.body.sse",
    status: "completed",
    model: "moonshotai/kimi-k2-instruct-0905",
    items: ["message", "function_call", "function_call"],
    usage: { input: 201, output: 58, total: 259 },
    check: (final) => {
      expect(item(final, 1)).toMatchObject({ call_id: "functions.add:0", name: "add" });
      expect(item(final, 2)).toMatchObject({ call_id: "functions.multiply:1", name: "multiply" });
    },
  },
  {
    file: "fantasy__groq-kimi-k2__multi_tool_streaming.i1.body.sse",
    status: "completed",
    model: "moonshotai/kimi-k2-instruct-0905",
    items: ["message"],
    usage: { input: 296, output: 30, total: 326 },
  },
];

const failures: (Case & { code: string; message: string; type: string })[] = [
  {
    file: "pydantic-ai__test_openrouter_stream_error.body.sse",
    status: "failed",
    model: "minimax/minimax-m2:free",
    items: ["reasoning"],
    usage: { input: 43, output: 10, total: 53, reasoning: 11 },
    code: "server_error",
    message: "Token limit reached",
    type: "server_error",
  },
  {
    file: "pydantic-ai__test_tool_use_failed_error_streaming.i0.body.sse",
    status: "failed",
    model: "openai/gpt-oss-120b",
    items: ["reasoning"],
    usage: null,
    code: "tool_use_failed",
    type: "invalid_request_error",
    message:
      "Tool call validation failed: tool call validation failed: parameters for tool get_something_by_name did not match schema: errors: [missing properties: 'name', additionalProperties 'invalid_param' not allowed]",
  },
];

const isLines = (file: string) => file.endsWith(".chunks.txt") || file.endsWith(".chunks.jsonl");

async function replay(file: string): Promise<Run> {
  const text = fixtureText(`chat/${file}`);
  return run(isLines(file) ? lineMessages(text) : await sseMessages(text));
}

const upstreamChunks = (file: string) => {
  const text = fixtureText(`chat/${file}`);
  return isLines(file) ? lineChunks(text) : sseChunks(text);
};

/** Every item-scoped event falls between its item's `added` and `done`, and items never overlap. */
function expectSequentialItems(result: Run): void {
  let open: number | undefined;
  for (const { type, json } of result.normalized) {
    const event = JSON.parse(json) as JsonObject;
    if (type === "response.output_item.added") {
      expect(open).toBeUndefined();
      open = event.output_index as number;
    } else if (type === "response.output_item.done") {
      expect(event.output_index).toBe(open);
      open = undefined;
    } else if (typeof event.output_index === "number") {
      expect(event.output_index).toBe(open);
    }
  }
  expect(open).toBeUndefined();
}

function expectCommon(result: Run, expected: Case): void {
  const final = result.final;
  expect(final.status).toBe(expected.status);
  expect(final.model).toBe(expected.model);
  expect(final.output.map((output) => output.type)).toEqual(expected.items);
  expect(final.usage).toEqual(expected.usage === null ? null : usageOf(expected.usage));
  expect(result.normalized.map((event) => event.seq)).toEqual(result.normalized.map((_, index) => index));
  expect(result.normalized.filter((event) => event.terminal)).toHaveLength(1);
  expectSequentialItems(result);
  expect(result.anomalies).toEqual([]);
  expected.check?.(final);
}

describe("recorded chat streams through the translator, the normalizer and the openai SDK", () => {
  it.each(streams)("$file", async (expected) => {
    const result = await replay(expected.file);
    expectCommon(result, expected);
    expect(saidByResponse(result.final)).toEqual(saidByChunks(upstreamChunks(expected.file)));
    expect(withoutSdkFields(await sdkFromSse(result))).toEqual(result.final);
    expect(withoutSdkFields(await sdkFromNdjson(result))).toEqual(result.final);
  });

  it.each(failures)("$file fails with the upstream's error and keeps the partial output", async (expected) => {
    const result = await replay(expected.file);
    expectCommon(result, expected);
    // The failed Response's error has every field of OpenAI's envelope (the AI SDK requires `type`).
    const failure = { code: expected.code, message: expected.message, type: expected.type, param: null };
    expect(result.final.error).toEqual(failure);
    expect(result.final.output.every((output) => output.status === "incomplete")).toBe(true);
    expect(saidByResponse(result.final)).toEqual(saidByChunks(upstreamChunks(expected.file)));
    const error = result.normalized.find((event) => event.type === "error");
    expect(JSON.parse(error?.json ?? "{}")).toMatchObject({
      code: expected.code,
      message: expected.message,
      error: failure,
    });
    for (const sdk of [sdkFromSse, sdkFromNdjson]) {
      const failure: unknown = await sdk(result).catch((caught: unknown) => caught);
      expect(failure).toBeInstanceOf(APIError);
      expect((failure as APIError).message).toContain(expected.message);
    }
  });
});

interface BodyCase extends Case {
  said: { text: string; args: string[] };
}

const bodies: BodyCase[] = [
  {
    file: "pydantic-ai__test_ollama_cloud_tool_output.i0.body.json",
    status: "completed",
    model: "gpt-oss:20b",
    items: ["reasoning", "message"],
    usage: { input: 134, output: 122, total: 256 },
    said: { text: "Paris.", args: [] },
  },
  {
    file: "pydantic-ai__test_ollama_cloud_tool_output.i1.body.json",
    status: "completed",
    model: "gpt-oss:20b",
    items: ["reasoning", "function_call"],
    usage: { input: 206, output: 194, total: 400 },
    said: { text: "", args: ['{"city":"Paris","country":"France"}'] },
    check: (final) => expect(item(final, 1)).toMatchObject({ call_id: "call_o2vnpxrw", name: "final_result" }),
  },
  {
    file: "vercel-ai__deepseek-json.json",
    status: "completed",
    model: "deepseek-reasoner",
    items: ["reasoning", "message"],
    usage: { input: 495, output: 144, total: 639, cached: 320, reasoning: 118 },
    said: { text: '{\n  "location": "San Francisco",\n  "condition": "cloudy",\n  "temperature": 7\n}', args: [] },
  },
  {
    file: "vercel-ai__groq-tool-call.json",
    status: "completed",
    model: "llama-3.3-70b-versatile",
    items: ["function_call"],
    usage: { input: 218, output: 15, total: 233 },
    said: { text: "", args: ["{}"] },
    check: (final) => expect(item(final, 0)).toMatchObject({ call_id: "ax9fskhev", name: "weather" }),
  },
];

describe("recorded non-streaming chat bodies through eventsFromBody", () => {
  it.each(bodies)("$file", async (expected) => {
    const body = JSON.parse(fixtureText(`chat/${expected.file}`)) as JsonObject;
    const result = runBody(body);
    expectCommon(result, expected);
    const said = saidByResponse(result.final);
    const message = ((body.choices as JsonObject[])[0] as JsonObject).message as JsonObject;
    expect(said.text).toBe(expected.said.text);
    expect(said.args).toEqual(expected.said.args);
    expect(said.reasoning).toBe(message.reasoning_content ?? message.reasoning ?? "");
    expect(withoutSdkFields(await sdkFromSse(result))).toEqual(result.final);
  });

  it("turns an in-band error body into a failed response the SDK reports as an APIError", async () => {
    const body: unknown = JSON.parse(fixtureText("chat/vercel-ai__reasoning-model-legacy-parameter-error.json"));
    const result = runBody(body);
    expect(result.final.status).toBe("failed");
    expect(result.final.error).toEqual({
      code: "unsupported_parameter",
      message:
        "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
      type: "invalid_request_error",
      param: "max_tokens",
    });
    expect(result.normalized.map((event) => event.type)).toEqual([
      "response.created",
      "response.in_progress",
      "error",
      "response.failed",
    ]);
    await expect(sdkFromSse(result)).rejects.toBeInstanceOf(APIError);
  });

  it("sends nothing for a body that is not a chat completion, so the response fails", () => {
    const result = runBody({ object: "list", data: [] });
    expect(result.events).toEqual([]);
    expect(result.final.status).toBe("failed");
  });
});
