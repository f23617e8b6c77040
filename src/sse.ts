// SSE encode/decode: the one encoder of gateway frames and the one decoder of upstream bodies.
// Decoding is eventsource-parser (spec-complete line handling, chunks split anywhere), fed one
// network chunk at a time so the hot path awaits once per chunk, not once per event.

import { createParser, type EventSourceParser, type ParseError } from "eventsource-parser";

/** One decoded upstream SSE message. */
export interface SseMessage {
  event?: string | undefined;
  data: string;
}

/** Largest single upstream event accepted (a whole Response in `response.completed` can be big). */
export const MAX_UPSTREAM_EVENT_BYTES = 32 * 1024 * 1024;

/** Encodes one event frame as OpenAI sends it: `event: <type>\ndata: <json>\n\n`. */
export function encodeFrame(type: string, json: string): string {
  return `event: ${type}\ndata: ${json}\n\n`;
}

/** Incremental decoder: bytes in, complete messages out. */
export class SseDecoder {
  readonly #text = new TextDecoder();
  readonly #parser: EventSourceParser;
  #messages: SseMessage[] = [];
  #error: ParseError | undefined;

  constructor(maxEventBytes = MAX_UPSTREAM_EVENT_BYTES) {
    this.#parser = createParser({
      maxBufferSize: maxEventBytes,
      onEvent: (message) => this.#messages.push({ event: message.event, data: message.data }),
      onError: (error) => {
        if (error.type === "max-buffer-size-exceeded") this.#error ??= error;
      },
    });
  }

  /** Feeds one chunk; throws when an event exceeds the size cap. */
  feed(bytes: Uint8Array): SseMessage[] {
    this.#parser.feed(this.#text.decode(bytes, { stream: true }));
    return this.#take();
  }

  /** The body ended: flushes a final event that lacked its blank line. */
  end(): SseMessage[] {
    this.#parser.feed(this.#text.decode());
    this.#parser.reset({ consume: true });
    return this.#take();
  }

  #take(): SseMessage[] {
    if (this.#error) throw new Error(`upstream event larger than ${MAX_UPSTREAM_EVENT_BYTES} bytes`);
    const messages = this.#messages;
    this.#messages = [];
    return messages;
  }
}

/** Decodes a whole byte stream into messages (tests and non-hot paths). */
export function decodeSse(body: ReadableStream<Uint8Array>): ReadableStream<SseMessage> {
  const decoder = new SseDecoder();
  return body.pipeThrough(
    new TransformStream<Uint8Array, SseMessage>({
      transform(chunk, controller) {
        for (const message of decoder.feed(chunk)) controller.enqueue(message);
      },
      flush(controller) {
        for (const message of decoder.end()) controller.enqueue(message);
      },
    }),
  );
}
