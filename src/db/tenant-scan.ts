// The tenants that have responses on a shard, for the few queries that span tenants (the sweep,
// retention, the admin reads): `responses` is keyed by (tenant_id, id), so such a query goes tenant
// by tenant. Each tenant is found by one seek on the key (a recursive skip-scan), not by reading rows.

import { sql } from "drizzle-orm";
import { chunk, type Db } from "./client";

/** Tenants per `tenant_id IN (...)`: within D1's 100 bound parameters, with room for a query's own. */
export const TENANTS_PER_QUERY = 90;

/** Every tenant with a row in `responses`, in key order. */
export async function tenantsWithResponses(db: Db): Promise<string[]> {
  const rows = await db.all<{ tenant: string | null }>(sql`
    WITH RECURSIVE t(tenant) AS (
      SELECT min(tenant_id) FROM responses
      UNION ALL
      SELECT (SELECT min(tenant_id) FROM responses WHERE tenant_id > t.tenant) FROM t WHERE t.tenant IS NOT NULL
    )
    SELECT tenant FROM t WHERE tenant IS NOT NULL`);
  return rows.map((row) => row.tenant).filter((tenant): tenant is string => tenant !== null);
}

/** The tenants with responses, in groups of at most TENANTS_PER_QUERY (one `IN` list each). */
export async function tenantGroups(db: Db): Promise<string[][]> {
  return chunk(await tenantsWithResponses(db), TENANTS_PER_QUERY);
}
