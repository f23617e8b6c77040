// A per-isolate memory of recent verdicts on keys, held by a hash of the key (never the key itself),
// bounded in size and in time: a new isolate starts empty, and a verdict is trusted only briefly.
// Used for keys the pass-through upstream accepted or refused (key-acceptance.ts; a refusal keeps
// the upstream's error) and gateway keys D1 did not know (auth.ts).

export class RecentKeys<T = true> {
  /** Hash -> the verdict and when it lapses (ms); in insertion order, so the first entry is the oldest. */
  readonly #entries = new Map<string, { value: T; until: number }>();

  constructor(
    readonly ttlMs: number,
    readonly maxEntries: number,
  ) {}

  /** The verdict remembered for `hash`, if it has not lapsed. */
  get(hash: string, now = Date.now()): T | undefined {
    const entry = this.#entries.get(hash);
    if (entry === undefined) return undefined;
    if (entry.until > now) return entry.value;
    this.#entries.delete(hash);
    return undefined;
  }

  has(hash: string, now = Date.now()): boolean {
    return this.get(hash, now) !== undefined;
  }

  /** Remembers `value` for `hash` for `ttlMs`; past `maxEntries`, the oldest verdicts are forgotten first. */
  add(hash: string, value: T, now = Date.now()): void {
    this.#entries.delete(hash);
    this.#entries.set(hash, { value, until: now + this.ttlMs });
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.maxEntries) break;
      this.#entries.delete(oldest);
    }
  }
}
