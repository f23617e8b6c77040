// The operator's reads of stored responses across tenants (the admin API, read-only): one response by
// id whoever owns it, and the list of every tenant's responses. The only queries on `responses` that
// do not name a tenant; the admin token guards every route that uses them.

import { and, asc, desc, eq, gt, lt, type SQL } from "drizzle-orm";
import { AFTER_NOT_FOUND, pageOf, type AfterNotFound, type Db, type Page, type PageQuery } from "./client";
import { responseFilterConditions, type ListedRow, type ResponseFilters } from "./response-list";
import type { ResponseRow } from "./responses";
import { responses } from "./schema";

export interface AdminListedRow extends ListedRow {
  tenantId: string;
}

/** The response `id`, whichever tenant stored it. */
export async function findAnyResponse(db: Db, id: string): Promise<ResponseRow | undefined> {
  return db.query.responses.findFirst({ where: eq(responses.id, id) });
}

/**
 * A page of every tenant's responses, newest first by default, keyset-paginated on the id: ids carry
 * their creation time, so the primary key is the time order and no index is written for this view
 * (rows from before ids were timed sort among them by their random id). Filters are conditions on
 * the rows read in that order, so a rare filter value can read much of the table.
 */
export async function pageAllResponses(
  db: Db,
  filters: ResponseFilters,
  options: PageQuery,
): Promise<Page<AdminListedRow> | AfterNotFound> {
  let cursor: SQL | undefined;
  if (options.after !== null) {
    const anchor = await db.query.responses.findFirst({
      columns: { id: true },
      where: eq(responses.id, options.after),
    });
    if (anchor === undefined) return AFTER_NOT_FOUND;
    cursor = options.order === "desc" ? lt(responses.id, anchor.id) : gt(responses.id, anchor.id);
  }
  const direction = options.order === "desc" ? desc : asc;
  const rows = await db
    .select({
      id: responses.id,
      tenantId: responses.tenantId,
      status: responses.status,
      createdAt: responses.createdAt,
      snapshot: responses.snapshot,
      output: responses.output,
    })
    .from(responses)
    .where(and(...responseFilterConditions(filters), cursor))
    .orderBy(direction(responses.id))
    .limit(options.limit + 1);
  return pageOf(rows, options.limit);
}
