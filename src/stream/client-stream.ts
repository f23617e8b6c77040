// The body of a stream the gateway writes itself (a stored foreground run's, a store:false run's) as
// its client reads it: frames written as the client takes them (backpressure, through workerd's
// native IdentityTransformStream), a client that goes away noticed at once (while the upstream is
// silent, by a keepalive comment's write: keepalive.ts), and a close that does not wait forever on a
// client that stopped reading. Used by src/stream/foreground.ts and src/run/stateless.ts.

import { Keepalive, KEEPALIVE_COMMENT } from "./keepalive";

const encoder = new TextEncoder();

/** How long the end of a stream waits for a client that stopped reading before cutting it. */
const CLOSE_WAIT_MS = 5_000;
/** The pause after each comment `check` writes (the answer comes after the last): about half a second in all. */
const CHECK_PAUSES_MS = [50, 150, 300];
/** How long `check` waits for one of its comments to be taken by a client that may not be reading. */
const CHECK_SEND_WAIT_MS = 500;

/** Whether `promise` settled within `ms`. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    late,
  ]);
  clearTimeout(timer);
  return settled;
}

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
  /** Settles when the client goes away. */
  readonly #departed: Promise<void>;
  #depart!: () => void;

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
    this.#departed = new Promise((resolve) => (this.#depart = resolve));
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

  /**
   * Tests the client now (see client-checks.ts): whether it is still there. A closed connection
   * shows only at a write, and behind a proxy (wrangler dev's, an edge's) often only at the second:
   * the proxy takes the first and learns the socket is closed as it passes it on. So a few keepalive
   * comments go out, CHECK_PAUSES_MS apart, and the answer waits one more pause for the departure.
   */
  async check(): Promise<boolean> {
    for (const pause of CHECK_PAUSES_MS) {
      if (!this.#connected) return false;
      // A client that is not reading holds the write (backpressure): it is there, and the check does
      // not wait on it (each create asking would wait out its whole CHECK_WAIT_MS).
      if (!(await settledWithin(this.send(KEEPALIVE_COMMENT), CHECK_SEND_WAIT_MS))) return this.#connected;
      await settledWithin(this.#departed, pause);
    }
    return this.#connected;
  }

  /** Ends the body; a client that stopped reading is cut after a while. */
  async close(): Promise<void> {
    this.#keepalive.stop();
    // A close the client refused (it left) is settled too: only one it never takes is cut.
    if (!(await settledWithin(this.#writer.close(), CLOSE_WAIT_MS)))
      await this.#writer.abort(new Error("the client stopped reading")).catch(() => undefined);
  }

  /** Cuts the body: the client sees its stream fail (a run that broke before its end). */
  async abort(): Promise<void> {
    this.#keepalive.stop();
    await this.#writer.abort().catch(() => undefined);
  }

  #gone(): void {
    if (!this.#connected) return;
    this.#connected = false;
    this.#depart();
    this.#keepalive.stop();
    this.#onGone();
  }
}
