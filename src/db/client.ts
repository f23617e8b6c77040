// The Drizzle client over the D1 binding, created per request or per run (never in module scope).

import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema>;

export const openDb = (binding: D1Database): Db => drizzle(binding, { schema });

/** D1 allows 100 bound parameters per statement: rows per multi-row insert for `columns` columns. */
export const rowsPerStatement = (columns: number): number => Math.floor(100 / columns);

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
