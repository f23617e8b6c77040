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
