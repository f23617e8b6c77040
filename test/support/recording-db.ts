// D1 bindings that record what they are given: every statement prepared (with the values bound to it)
// and every batch run (as the SQL of its statements). For tests of what SQL the query modules send.

import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import type { Db } from "../../src/db/client";
import * as schema from "../../src/db/schema";

/** One statement as D1 was given it: its SQL and the values bound to it. */
export interface Prepared {
  sql: string;
  params: unknown[];
  /** Rows each `run` of it changed, in order. */
  changes: number[];
  /** Rows D1 read for each `all` of it (`meta.rows_read`), in order. */
  rowsRead: number[];
}

/** A property as a proxy hands it on: methods bound to the D1 object itself (workerd's check their receiver). */
function forwarded(target: object, name: string | symbol): unknown {
  const value: unknown = Reflect.get(target, name);
  return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
}

/** `statement` noting the values bound to it in `entry`; what `bind` answers is tracked the same way. */
function tracked(statement: D1PreparedStatement, entry: Prepared, sqlOf: WeakMap<object, string>): D1PreparedStatement {
  const proxy = new Proxy(statement, {
    get(inner, name) {
      if (name === "bind")
        return (...values: unknown[]) => {
          entry.params = values;
          return tracked(inner.bind(...values), entry, sqlOf);
        };
      if (name === "run")
        return async () => {
          const result = await inner.run();
          entry.changes.push(result.meta.changes);
          return result;
        };
      if (name === "all")
        return async () => {
          const result = await inner.all();
          entry.rowsRead.push(result.meta.rows_read);
          return result;
        };
      return forwarded(inner, name);
    },
  });
  sqlOf.set(proxy, entry.sql);
  return proxy;
}

/** `binding`, noting each statement it prepares in `prepared` and each batch it runs in `batches`. */
function recording(binding: D1Database, prepared: Prepared[], batches: string[][]): D1Database {
  const sqlOf = new WeakMap<object, string>();
  return new Proxy(binding, {
    get(target, property) {
      if (property === "prepare")
        return (query: string) => {
          const entry: Prepared = { sql: query, params: [], changes: [], rowsRead: [] };
          prepared.push(entry);
          return tracked(target.prepare(query), entry, sqlOf);
        };
      if (property === "batch")
        return (statements: D1PreparedStatement[]) => {
          batches.push(statements.map((statement) => sqlOf.get(statement) ?? "?"));
          return target.batch(statements);
        };
      return forwarded(target, property);
    },
  });
}

/** A Drizzle client over `binding` (`env.DB`) that records every statement it prepares (single queries and batches alike). */
export function recordingDb(binding: D1Database = env.DB): { db: Db; prepared: Prepared[] } {
  const prepared: Prepared[] = [];
  return { db: drizzle(recording(binding, prepared, []), { schema }), prepared };
}

/**
 * `env` with every D1 binding noting the SQL of each batch it runs (writes go in batches), and each
 * statement it prepares, by binding name.
 */
export function recordingEnv(): { env: Env; batches: string[][]; prepared: Record<string, Prepared[]> } {
  const batches: string[][] = [];
  const prepared: Record<string, Prepared[]> = {};
  const wrapped: Record<string, unknown> = { ...(env as unknown as Record<string, unknown>) };
  for (const [name, value] of Object.entries(wrapped))
    if (typeof value === "object" && value !== null && typeof (value as D1Database).batch === "function")
      wrapped[name] = recording(value as D1Database, (prepared[name] = []), batches);
  return { env: wrapped as unknown as Env, batches, prepared };
}
