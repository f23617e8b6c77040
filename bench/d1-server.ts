// A local D1 and rate limiter in a workerd process of its own (bench only, never in src/): serves D1's HTTP
// protocol (`POST /query` and `/execute`, as the binding's remote proxy forwards them) from a SQLite-backed
// Durable Object, the way Miniflare's own local D1 does, and the rate limiter's `POST /limit` from another, the
// way Miniflare's own simulation counts (a SQLite row per key and period, in windows aligned to the clock). The
// gateway's workerd process then does only the Worker's work, as in production, where D1 and the rate limiter
// run elsewhere and are not billed as the Worker's CPU. Loaded by bench/d1-apart.ts.

interface SqlCursor extends Iterable<Record<string, unknown>> {
  readonly columnNames: string[];
  raw(): Iterable<unknown[]>;
  readonly rowsRead: number;
  readonly rowsWritten: number;
}
interface ObjectState {
  storage: {
    sql: { exec(query: string, ...bindings: unknown[]): SqlCursor; readonly databaseSize: number };
    transaction<T>(closure: () => Promise<T>): Promise<T>;
    getCurrentBookmark?(): Promise<string>;
  };
}
interface Namespace {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(request: Request): Promise<Response> };
}

interface Query {
  sql: string;
  params?: unknown[] | null;
}

const COMMIT_TOKEN = "x-cf-d1-session-commit-token";

/** D1's convention: an array of numbers is a BLOB, answered back as an array of numbers. */
const toParam = (value: unknown): unknown => (Array.isArray(value) ? new Uint8Array(value as number[]).buffer : value);
const fromValue = (value: unknown): unknown =>
  value instanceof ArrayBuffer ? Array.from(new Uint8Array(value)) : value;

export class Database {
  readonly #state: ObjectState;

  constructor(state: ObjectState) {
    this.#state = state;
  }

  #counters(): { changes: number; lastRowId: number } {
    const row = this.#state.storage.sql
      .exec("SELECT total_changes() AS changes, last_insert_rowid() AS lastRowId")
      .raw()
      [Symbol.iterator]()
      .next().value as [number, number];
    return { changes: row[0], lastRowId: row[1] };
  }

  #run(format: string, query: Query) {
    const { sql } = this.#state.storage;
    const sizeBefore = sql.databaseSize;
    const before = this.#counters();
    const started = performance.now();
    const cursor = sql.exec(query.sql, ...(query.params ?? []).map(toParam));
    const columns = cursor.columnNames;
    const rows = Array.from(cursor.raw(), (row) => row.map(fromValue));
    const duration = performance.now() - started;
    const after = this.#counters();
    const changes = after.changes - before.changes;
    return {
      success: true,
      results:
        format === "ROWS_AND_COLUMNS"
          ? { columns, rows }
          : rows.map((row) => Object.fromEntries(columns.map((name, i) => [name, row[i]]))),
      meta: {
        served_by: "bench.d1-apart",
        served_by_primary: true,
        timings: { sql_duration_ms: duration },
        duration,
        changes,
        last_row_id: after.lastRowId,
        changed_db: changes !== 0 || after.lastRowId !== before.lastRowId || sql.databaseSize !== sizeBefore,
        size_after: sql.databaseSize,
        rows_read: cursor.rowsRead,
        rows_written: cursor.rowsWritten,
      },
    };
  }

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.method !== "POST" || (url.pathname !== "/query" && url.pathname !== "/execute"))
      return Response.json({ success: false, error: `not D1's protocol: ${request.method} ${url.pathname}` });
    const body = (await request.json()) as Query | Query[];
    const queries = (Array.isArray(body) ? body : [body]).filter((query) => query.sql.trim().length > 0);
    const format = url.searchParams.get("resultsFormat") ?? "ARRAY_OF_OBJECTS";
    try {
      const { results, token } = await this.#state.storage.transaction(async () => ({
        results: queries.map((query) => this.#run(format, query)),
        token: await this.#state.storage.getCurrentBookmark?.(),
      }));
      return Response.json(results, { headers: token === undefined ? {} : { [COMMIT_TOKEN]: token } });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return Response.json({ success: false, error: message }, { status: 500 });
    }
  }
}

/**
 * The rate limiter's counts, as Miniflare's `RateLimiterObject` keeps them: a row per key and period, counted
 * in windows aligned to the clock; a new window clears the period's old rows.
 */
export class Limiter {
  readonly #state: ObjectState;
  #schema = false;

  constructor(state: ObjectState) {
    this.#state = state;
  }

  async fetch(request: Request): Promise<Response> {
    const { key, limit, period } = (await request.json()) as { key: string; limit: number; period: number };
    const { sql } = this.#state.storage;
    if (!this.#schema) {
      sql.exec(
        "CREATE TABLE IF NOT EXISTS buckets (key TEXT NOT NULL, period INTEGER NOT NULL, epoch INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (key, period))",
      );
      this.#schema = true;
    }
    const epoch = Math.floor(Date.now() / (period * 1000));
    const row = sql
      .exec("SELECT epoch, count FROM buckets WHERE key = ? AND period = ?", key, period)
      .raw()
      [Symbol.iterator]()
      .next().value as [number, number] | undefined;
    let count = 0;
    if (row !== undefined && row[0] === epoch) count = row[1];
    else sql.exec("DELETE FROM buckets WHERE period = ? AND epoch != ?", period, epoch);
    if (count >= limit) return Response.json({ success: false });
    sql.exec(
      "INSERT OR REPLACE INTO buckets (key, period, epoch, count) VALUES (?, ?, ?, ?)",
      key,
      period,
      epoch,
      count + 1,
    );
    return Response.json({ success: true });
  }
}

/** The rate limiter's requests (`POST /limit`, from bench/gateway.ts's binding), else what the binding's remote proxy sent (the target URL and headers travel as `MF-*` headers). */
export default {
  async fetch(request: Request, env: { DATABASE: Namespace; LIMITER: Namespace }): Promise<Response> {
    if (new URL(request.url).pathname === "/limit")
      return env.LIMITER.get(env.LIMITER.idFromName("limiter")).fetch(request);
    const target = request.headers.get("MF-URL");
    const binding = request.headers.get("MF-Binding");
    if (target === null || binding === null) return new Response("not a D1 binding's request", { status: 400 });
    const headers = new Headers();
    for (const [name, value] of request.headers)
      if (name.startsWith("mf-header-")) headers.set(name.slice("mf-header-".length), value);
    const database = env.DATABASE.get(env.DATABASE.idFromName(binding));
    return database.fetch(new Request(target, { method: request.method, headers, body: request.body }));
  },
};
