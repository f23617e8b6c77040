// Runs of this isolate that another request may stop, by what they are listed under: a foreground
// turn whose client left and yielded its conversation (ResponseRecorder.yieldClaim; stopped by the
// response that claims the conversation, src/run/conversation-turn.ts), and a stored foreground run
// whose client left (ResponseRecorder.markLeft; stopped by the create that ends it from D1,
// src/stream/dead-run.ts `endLeftRun`). A run in another isolate learns the same at its next
// heartbeat (RECORD_FLUSH_SECONDS): D1 decides; this only hastens the stop.

/** One list of stoppable runs: for each key, the response listed and what stops its run. */
export class LocalStops {
  readonly #listed = new Map<string, { responseId: string; stop: () => void }>();

  /** Lists `responseId`'s run under the tenant's `key`; the returned function unlists it. */
  note(tenantId: string, key: string, responseId: string, stop: () => void): () => void {
    const listedAs = `${tenantId}\n${key}`;
    const entry = { responseId, stop };
    this.#listed.set(listedAs, entry);
    return () => {
      if (this.#listed.get(listedAs) === entry) this.#listed.delete(listedAs);
    };
  }

  /** Stops and unlists the run listed under the tenant's `key`, unless it is `by`'s own. */
  stop(tenantId: string, key: string, by?: string): void {
    const listedAs = `${tenantId}\n${key}`;
    const entry = this.#listed.get(listedAs);
    if (entry === undefined || entry.responseId === by) return;
    this.#listed.delete(listedAs);
    entry.stop();
  }
}

/** Turns that yielded their conversation, by conversation id. */
export const yieldedClaims = new LocalStops();

/** Stored foreground runs whose client left, by response id. */
export const leftRuns = new LocalStops();
