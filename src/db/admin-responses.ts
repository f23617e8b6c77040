// The operator's reads of stored responses across tenants (the admin API, read-only), on one shard:
// one response by id whoever owns it, and the list of every tenant's responses (the route merges the
// shards'). The only queries on `responses` that do not name a tenant; the admin token guards every
// route that uses them.

import { and, eq, gt, lt } from "drizzle-orm";
import { chunk, pageOf, type Db, type Page, type PageQuery } from "./client";
import { tenantPage, type ListedRow, type ResponseFilters } from "./response-list";
import { responseColumns, type ResponseRow } from "./responses";
import { responses } from "./schema";
import { ofAnyTenant, tenantsWithResponses } from "./tenant-scan";

/** Tenants' pages read in one D1 batch. */
const TENANT_PAGES_PER_BATCH = 50;

export interface AdminListedRow extends ListedRow {
  tenantId: string;
}

/** The response `id`, whichever tenant stored it (a seek per tenant). */
export async function findAnyResponse(db: Db, id: string): Promise<ResponseRow | undefined> {
  const [row] = await db
    .select(responseColumns)
    .from(responses)
    .where(and(ofAnyTenant(), eq(responses.id, id)))
    .limit(1);
  return row;
}

/**
 * A page of every tenant's responses on this shard, newest first by default, keyset-paginated on the
 * id: ids carry their creation time, so the id is the time order and no index is written for this view
 * (rows from before ids were timed sort among them by their random id), and one cursor serves every
 * shard. Each tenant's page is read from its key range and the pages are merged. `after` need not be a
 * row of this shard (the caller checks that it exists on one). Filters are conditions on the rows read
 * in that order, so a rare filter value can read much of the table.
 */
export async function pageAllResponses(
  db: Db,
  filters: ResponseFilters,
  options: PageQuery,
): Promise<Page<AdminListedRow>> {
  const after = options.after;
  const cursor =
    after === null ? undefined : options.order === "desc" ? lt(responses.id, after) : gt(responses.id, after);
  const pageOfTenant = (tenantId: string) => tenantPage(db, tenantId, filters, options, [cursor], [responses.id]);
  const rows: AdminListedRow[] = [];
  for (const tenants of chunk(await tenantsWithResponses(db), TENANT_PAGES_PER_BATCH)) {
    const pages = await db.batch(tenants.map(pageOfTenant) as [ReturnType<typeof pageOfTenant>]);
    for (const page of pages) rows.push(...page);
  }
  const sign = options.order === "desc" ? -1 : 1;
  rows.sort((a, b) => (a.id < b.id ? -sign : a.id > b.id ? sign : 0));
  return pageOf(rows.slice(0, options.limit + 1), options.limit);
}
