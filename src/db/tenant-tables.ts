// The tables of a shard that hold a tenant's rows, found from the schema itself so that a table added
// by a later migration is never forgotten: those with a `tenant_id` column, and those whose rows are
// found by their response's id; and the tenant's responses still running, which both a move and an
// erasure wait for or refuse. Used by a tenant's move (tenant-move.ts) and erasure (tenant-erase.ts).

import { ApiError } from "../errors";

/** Tables of the first database only (tenants and their keys, and where each tenant's history is). */
export const CONTROL_TABLES = new Set(["tenants", "api_keys", "tenant_shards"]);

/** One table's rows of the tenant: by `tenant_id`, or by its responses' ids for a table without one. */
export interface TenantTable {
  name: string;
  primaryKey: string[];
  /** The condition on the tenant's rows, with one `?` for the tenant id. */
  where: string;
}

/** Rows one bounded `DELETE` removes: small enough for any row size within D1's statement limits. */
export const DELETE_ROWS_PER_STATEMENT = 500;

/** A name quoted as an SQL identifier. */
export const quoted = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** The tables that hold tenant rows, `responses` last (the others' rows are found by its ids). */
export async function tenantTables(db: D1Database): Promise<TenantTable[]> {
  const tables = await db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%' ORDER BY name",
    )
    .all<{ name: string }>();
  const found: TenantTable[] = [];
  for (const { name } of tables.results) {
    if (CONTROL_TABLES.has(name)) continue;
    const { results: columns } = await db
      .prepare("SELECT name, pk FROM pragma_table_info(?)")
      .bind(name)
      .all<{ name: string; pk: number }>();
    const has = (column: string) => columns.some((c) => c.name === column);
    const keyColumns = columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
    const primaryKey = (keyColumns.length > 0 ? keyColumns : columns).map((c) => c.name);
    if (has("tenant_id")) found.push({ name, primaryKey, where: "tenant_id = ?" });
    else if (has("response_id"))
      found.push({ name, primaryKey, where: "response_id IN (SELECT id FROM responses WHERE tenant_id = ?)" });
  }
  return found.sort((a, b) => Number(a.name === "responses") - Number(b.name === "responses"));
}

/** The tenant's responses on the shard still `queued` or `in_progress`: their runs write there yet. */
export async function runningResponses(db: D1Database, tenantId: string): Promise<number> {
  const running = await db
    .prepare("SELECT count(*) AS n FROM responses WHERE tenant_id = ? AND status IN ('queued', 'in_progress')")
    .bind(tenantId)
    .first<{ n: number }>();
  return running?.n ?? 0;
}

/** "1 response", "2 responses". */
export const responsesCount = (count: number): string => `${count} ${count === 1 ? "response" : "responses"}`;

/** An operator's tenant operation refused for the tenant's state (a move under way, responses running). */
export const tenantConflict = (message: string): ApiError =>
  new ApiError(409, message, { type: "invalid_request_error" });

/** `DELETE` of up to `limit` of the table's rows matching `where` (one parameter: the tenant id), by primary key. */
export function boundedDelete(table: TenantTable, where: string, limit: number): string {
  const key = table.primaryKey.map(quoted).join(", ");
  const keyTuple = table.primaryKey.length === 1 ? key : `(${key})`;
  return `DELETE FROM ${quoted(table.name)} WHERE ${keyTuple} IN (SELECT ${key} FROM ${quoted(table.name)} WHERE ${where} LIMIT ${limit})`;
}

/** The table's rows of the tenant (one parameter, `?1`); blobs written before they named a tenant are found by their response. */
export function ownedRows(table: TenantTable): string {
  if (table.name !== "blobs") return table.where.replace("?", "?1");
  // EXISTS, not IN: a point lookup for each legacy row, not every response of the tenant read per statement.
  return "(tenant_id = ?1 OR (tenant_id = '' AND EXISTS (SELECT 1 FROM responses WHERE tenant_id = ?1 AND id = blobs.owner_id)))";
}
