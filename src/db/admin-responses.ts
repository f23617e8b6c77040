// The operator's reads of stored responses across tenants (the admin API, read-only), on one shard:
// one response by id whoever owns it, and the list of every tenant's responses (the route merges the
// shards'). The only queries on `responses` that do not name a tenant; the admin token guards every
// route that uses them.

import { and, asc, desc, eq, gt, lt } from "drizzle-orm";
import { pageOf, type Db, type Page, type PageQuery } from "./client";
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
 * A page of every tenant's responses on this shard, newest first by default, keyset-paginated on the
 * id: ids carry their creation time, so the primary key is the time order and no index is written for
 * this view (rows from before ids were timed sort among them by their random id), and one cursor
 * serves every shard. `after` need not be a row of this shard (the caller checks that it exists on
 * one). Filters are conditions on the rows read in that order, so a rare filter value can read much
 * of the table.
 */
export async function pageAllResponses(
  db: Db,
  filters: ResponseFilters,
  options: PageQuery,
): Promise<Page<AdminListedRow>> {
  const after = options.after;
  const cursor =
    after === null ? undefined : options.order === "desc" ? lt(responses.id, after) : gt(responses.id, after);
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
