// Row counts of D1's tables, for tests that prove a request wrote nothing (or exactly what it should).

import { env } from "cloudflare:workers";

/** Every table of src/db/schema.ts. */
export const ALL_TABLES = [
  "responses",
  "response_items",
  "response_events",
  "blobs",
  "tenants",
  "api_keys",
  "webhook_endpoints",
  "webhook_deliveries",
  "webhook_attempts",
  "conversations",
  "conversation_items",
  "idempotency_keys",
  "usage_daily",
] as const;

/** Rows in each of `tables`, in one batch. */
export async function rowCounts(tables: readonly string[] = ALL_TABLES): Promise<Record<string, number>> {
  const results = await env.DB.batch<{ n: number }>(
    tables.map((table) => env.DB.prepare(`SELECT count(*) AS n FROM ${table}`)),
  );
  return Object.fromEntries(tables.map((table, index) => [table, results[index]?.results[0]?.n ?? 0]));
}
