// Row counts of D1's tables, for tests that prove a request wrote nothing (or exactly what it should).

import { everyD1 } from "./shards";

/** Every table of src/db/schema.ts. */
export const ALL_TABLES = [
  "responses",
  "response_event_batches",
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
  "usage_rollups",
  "tenant_shards",
] as const;

/** Rows in each of `tables` over every shard (one batch per shard). */
export async function rowCounts(tables: readonly string[] = ALL_TABLES): Promise<Record<string, number>> {
  const counts: Record<string, number> = Object.fromEntries(tables.map((table) => [table, 0]));
  for (const db of everyD1()) {
    const results = await db.batch<{ n: number }>(
      tables.map((table) => db.prepare(`SELECT count(*) AS n FROM ${table}`)),
    );
    tables.forEach((table, index) => (counts[table]! += results[index]?.results[0]?.n ?? 0));
  }
  return counts;
}
