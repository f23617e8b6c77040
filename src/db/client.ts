// The Drizzle client over the D1 binding, one per binding (it holds configuration, no request state),
// and what every query module shares: batch statements, D1's bound-parameter limit, cursor pages.

import type { BatchItem } from "drizzle-orm/batch";
import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema>;

/** One statement of a `db.batch` (one transaction, one round trip). */
export type Statement = BatchItem<"sqlite">;

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

/** Runs `statements` as one batch; an empty list writes nothing. */
export async function runBatch(db: Db, statements: Statement[]): Promise<void> {
  if (statements.length === 0) return;
  await db.batch(statements as [Statement, ...Statement[]]);
}

/** D1 allows 100 bound parameters per statement: rows per multi-row insert for `columns` columns. */
export const rowsPerStatement = (columns: number): number => Math.floor(100 / columns);

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export type ListOrder = "asc" | "desc";

/** A cursor page request, as the list routes parse it. */
export interface PageQuery {
  /** The id of the last row of the previous page (exclusive); null from the first row on. */
  after: string | null;
  limit: number;
  order: ListOrder;
}

/** One page of a list, and whether rows follow it. */
export interface Page<T> {
  items: T[];
  hasMore: boolean;
}

/** What a list query answers when `after` is not one of the caller's rows. */
export type AfterNotFound = "after_not_found";
export const AFTER_NOT_FOUND: AfterNotFound = "after_not_found";

/** The page of `rows` read with `limit + 1`: the extra row only tells that more follow. */
export const pageOf = <T>(rows: T[], limit: number): Page<T> => ({
  items: rows.slice(0, limit),
  hasMore: rows.length > limit,
});
