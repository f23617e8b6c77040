// D1 queries on managed tenants: create, find, list (cursor pages, oldest first), the last two with
// the tenant's shard record. Used by the admin API.

import { and, asc, eq, gt, or } from "drizzle-orm";
import { AFTER_NOT_FOUND, pageOf, type AfterNotFound, type Db, type Page } from "./client";
import { tenants, tenantShards } from "./schema";

export type TenantRow = typeof tenants.$inferSelect;

/** A tenant with its shard record (src/db/shards.ts): null before its first write. */
export type PlacedTenant = TenantRow & { shard: string | null; movingTo: string | null };

const placedColumns = {
  id: tenants.id,
  name: tenants.name,
  createdAt: tenants.createdAt,
  shard: tenantShards.shard,
  movingTo: tenantShards.movingTo,
};

export async function insertTenant(db: Db, row: TenantRow): Promise<void> {
  await db.insert(tenants).values(row);
}

export async function findTenant(db: Db, id: string): Promise<TenantRow | undefined> {
  return db.query.tenants.findFirst({ where: eq(tenants.id, id) });
}

/** The tenant with its shard record, read where `tenant_shards` is authoritative (the control DB). */
export async function findPlacedTenant(db: Db, id: string): Promise<PlacedTenant | undefined> {
  return db
    .select(placedColumns)
    .from(tenants)
    .leftJoin(tenantShards, eq(tenantShards.tenantId, tenants.id))
    .where(eq(tenants.id, id))
    .get();
}

/** A page of tenants in creation order after the tenant `after` (exclusive), with their shard records. */
export async function pageTenants(
  db: Db,
  options: { after: string | null; limit: number },
): Promise<Page<PlacedTenant> | AfterNotFound> {
  let cursor = undefined;
  if (options.after !== null) {
    const anchor = await findTenant(db, options.after);
    if (anchor === undefined) return AFTER_NOT_FOUND;
    cursor = or(
      gt(tenants.createdAt, anchor.createdAt),
      and(eq(tenants.createdAt, anchor.createdAt), gt(tenants.id, anchor.id)),
    );
  }
  const rows = await db
    .select(placedColumns)
    .from(tenants)
    .leftJoin(tenantShards, eq(tenantShards.tenantId, tenants.id))
    .where(cursor)
    .orderBy(asc(tenants.createdAt), asc(tenants.id))
    .limit(options.limit + 1);
  return pageOf(rows, options.limit);
}
