// While a stream sends nothing (a model thinking), an SSE comment goes out every so often. Clients
// skip comment lines (the SSE format says to; the openai SDKs, eventsource-parser and Codex do), and
// the write is how a client that closed its connection is noticed: the request's signal does not
// fire once a streamed response has started, and a closed socket shows only when it is written to.
// It also keeps proxies from closing an idle stream. Never recorded, so a replay has none.
// Two forms: `Keepalive` for the streams the gateway writes itself (stored foreground and store:false
// runs), one interval timer beside writes that stay on workerd's native stream; `withKeepalive` for
// a stream made elsewhere (a background run's object, a followed replay), which it wraps and reads.

export const KEEPALIVE_COMMENT = ": keepalive\n\n";

export class Keepalive {
  #lastSent = Date.now();
  readonly #timer: ReturnType<typeof setInterval> | undefined;

  /** Calls `send` whenever nothing was sent for `intervalMs` (within twice that); none for 0. */
  constructor(intervalMs: number, send: () => void) {
    if (intervalMs <= 0) return;
    this.#timer = setInterval(() => {
      if (Date.now() - this.#lastSent < intervalMs) return;
      this.#lastSent = Date.now();
      send();
    }, intervalMs);
  }

  /** Something was sent now. */
  sent(): void {
    this.#lastSent = Date.now();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

const NEWLINE = 10;

/**
 * `body` (an SSE stream another part made: a background run's live tail, a replay followed to its
 * end) with a keepalive comment whenever it sends nothing for `intervalMs` (none for 0). A comment
 * goes only between frames: after a chunk that ends one (or before the first), never inside a frame
 * the transport split. Pull-based, so the reader's backpressure and a cancel reach `body`.
 */
export function withKeepalive(body: ReadableStream<Uint8Array>, intervalMs: number): ReadableStream<Uint8Array> {
  if (intervalMs <= 0) return body;
  const reader = body.getReader();
  const comment = new TextEncoder().encode(KEEPALIVE_COMMENT);
  let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  let betweenFrames = true;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        // Returns only once something was enqueued (or the end): a pull that enqueues nothing is not called again.
        for (;;) {
          pending ??= reader.read();
          let timer: ReturnType<typeof setTimeout> | undefined;
          const silent = new Promise<"silent">((resolve) => (timer = setTimeout(() => resolve("silent"), intervalMs)));
          const next = await Promise.race([pending, silent]).finally(() => clearTimeout(timer));
          if (next === "silent") {
            if (!betweenFrames) continue;
            return controller.enqueue(comment);
          }
          pending = undefined;
          if (next.done) return controller.close();
          const chunk = next.value;
          if (chunk.length === 0) continue;
          betweenFrames =
            chunk.length >= 2 && chunk[chunk.length - 1] === NEWLINE && chunk[chunk.length - 2] === NEWLINE;
          return controller.enqueue(chunk);
        }
      },
      async cancel(reason) {
        await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
