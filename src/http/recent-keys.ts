// A per-isolate memory of recent verdicts on keys, held by a hash of the key (never the key itself),
// bounded in size and in time: a new isolate starts empty, and a verdict is trusted only briefly.
// Used for keys the pass-through upstream accepted (key-acceptance.ts) and gateway keys D1 did not
// know (auth.ts).

export class RecentKeys {
  /** Hash -> when the verdict lapses (ms); in insertion order, so the first entry is the oldest. */
  readonly #until = new Map<string, number>();

  constructor(
    readonly ttlMs: number,
    readonly maxEntries: number,
  ) {}

  has(hash: string, now = Date.now()): boolean {
    const until = this.#until.get(hash);
    if (until === undefined) return false;
    if (until > now) return true;
    this.#until.delete(hash);
    return false;
  }

  /** Remembers `hash` for `ttlMs`; past `maxEntries`, the oldest verdicts are forgotten first. */
  add(hash: string, now = Date.now()): void {
    this.#until.delete(hash);
    this.#until.set(hash, now + this.ttlMs);
    for (const oldest of this.#until.keys()) {
      if (this.#until.size <= this.maxEntries) break;
      this.#until.delete(oldest);
    }
  }
}
