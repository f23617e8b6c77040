// The Drizzle client over the D1 binding, one per binding (it holds configuration, no request state).

import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema>;

/**
 * One Drizzle client per D1 binding: building one derives the relational config from the schema,
 * which profiling showed as a per-request cost. The client holds no request state (configuration
 * and the binding only), so it is safe to share between requests of an isolate.
 */
const clients = new WeakMap<D1Database, Db>();

export function openDb(binding: D1Database): Db {
  let db = clients.get(binding);
  if (db === undefined) {
    db = drizzle(binding, { schema });
    clients.set(binding, db);
  }
  return db;
}

/** D1 allows 100 bound parameters per statement: rows per multi-row insert for `columns` columns. */
export const rowsPerStatement = (columns: number): number => Math.floor(100 / columns);

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
