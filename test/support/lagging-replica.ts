// A D1 binding whose read replica lags, for the read-replica tests (test/shards/read-replicas.test.ts).
// Writes go to the primary (`DB`); a replica, a second database (`DB_REPLICA`), holds the primary as it
// was when it last caught up. Sessions behave as D1's Sessions API promises: `first-primary` sends the
// first query to the primary, then reads to the replica once it is at least as new as the session's
// bookmark (it catches up first when behind); `first-unconstrained` reads the replica as it is.

/** Statements that change the database. */
const WRITES =
  /^\s*(insert|update|delete|replace|create|drop|alter|with\b[\s\S]*\)\s*(insert|update|delete|replace))\b/i;

type Target = "primary" | "replica";

/** The binding itself, outside a session: the primary. */
const toPrimary = (): Promise<Target> => Promise.resolve("primary");

export class LaggingReplica {
  /** Writes the primary has taken (its "bookmark"). */
  #version = 0;
  /** The primary's version the replica last caught up to. */
  #replicaVersion = 0;
  /** Reads the replica answered. */
  replicaReads = 0;

  constructor(
    readonly primary: D1Database,
    readonly replica: D1Database,
  ) {}

  /** The binding the Worker gets in place of `DB`. */
  binding(): D1Database {
    return {
      prepare: (sql: string) => this.#statement(sql, [], toPrimary),
      batch: (statements: D1PreparedStatement[]) => this.#batch(statements, toPrimary),
      exec: (sql: string) => this.primary.exec(sql),
      withSession: (constraint?: string) => this.#session(constraint ?? "first-unconstrained"),
      dump: () => this.primary.dump(),
    } as unknown as D1Database;
  }

  /** Copies every table of the primary into the replica. */
  async catchUp(): Promise<void> {
    const version = this.#version;
    const tables = await this.primary
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%'",
      )
      .all<{ name: string }>();
    for (const { name } of tables.results) {
      const [columns, ...rows] = await this.primary.prepare(`SELECT * FROM "${name}"`).raw({ columnNames: true });
      const names = columns.map((column) => `"${column}"`).join(", ");
      const marks = columns.map(() => "?").join(", ");
      const insert = `INSERT INTO "${name}" (${names}) VALUES (${marks})`;
      await this.replica.batch([
        this.replica.prepare(`DELETE FROM "${name}"`),
        ...rows.map((row) =>
          this.replica.prepare(insert).bind(...row.map((v) => (Array.isArray(v) ? new Uint8Array(v) : v))),
        ),
      ]);
    }
    this.#replicaVersion = version;
  }

  /** What a reader sees on the replica as it is, without catching up (as an unconstrained session would). */
  staleRead<T>(sql: string, ...values: unknown[]): Promise<T | null> {
    return this.replica
      .prepare(sql)
      .bind(...values)
      .first<T>();
  }

  #on(target: Target): D1Database {
    return target === "primary" ? this.primary : this.replica;
  }

  #statement(sql: string, values: unknown[], route: (writes: boolean) => Promise<Target>): D1PreparedStatement {
    const writes = WRITES.test(sql);
    const run = async <R>(call: (statement: D1PreparedStatement) => Promise<R>): Promise<R> => {
      const target = await route(writes);
      if (target === "replica") this.replicaReads++;
      const answer = await call(
        this.#on(target)
          .prepare(sql)
          .bind(...values),
      );
      if (writes) this.#version++;
      return answer;
    };
    const statement = {
      sql,
      values,
      writes,
      bind: (...bound: unknown[]) => this.#statement(sql, bound, route),
      run: () => run((s) => s.run()),
      all: () => run((s) => s.all()),
      raw: (options?: { columnNames?: boolean }) => run((s) => s.raw(options as { columnNames: true })),
      first: (column?: string) => run((s) => (column === undefined ? s.first() : s.first(column))),
    };
    return statement as unknown as D1PreparedStatement;
  }

  async #batch(statements: D1PreparedStatement[], route: (writes: boolean) => Promise<Target>) {
    const own = statements as unknown as { sql: string; values: unknown[]; writes: boolean }[];
    const writes = own.some((statement) => statement.writes);
    const target = await route(writes);
    if (target === "replica") this.replicaReads++;
    const db = this.#on(target);
    const answer = await db.batch(own.map((statement) => db.prepare(statement.sql).bind(...statement.values)));
    if (writes) this.#version++;
    return answer;
  }

  #session(constraint: string): D1DatabaseSession {
    // The version this session must see: unknown until its first query when it starts at the primary.
    let bookmark: number | null = constraint.startsWith("v:")
      ? Number(constraint.slice(2))
      : constraint === "first-primary"
        ? null
        : 0;
    const routed = async (writes: boolean): Promise<Target> => {
      if (writes || bookmark === null) {
        // A write, or the first query of a session that starts at the primary: the session must then
        // read at least what the primary held after it.
        bookmark = this.#version + (writes ? 1 : 0);
        return "primary";
      }
      if (this.#replicaVersion < bookmark) await this.catchUp();
      return "replica";
    };
    return {
      prepare: (sql: string) => this.#statement(sql, [], routed),
      batch: (statements: D1PreparedStatement[]) => this.#batch(statements, routed),
      getBookmark: () => (bookmark === null ? null : `v:${bookmark}`),
    } as unknown as D1DatabaseSession;
  }
}
