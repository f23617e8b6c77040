// SSE encode/decode: the one encoder of gateway frames and the one decoder of upstream bodies.
// The decoder wraps eventsource-parser (spec-complete line handling, chunks split anywhere).

import { EventSourceParserStream } from "eventsource-parser/stream";

/** One decoded upstream SSE message. */
export interface SseMessage {
  event?: string | undefined;
  data: string;
}

/** Encodes one event frame as OpenAI sends it: `event: <type>\ndata: <json>\n\n`. */
export function encodeFrame(type: string, json: string): string {
  return `event: ${type}\ndata: ${json}\n\n`;
}

/** Decodes a byte stream of SSE into messages; comments and retry fields are dropped. */
export function decodeSse(body: ReadableStream<Uint8Array>): ReadableStream<SseMessage> {
  return body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream())
    .pipeThrough(
      new TransformStream({
        transform(message, controller) {
          controller.enqueue({ event: message.event, data: message.data });
        },
      }),
    );
}
