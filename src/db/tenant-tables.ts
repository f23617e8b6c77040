// The tables of a shard that hold a tenant's rows, found from the schema itself so that a table added
// by a later migration is never forgotten: those with a `tenant_id` column, and those whose rows are
// found by their response's id. Used by a tenant's move (tenant-move.ts) and erasure (tenant-erase.ts).

/** Tables of the first database only (tenants and their keys, and where each tenant's history is). */
export const CONTROL_TABLES = new Set(["tenants", "api_keys", "tenant_shards"]);

/** One table's rows of the tenant: by `tenant_id`, or by its responses' ids for a table without one. */
export interface TenantTable {
  name: string;
  primaryKey: string[];
  /** The condition on the tenant's rows, with one `?` for the tenant id. */
  where: string;
}

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
