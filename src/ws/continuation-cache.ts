// The connection's memory of each lane's latest response, so `previous_response_id` works on the
// socket for `store: false` responses, which nothing else remembers. A stored response needs no
// context here (the create path expands it from D1, on any socket); its entry only marks the lane's
// parent for the eviction rule. Lives as long as the connection; used by the socket session.

import type { InputItem } from "../responses/types";
import { MAX_CACHED_CONTEXT_BYTES } from "./limits";

export interface CachedResponse {
  id: string;
  lane: string;
  stored: boolean;
  /**
   * `store: false` only: the stored response its context continues (the create path expands that
   * one from D1), or null; then the context items after it: inputs and outputs, oldest first.
   * Null items: not continuable from here (a conversation-bound `store: false` response).
   */
  base: string | null;
  items: InputItem[] | null;
  /** Serialized size of `items`, counted against the connection's budget. */
  bytes: number;
}

export class ContinuationCache {
  /** Lane -> its latest response; a Map iterates in insertion order, so re-inserting marks recent use. */
  readonly #byLane = new Map<string, CachedResponse>();
  /**
   * Responses of this socket still running, with their lane and whether they are stored: a
   * continuation from a `store: false` one must wait; a steer names one's lane.
   */
  readonly #running = new Map<string, { lane: string; stored: boolean }>();
  #bytes = 0;

  /** Notes a response of this socket as running on `lane` (until `ended`). */
  running(id: string, lane: string, stored: boolean): void {
    this.#running.set(id, { lane, stored });
  }

  ended(id: string): void {
    this.#running.delete(id);
  }

  /** Whether a `store: false` response of this socket is still running. */
  isRunning(id: string): boolean {
    return this.#running.get(id)?.stored === false;
  }

  /** The lane of a response of this socket, running or its lane's latest; undefined for any other. */
  laneOf(id: string): string | undefined {
    return this.#running.get(id)?.lane ?? this.find(id)?.lane;
  }

  /** The cached response with this id, on any lane. */
  find(id: string): CachedResponse | undefined {
    for (const entry of this.#byLane.values()) if (entry.id === id) return entry;
    return undefined;
  }

  /**
   * Lanes whose latest response is `store: false`: this socket is all that can continue it. A lane
   * whose latest is stored holds nothing the create path could not read from D1, so it is not counted
   * against the connection's named lanes (a client with a fresh `stream_id` per task never runs out).
   */
  holdsContext(lane: string): boolean {
    return this.#byLane.get(lane)?.stored === false;
  }

  lanesHoldingContext(): string[] {
    return [...this.#byLane.values()].filter((entry) => !entry.stored).map((entry) => entry.lane);
  }

  /** Makes `entry` its lane's latest response; drops the least recently used lanes' context past the budget. */
  remember(entry: CachedResponse): void {
    this.#drop(entry.lane);
    this.#byLane.set(entry.lane, entry);
    this.#bytes += entry.bytes;
    for (const lane of [...this.#byLane.keys()]) {
      if (this.#bytes <= MAX_CACHED_CONTEXT_BYTES) break;
      if (lane !== entry.lane) this.#drop(lane);
    }
  }

  /** A failed continuation on the parent's own lane: that parent is gone from the socket. */
  evict(lane: string, id: string): void {
    if (this.#byLane.get(lane)?.id === id) this.#drop(lane);
  }

  /** Marks the lane as used now (a continuation read it). */
  touch(lane: string): void {
    const entry = this.#byLane.get(lane);
    if (entry === undefined) return;
    this.#byLane.delete(lane);
    this.#byLane.set(lane, entry);
  }

  clear(): void {
    this.#byLane.clear();
    this.#running.clear();
    this.#bytes = 0;
  }

  #drop(lane: string): void {
    const entry = this.#byLane.get(lane);
    if (entry === undefined) return;
    this.#bytes -= entry.bytes;
    this.#byLane.delete(lane);
  }
}
