// The body of a stored foreground stream as its client reads it: frames written as the client takes
// them (backpressure, through workerd's native IdentityTransformStream), a client that goes away
// noticed at once (while the upstream is silent, by a keepalive comment's write: keepalive.ts), and
// a close that does not wait forever on a client that stopped reading. Used by src/stream/foreground.ts.

import { Keepalive, KEEPALIVE_COMMENT } from "./keepalive";

const encoder = new TextEncoder();

/** How long the end of a stream waits for a client that stopped reading before cutting it. */
const CLOSE_WAIT_MS = 5_000;

export class ClientStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #stop: AbortSignal;
  /**
   * The sends waiting on the client, each let go when the run is stopped. Each send races a promise of its
   * own: racing one long-lived promise would leave a reaction on it per send (about 300 bytes) until the
   * response ends, megabytes for a long stream.
   */
  readonly #waiting = new Set<() => void>();
  readonly #onGone: () => void;
  readonly #keepalive: Keepalive;
  #connected = true;

  /**
   * @param stopped the run was stopped from outside: a write the client is not taking gives up.
   * @param onGone called once when the client goes away.
   * @param disconnected the request's signal: aborted when its client goes away (with the
   *   `enable_request_signal` flag; a WebSocket turn's when the socket does), noticed even while no
   *   write is under way, which a body that is no longer read only tells at the next write.
   * @param keepaliveMs how long the stream may send nothing before a keepalive comment goes out (0: never).
   */
  constructor(stopped: AbortSignal, onGone: () => void, disconnected?: AbortSignal, keepaliveMs = 0) {
    const { readable, writable } = new IdentityTransformStream();
    this.readable = readable;
    this.#writer = writable.getWriter();
    this.#onGone = onGone;
    this.#stop = stopped;
    this.#keepalive = new Keepalive(keepaliveMs, () => void this.send(KEEPALIVE_COMMENT));
    stopped.addEventListener("abort", () => {
      for (const letGo of this.#waiting) letGo();
    });
    // A client that cancels the body is noticed now, not at the next write.
    this.#writer.closed.then(undefined, () => this.#gone());
    if (disconnected?.aborted === true) this.#gone();
    else disconnected?.addEventListener("abort", () => this.#gone());
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** Sends `text` once the client takes it; nothing once it is gone (the run goes on without it). */
  async send(text: string): Promise<void> {
    if (!this.#connected) return;
    this.#keepalive.sent();
    let letGo!: () => void;
    const stopped = new Promise<void>((resolve) => (letGo = resolve));
    if (this.#stop.aborted) letGo();
    else this.#waiting.add(letGo);
    try {
      await Promise.race([this.#writer.write(encoder.encode(text)), stopped]);
    } catch {
      this.#gone();
    } finally {
      this.#waiting.delete(letGo);
    }
  }

  /** Ends the body; a client that stopped reading is cut after a while. */
  async close(): Promise<void> {
    this.#keepalive.stop();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), CLOSE_WAIT_MS)));
    const closed = await Promise.race([this.#writer.close().then(() => "closed" as const), late]).catch(
      () => "closed" as const,
    );
    clearTimeout(timer);
    if (closed === "late") await this.#writer.abort(new Error("the client stopped reading")).catch(() => undefined);
  }

  #gone(): void {
    if (!this.#connected) return;
    this.#connected = false;
    this.#keepalive.stop();
    this.#onGone();
  }
}
