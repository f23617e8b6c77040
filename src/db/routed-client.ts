// A D1 client that picks its database when each statement runs, not when it is prepared: shard routing
// (shards.ts) gives every request a client whose first write first records a new tenant's shard, or
// waits for an operator's move of the tenant to end and then writes to its new shard. Used by shards.ts only.

/** What Drizzle's D1 driver calls: `prepare` (then `bind`, `run`, `all`, `raw`, `first`) and `batch`. */
export type D1Client = Pick<D1Database, "prepare" | "batch">;

/** The database a statement runs on; `writes` says whether it changes anything. */
export type Route = (writes: boolean) => Promise<D1Client>;

/** A statement that writes (anything but a read). */
const WRITES = /^\s*(insert|update|delete|replace|create|drop|alter)\b/i;
/** A write behind a `WITH` clause. */
const WRITES_AFTER_WITH = /\)\s*(insert|update|delete|replace)\b/i;

export const isWrite = (sql: string): boolean =>
  WRITES.test(sql) || (/^\s*with\b/i.test(sql) && WRITES_AFTER_WITH.test(sql));

class RoutedStatement {
  constructor(
    readonly sql: string,
    readonly values: unknown[],
    readonly writes: boolean,
    readonly route: Route,
  ) {}

  bind(...values: unknown[]): RoutedStatement {
    return new RoutedStatement(this.sql, values, this.writes, this.route);
  }

  on(client: D1Client): D1PreparedStatement {
    return client.prepare(this.sql).bind(...this.values);
  }

  async #prepared(): Promise<D1PreparedStatement> {
    return this.on(await this.route(this.writes));
  }

  async run<T>(): Promise<D1Result<T>> {
    return (await this.#prepared()).run<T>();
  }

  async all<T>(): Promise<D1Result<T>> {
    return (await this.#prepared()).all<T>();
  }

  async raw<T>(options?: { columnNames?: false }): Promise<T[]> {
    return (await this.#prepared()).raw<T>(options);
  }

  async first<T>(column?: string): Promise<T | null> {
    const statement = await this.#prepared();
    return column === undefined ? statement.first<T>() : statement.first<T>(column);
  }
}

/** A client whose statements (and batches, as one) run where `route` says at the moment they run. */
export function routedClient(route: Route): D1Client {
  return {
    prepare: (sql: string) => new RoutedStatement(sql, [], isWrite(sql), route) as unknown as D1PreparedStatement,
    batch: async <T>(statements: D1PreparedStatement[]) => {
      const routed = statements as unknown as RoutedStatement[];
      const client = await route(routed.some((statement) => statement.writes));
      return client.batch<T>(routed.map((statement) => statement.on(client)));
    },
  };
}
