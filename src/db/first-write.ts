// A D1 binding or session that runs a step before its first write: shard routing (shards.ts) records a
// new tenant's shard this way, so no write reaches a shard for a tenant with no record, whichever
// route or run writes first, and a request that only reads writes nothing. Used by shards.ts only.

/** What Drizzle's D1 driver calls: `prepare` (then `bind`, `run`, `all`, `raw`) and `batch`. */
export type D1Client = Pick<D1Database, "prepare" | "batch">;

/** A statement that writes (anything but a read): the step must run before it. */
const WRITES = /^\s*(insert|update|delete|replace|create|drop|alter)\b/i;
/** A write behind a `WITH` clause. */
const WRITES_AFTER_WITH = /\)\s*(insert|update|delete|replace)\b/i;

const isWrite = (sql: string): boolean => WRITES.test(sql) || (/^\s*with\b/i.test(sql) && WRITES_AFTER_WITH.test(sql));

class GuardedStatement {
  constructor(
    readonly inner: D1PreparedStatement,
    readonly writes: boolean,
    readonly ready: () => Promise<void>,
  ) {}

  bind(...values: unknown[]): GuardedStatement {
    return new GuardedStatement(this.inner.bind(...values), this.writes, this.ready);
  }

  async #before(): Promise<void> {
    if (this.writes) await this.ready();
  }

  async run<T>(): Promise<D1Result<T>> {
    await this.#before();
    return this.inner.run<T>();
  }

  async all<T>(): Promise<D1Result<T>> {
    await this.#before();
    return this.inner.all<T>();
  }

  async raw<T>(options?: { columnNames?: false }): Promise<T[]> {
    await this.#before();
    return this.inner.raw<T>(options);
  }

  async first<T>(column?: string): Promise<T | null> {
    await this.#before();
    return column === undefined ? this.inner.first<T>() : this.inner.first<T>(column);
  }
}

/**
 * A wrapper for clients whose first write, over all of them, waits for `step` (run once; run again
 * by the next write if it failed). Statements pass through untouched once it has succeeded.
 */
export function guardFirstWrite(step: () => Promise<void>): (client: D1Client) => D1Client {
  let done = false;
  let running: Promise<void> | undefined;
  const ready = async (): Promise<void> => {
    if (done) return;
    running ??= step().then(
      () => void (done = true),
      (error: unknown) => {
        running = undefined;
        throw error;
      },
    );
    await running;
  };
  return (client) => ({
    prepare: (sql: string) =>
      new GuardedStatement(client.prepare(sql), isWrite(sql), ready) as unknown as D1PreparedStatement,
    batch: async <T>(statements: D1PreparedStatement[]) => {
      const guarded = statements as unknown as GuardedStatement[];
      if (guarded.some((statement) => statement.writes)) await ready();
      return client.batch<T>(guarded.map((statement) => statement.inner));
    },
  });
}
