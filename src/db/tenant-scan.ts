// The tenants that have responses on a shard, for the few queries that span tenants (the sweep,
// retention, the admin reads): `responses` is keyed by (tenant_id, id), so such a query goes tenant
// by tenant. Each tenant is found by one seek on the key (a recursive skip-scan), not by reading rows,
// and SQLite then seeks each tenant's key range in turn (`tenant_id IN (...)` drives the key).

import { sql, type SQL } from "drizzle-orm";
import type { Db } from "./client";
import { responses } from "./schema";

/** The skip-scan: one row per tenant with responses, in key order (a query of its own, column `tenant`). */
export const TENANTS = sql`WITH RECURSIVE t(tenant) AS (
    SELECT min(tenant_id) FROM responses
    UNION ALL
    SELECT (SELECT min(tenant_id) FROM responses WHERE tenant_id > t.tenant) FROM t WHERE t.tenant IS NOT NULL
  )
  SELECT tenant FROM t WHERE tenant IS NOT NULL`;

/** A condition on `responses` that lets a query span tenants and still seek each one's key. */
export const ofAnyTenant = (): SQL => sql`${responses.tenantId} IN (${TENANTS})`;

/** Every tenant with a row in `responses`, in key order. */
export async function tenantsWithResponses(db: Db): Promise<string[]> {
  const rows = await db.all<{ tenant: string }>(TENANTS);
  return rows.map((row) => row.tenant);
}
