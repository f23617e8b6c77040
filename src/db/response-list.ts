// The query behind `GET /v1/responses`: a tenant's stored responses, keyset-paginated on
// (created_at, id) and filtered. One index serves every filter: the tenant's rows are read in page
// order from `responses_tenant_created` and the filters are residual conditions on them.
// Used by the list route.

import { and, asc, desc, eq, gte, lt, lte, or, sql, type SQL } from "drizzle-orm";
import {
  AFTER_NOT_FOUND,
  pageOf,
  type AfterNotFound,
  type Db,
  type ListOrder,
  type Page,
  type PageQuery,
} from "./client";
import type { StoredValue } from "./codec";
import { responses } from "./schema";

export interface ResponseFilters {
  model?: string;
  status?: string;
  previousResponseId?: string;
  background?: boolean;
  /** Unix seconds, inclusive. */
  createdAfter?: number;
  /** Unix seconds, exclusive. */
  createdBefore?: number;
  /** `metadata[key]=value` pairs; all must match. */
  metadata: [string, string][];
}

export interface ListedRow {
  id: string;
  tenantId: string;
  status: string;
  createdAt: number;
  snapshot: StoredValue | null;
  output: StoredValue | null;
}

function filterConditions(tenantId: string, filters: ResponseFilters): (SQL | undefined)[] {
  return [eq(responses.tenantId, tenantId), ...responseFilterConditions(filters)];
}

/** The filters' conditions alone, without the tenant: for the admin list across tenants (admin-responses.ts). */
export function responseFilterConditions(filters: ResponseFilters): (SQL | undefined)[] {
  return [
    filters.model === undefined ? undefined : eq(responses.model, filters.model),
    filters.status === undefined ? undefined : eq(responses.status, filters.status),
    filters.previousResponseId === undefined ? undefined : eq(responses.previousResponseId, filters.previousResponseId),
    filters.background === undefined ? undefined : eq(responses.background, filters.background),
    filters.createdAfter === undefined ? undefined : gte(responses.createdAt, filters.createdAfter),
    filters.createdBefore === undefined ? undefined : lt(responses.createdAt, filters.createdBefore),
    ...filters.metadata.map(
      ([key, value]) =>
        sql`EXISTS (SELECT 1 FROM json_each(${responses.metadata}) WHERE json_each.key = ${key} AND json_each.value = ${value})`,
    ),
  ];
}

/**
 * Rows after the response `after` in the page order: written as `created_at <= c AND (created_at < c
 * OR id < i)` (desc) so SQLite uses it as a range on the created_at column of the index.
 */
export function keyset(anchor: { createdAt: number; id: string }, order: ListOrder): SQL | undefined {
  if (order === "desc")
    return and(
      lte(responses.createdAt, anchor.createdAt),
      or(lt(responses.createdAt, anchor.createdAt), lt(responses.id, anchor.id)),
    );
  return and(
    gte(responses.createdAt, anchor.createdAt),
    or(sql`${responses.createdAt} > ${anchor.createdAt}`, sql`${responses.id} > ${anchor.id}`),
  );
}

/** The page query: exported so a test can check SQLite's plan for each filter. */
export function pageQuery(
  db: Db,
  tenantId: string,
  filters: ResponseFilters,
  options: Pick<PageQuery, "limit" | "order">,
  cursor?: SQL,
) {
  const direction = options.order === "desc" ? desc : asc;
  return db
    .select({
      id: responses.id,
      tenantId: responses.tenantId,
      status: responses.status,
      createdAt: responses.createdAt,
      snapshot: responses.snapshot,
      output: responses.output,
    })
    .from(responses)
    .where(and(...filterConditions(tenantId, filters), cursor))
    .orderBy(direction(responses.createdAt), direction(responses.id))
    .limit(options.limit + 1);
}

/** A page of the tenant's responses; `after_not_found` when the cursor is not one of its responses. */
export async function pageResponses(
  db: Db,
  tenantId: string,
  filters: ResponseFilters,
  options: PageQuery,
): Promise<Page<ListedRow> | AfterNotFound> {
  let cursor: SQL | undefined;
  if (options.after !== null) {
    const [anchor] = await db
      .select({ id: responses.id, createdAt: responses.createdAt })
      .from(responses)
      .where(and(eq(responses.id, options.after), eq(responses.tenantId, tenantId)))
      .limit(1);
    if (anchor === undefined) return AFTER_NOT_FOUND;
    cursor = keyset(anchor, options.order);
  }
  return pageOf(await pageQuery(db, tenantId, filters, options, cursor), options.limit);
}
