// SSE encode/decode: the headers and frame encoder of every gateway stream, and the one decoder of upstream bodies.
// Decoding is eventsource-parser (spec-complete line handling, chunks split anywhere), fed one
// network chunk at a time so the hot path awaits once per chunk, not once per event.

import { createParser, type EventSourceParser } from "eventsource-parser";

/** One decoded upstream SSE message. */
export interface SseMessage {
  event?: string | undefined;
  data: string;
}

/** Largest single upstream event accepted by default (a whole Response in `response.completed` can be big). */
export const MAX_UPSTREAM_EVENT_BYTES = 32 * 1024 * 1024;

/** An upstream event over the size cap: the body is not read further. */
export class UpstreamEventTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`The upstream sent an event larger than ${maxBytes} bytes.`);
  }
}

/** Headers of every SSE response the gateway sends. */
export const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };

/** Encodes one event frame as OpenAI sends it: `event: <type>\ndata: <json>\n\n`. */
export function encodeFrame(type: string, json: string): string {
  return `event: ${type}\ndata: ${json}\n\n`;
}

/** Incremental decoder: bytes in, complete messages out. */
export class SseDecoder {
  readonly #text = new TextDecoder();
  readonly #parser: EventSourceParser;
  readonly #maxEventBytes: number;
  #messages: SseMessage[] = [];
  #tooLarge = false;

  constructor(maxEventBytes = MAX_UPSTREAM_EVENT_BYTES) {
    this.#maxEventBytes = maxEventBytes;
    this.#parser = createParser({
      maxBufferSize: maxEventBytes,
      onEvent: (message) => {
        // The parser's cap sees only what it buffers (a line split over chunks); an event that came whole is checked here.
        if (message.data.length > maxEventBytes) this.#tooLarge = true;
        else if (!this.#tooLarge) this.#messages.push({ event: message.event, data: message.data });
      },
      onError: (error) => {
        if (error.type === "max-buffer-size-exceeded") this.#tooLarge = true;
        // llama.cpp's server sends a failure after the headers as an `error: {...}` line, a field
        // SSE does not have (then `data: [DONE]`): read as an `error` event, not skipped, so the
        // response fails with the server's words instead of completing what came before.
        else if (error.type === "unknown-field" && error.field === "error" && !this.#tooLarge)
          this.#messages.push({ event: "error", data: error.value ?? "" });
      },
    });
  }

  /** Feeds one chunk; throws (at the latest on the next call) when an event exceeds the size cap. */
  feed(bytes: Uint8Array): SseMessage[] {
    if (!this.#tooLarge) this.#parser.feed(this.#text.decode(bytes, { stream: true }));
    return this.#take();
  }

  /**
   * The body ended: dispatches a final event that lacked its blank line. The parser dispatches only
   * at a blank line (its `reset({consume})` parses a pending line but drops the event), so the end
   * of the body is fed as one: the first `\n` ends an unterminated line (or the second half of a
   * `\r\n`), the second is the blank line. After a proper ending they are empty lines, which do nothing.
   */
  end(): SseMessage[] {
    if (!this.#tooLarge) this.#parser.feed(`${this.#text.decode()}\n\n`);
    return this.#take();
  }

  /** The messages decoded so far; once those before an oversized event are taken, throws. */
  #take(): SseMessage[] {
    if (this.#tooLarge && this.#messages.length === 0) throw new UpstreamEventTooLarge(this.#maxEventBytes);
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
