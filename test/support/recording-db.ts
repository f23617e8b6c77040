// A Drizzle client over the test D1 binding that records every statement it prepares, single queries
// and batches alike, with the values bound to it: for tests of what SQL the query modules send.

import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import type { Db } from "../../src/db/client";
import * as schema from "../../src/db/schema";

/** One statement as D1 was given it: its SQL and the values bound to it. */
export interface Prepared {
  sql: string;
  params: unknown[];
}

/** A Drizzle client over `env.DB` that records every statement it prepares (single queries and batches alike). */
export function recordingDb(): { db: Db; prepared: Prepared[] } {
  const prepared: Prepared[] = [];
  const binding = new Proxy(env.DB, {
    get(target, property) {
      if (property === "prepare")
        return (query: string) => {
          const entry: Prepared = { sql: query, params: [] };
          prepared.push(entry);
          const statement = target.prepare(query);
          return new Proxy(statement, {
            get(inner, name) {
              if (name === "bind")
                return (...values: unknown[]) => {
                  entry.params = values;
                  return inner.bind(...values);
                };
              const value: unknown = Reflect.get(inner, name);
              return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(inner) : value;
            },
          });
        };
      const value: unknown = Reflect.get(target, property);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { db: drizzle(binding, { schema }), prepared };
}

/** Wraps a D1 binding so that each `batch` it runs is noted as the SQL of its statements, in order. */
function recordBatches(binding: D1Database, batches: string[][]): D1Database {
  const sqlOf = new WeakMap<object, string>();
  const tracked = (statement: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const proxy = new Proxy(statement, {
      get(inner, name) {
        if (name === "bind") return (...values: unknown[]) => tracked(inner.bind(...values), sql);
        const value: unknown = Reflect.get(inner, name);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(inner) : value;
      },
    });
    sqlOf.set(proxy, sql);
    return proxy;
  };
  return new Proxy(binding, {
    get(target, property) {
      if (property === "prepare") return (query: string) => tracked(target.prepare(query), query);
      if (property === "batch")
        return (statements: D1PreparedStatement[]) => {
          batches.push(statements.map((statement) => sqlOf.get(statement) ?? "?"));
          return target.batch(statements);
        };
      const value: unknown = Reflect.get(target, property);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** `env` with every D1 binding noting the SQL of each batch it runs (writes go in batches). */
export function recordingEnv(): { env: Env; batches: string[][] } {
  const batches: string[][] = [];
  const wrapped: Record<string, unknown> = { ...(env as unknown as Record<string, unknown>) };
  for (const [name, value] of Object.entries(wrapped))
    if (typeof value === "object" && value !== null && typeof (value as D1Database).batch === "function")
      wrapped[name] = recordBatches(value as D1Database, batches);
  return { env: wrapped as unknown as Env, batches };
}
