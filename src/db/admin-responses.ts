// The operator's reads of stored responses across tenants (the admin API, read-only), on one shard:
// one response by id whoever owns it, and the list of every tenant's responses (the route merges the
// shards'). The only queries on `responses` that do not name a tenant; the admin token guards every
// route that uses them.

import { and, eq, isNull, sql } from "drizzle-orm";
import { chunk, pageOf, type Db, type Page, type PageQuery } from "./client";
import {
  keyset,
  legacyKeyset,
  tenantPage,
  timedRange,
  type Anchor,
  type ListedRow,
  type ResponseFilters,
} from "./response-list";
import { responseColumns, type ResponseRow } from "./responses";
import { responses } from "./schema";
import { ofAnyTenant, tenantsWithResponses } from "./tenant-scan";

/** Pages (a tenant's timed rows, or its untimed ones) read in one D1 batch. */
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
 * The page order of listed rows across tenants, as each tenant's list has it: timed rows by id (ids
 * carry their creation time, so one cursor serves every shard), and rows from before ids were timed
 * older than all of them, by (created_at, id).
 */
export function pageOrder(order: "asc" | "desc") {
  const sign = order === "desc" ? -1 : 1;
  const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return (a: Pick<ListedRow, "id" | "createdAt" | "legacy">, b: Pick<ListedRow, "id" | "createdAt" | "legacy">) => {
    const legacyA = a.legacy === 1;
    const legacyB = b.legacy === 1;
    if (legacyA !== legacyB) return sign * (legacyA ? -1 : 1);
    return sign * (legacyA ? a.createdAt - b.createdAt || byId(a, b) : byId(a, b));
  };
}

/** The tenants with rows from before ids were timed, from the partial index that only those rows are in. */
const LEGACY_TENANTS = sql`WITH RECURSIVE t(tenant) AS (
    SELECT min(tenant_id) FROM responses WHERE legacy = 1
    UNION ALL
    SELECT (SELECT min(tenant_id) FROM responses WHERE legacy = 1 AND tenant_id > t.tenant) FROM t WHERE t.tenant IS NOT NULL
  )
  SELECT tenant FROM t WHERE tenant IS NOT NULL`;

/**
 * A page of every tenant's responses on this shard, newest first by default, in each tenant's list
 * order (`pageOrder`), keyset-paginated after `anchor` (the row `after` names, found on any shard):
 * each tenant's page of timed rows is read from its key range (a created range is a range of ids) and
 * each tenant with older, untimed rows also reads a page of those from their partial index; the pages
 * are merged. Other filters are conditions on the rows read in that order, so a rare filter value can
 * read much of the table.
 */
export async function pageAllResponses(
  db: Db,
  filters: ResponseFilters,
  options: PageQuery,
  anchor?: Anchor,
): Promise<Page<AdminListedRow>> {
  const timedOf = (tenantId: string) =>
    tenantPage(
      db,
      tenantId,
      filters,
      options,
      [...timedRange(tenantId, filters), isNull(responses.legacy), keyset(anchor, options.order)],
      [responses.id],
    );
  const legacyOf = (tenantId: string) =>
    tenantPage(
      db,
      tenantId,
      filters,
      options,
      [eq(responses.legacy, 1), legacyKeyset(anchor, options.order)],
      [responses.createdAt, responses.id],
    );
  const legacy = new Set((await db.all<{ tenant: string }>(LEGACY_TENANTS)).map((row) => row.tenant));
  const pages = [...(await tenantsWithResponses(db)).map(timedOf), ...[...legacy].map(legacyOf)];
  const rows: AdminListedRow[] = [];
  for (const batch of chunk(pages, TENANT_PAGES_PER_BATCH)) {
    const read = await db.batch(batch as [ReturnType<typeof timedOf>]);
    for (const page of read) rows.push(...page);
  }
  rows.sort(pageOrder(options.order));
  return pageOf(rows.slice(0, options.limit + 1), options.limit);
}
