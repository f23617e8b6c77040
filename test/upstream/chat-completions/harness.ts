// Test harness for the chat-completions adapter: recorded upstream bodies -> translator ->
// StreamNormalizer -> SSE frames -> the `openai` SDK's own stream helper. Used by the tests beside it.

import OpenAI from "openai";
import { ResponseStream } from "openai/lib/responses/ResponseStream";
import { validateCreateRequest, type CreateRequest } from "../../../src/responses/create-request";
import { newResponseId } from "../../../src/responses/ids";
import { StreamNormalizer, type NormalizedEvent } from "../../../src/responses/normalizer";
import { echoOf, newResponseObject } from "../../../src/responses/response-object";
import type { InputItem, JsonObject, ResponseObject, StreamEvent } from "../../../src/responses/types";
import { decodeSse, encodeFrame, type SseMessage } from "../../../src/sse";
import { chatCompletionsProtocol } from "../../../src/upstream/chat-completions";
import type { TranslationContext } from "../../../src/upstream/protocol";

export interface Setup extends TranslationContext {
  normalizer: StreamNormalizer;
  anomalies: string[];
}

/**
 * A request as the gateway would hold it, with the base snapshot and a normalizer for it; `input`
 * is the full context sent upstream when it is more than the request's own input (a chain).
 */
export function setup(body: JsonObject = {}, input?: InputItem[]): Setup {
  const request: CreateRequest = validateCreateRequest({
    model: "requested-model",
    input: "hi",
    stream: true,
    ...body,
  });
  const identity = { id: newResponseId(), createdAt: Math.floor(Date.now() / 1000) };
  const base = newResponseObject(request, identity, request.background ? "queued" : "in_progress");
  const anomalies: string[] = [];
  const normalizer = new StreamNormalizer({
    echo: echoOf(request, identity),
    initial: base,
    background: request.background,
    onAnomaly: (message) => anomalies.push(message),
  });
  return { request, base, normalizer, anomalies, ...(input === undefined ? {} : { input }) };
}

/** A body as a byte stream, cut into pieces of `pieceSize` bytes (anywhere: mid-line, mid-character). */
export function byteStream(text: string, pieceSize = Infinity): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      for (let at = 0; at < bytes.length; at += Math.min(pieceSize, bytes.length)) {
        controller.enqueue(bytes.slice(at, at + pieceSize));
      }
      controller.close();
    },
  });
}

export async function collect<T>(stream: ReadableStream<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of stream) out.push(value);
  return out;
}

/** An SSE body decoded with the gateway's own decoder. */
export const sseMessages = (text: string, pieceSize?: number): Promise<SseMessage[]> =>
  collect(decodeSse(byteStream(text, pieceSize)));

/** One JSON chunk per line (vercel-ai `.chunks.txt`, llama-stack `.chunks.jsonl`), replayed as SSE with `[DONE]`. */
export const lineMessages = (text: string): SseMessage[] => [
  ...text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((data) => ({ data })),
  { data: "[DONE]" },
];

export interface Run {
  /** What the translator emitted, in order. */
  events: StreamEvent[];
  /** What the client is sent. */
  normalized: NormalizedEvent[];
  /** The normalizer's final snapshot (what would be stored). */
  final: ResponseObject;
  /** The SSE body the gateway sends. */
  sse: string;
  /** Grammar breaks the normalizer had to repair (must stay empty). */
  anomalies: string[];
}

/** Feeds messages through a translator and the normalizer, then ends the body. */
export function run(messages: Iterable<SseMessage>, at: Setup = setup()): Run {
  const translator = chatCompletionsProtocol.createTranslator(at);
  const events: StreamEvent[] = [];
  const normalized: NormalizedEvent[] = [];
  const accept = (batch: StreamEvent[]) => {
    events.push(...batch);
    for (const event of batch) normalized.push(...at.normalizer.accept(event));
  };
  for (const message of messages) accept(translator.push(message));
  accept(translator.finish());
  normalized.push(...at.normalizer.finish());
  return finishRun(at, events, normalized);
}

/** Feeds a non-streaming body through `eventsFromBody` and the normalizer. */
export function runBody(body: unknown, at: Setup = setup()): Run {
  const events = chatCompletionsProtocol.eventsFromBody(body, at);
  const normalized = events.flatMap((event) => at.normalizer.accept(event));
  normalized.push(...at.normalizer.finish());
  return finishRun(at, events, normalized);
}

function finishRun(at: Setup, events: StreamEvent[], normalized: NormalizedEvent[]): Run {
  const sse = normalized.map((event) => encodeFrame(event.type, event.json)).join("");
  return { events, normalized, final: at.normalizer.snapshot, sse, anomalies: at.anomalies };
}

/** The SDK's `finalResponse()` for an NDJSON replay (`ResponseStream.fromReadableStream` reads NDJSON, not SSE). */
export function sdkFromNdjson(result: Run): Promise<unknown> {
  const ndjson = result.normalized.map((event) => `${event.json}\n`).join("");
  return ResponseStream.fromReadableStream(byteStream(ndjson)).finalResponse();
}

/** The SDK's `finalResponse()` when `client.responses.stream()` reads our SSE frames over (mocked) HTTP. */
export function sdkFromSse(result: Run): Promise<unknown> {
  const client = new OpenAI({
    apiKey: "test",
    baseURL: "http://gateway.test/v1",
    maxRetries: 0,
    fetch: () =>
      Promise.resolve(
        new Response(byteStream(result.sse, 97), {
          headers: { "content-type": "text/event-stream; charset=utf-8", "x-request-id": "req_test" },
        }),
      ),
  });
  return client.responses.stream({ model: "requested-model", input: "hi" }).finalResponse();
}

/** The SDK adds `output_text`, `output_parsed`, `parsed_arguments` and `parsed`; strip what the wire never had. */
export function withoutSdkFields(response: unknown): unknown {
  const copy = structuredClone(response) as JsonObject;
  delete copy.output_text;
  delete copy.output_parsed;
  for (const item of (copy.output as JsonObject[] | undefined) ?? []) {
    delete item.parsed_arguments;
    for (const part of Array.isArray(item.content) ? (item.content as JsonObject[]) : []) delete part.parsed;
  }
  return copy;
}
