// While a stream sends nothing (a model thinking), an SSE comment goes out every so often. Clients
// skip comment lines (the SSE format says to; the openai SDKs, eventsource-parser and Codex do), and
// the write is how a client that closed its connection is noticed: the request's signal does not
// fire once a streamed response has started, and a closed socket shows only when it is written to.
// It also keeps proxies from closing an idle stream. Used by the client streams of stored and
// store:false responses; never recorded, so a replay has none.

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
