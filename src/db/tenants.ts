// D1 queries on managed tenants: create, find, list (cursor pages, oldest first).
// Used by the admin API.

import { and, asc, eq, gt, or } from "drizzle-orm";
import { AFTER_NOT_FOUND, pageOf, type AfterNotFound, type Db, type Page } from "./client";
import { tenants } from "./schema";

export type TenantRow = typeof tenants.$inferSelect;

export async function insertTenant(db: Db, row: TenantRow): Promise<void> {
  await db.insert(tenants).values(row);
}

export async function findTenant(db: Db, id: string): Promise<TenantRow | undefined> {
  return db.query.tenants.findFirst({ where: eq(tenants.id, id) });
}

/** A page of tenants in creation order after the tenant `after` (exclusive). */
export async function pageTenants(
  db: Db,
  options: { after: string | null; limit: number },
): Promise<Page<TenantRow> | AfterNotFound> {
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
    .select()
    .from(tenants)
    .where(cursor)
    .orderBy(asc(tenants.createdAt), asc(tenants.id))
    .limit(options.limit + 1);
  return pageOf(rows, options.limit);
}
