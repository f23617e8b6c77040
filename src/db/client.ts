// What every query module shares: the Drizzle client type (clients come from shards.ts, which alone
// knows the bindings), batch statements, D1's bound-parameter limit, cursor pages.

import type { BatchItem } from "drizzle-orm/batch";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import type * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema>;

/** One statement of a `db.batch` (one transaction, one round trip). */
export type Statement = BatchItem<"sqlite">;

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
