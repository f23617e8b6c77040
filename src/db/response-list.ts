// The query behind `GET /v1/responses`: a tenant's stored responses, keyset-paginated and filtered.
// The key serves every filter: ids carry their creation time, so the tenant's rows are read in page
// order from the table itself and the filters are residual conditions on them; rows from before ids
// were timed follow from a partial index. Used by the list routes.

import { and, asc, desc, eq, gt, gte, isNull, lt, lte, or, sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import {
  AFTER_NOT_FOUND,
  pageOf,
  type AfterNotFound,
  type Db,
  type ListOrder,
  type Page,
  type PageQuery,
} from "./client";
import { readBlob, type StoredValue } from "./codec";
import { idFloorAt, mintedAtMs } from "../responses/ids";
import { responses } from "./schema";

export interface ResponseFilters {
  model?: string;
  status?: string;
  previousResponseId?: string;
  /** Turns of this conversation. */
  conversationId?: string;
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
  /** 1 for a row stored before ids were timed (listed after the timed ones, newest first). */
  legacy: number | null;
  snapshot: StoredValue | null;
  output: StoredValue | null;
}

/** The tenant's rows that match the filters. */
function filterConditions(tenantId: string, filters: ResponseFilters): (SQL | undefined)[] {
  return [
    eq(responses.tenantId, tenantId),
    // A background response made with store:false is readable by id while its client polls it, not listed.
    eq(responses.store, true),
    filters.model === undefined ? undefined : eq(responses.model, filters.model),
    filters.status === undefined ? undefined : eq(responses.status, filters.status),
    filters.previousResponseId === undefined ? undefined : eq(responses.previousResponseId, filters.previousResponseId),
    filters.conversationId === undefined ? undefined : eq(responses.conversationId, filters.conversationId),
    filters.background === undefined ? undefined : eq(responses.background, filters.background),
    filters.createdAfter === undefined ? undefined : gte(responses.createdAt, filters.createdAfter),
    filters.createdBefore === undefined ? undefined : lt(responses.createdAt, filters.createdBefore),
    ...filters.metadata.map(
      ([key, value]) =>
        sql`EXISTS (SELECT 1 FROM json_each(${responses.metadata}) WHERE json_each.key = ${key} AND json_each.value = ${value})`,
    ),
  ];
}

/** The anchor of a cursor: the row `after` names. */
export interface Anchor {
  id: string;
  createdAt: number;
  legacy: boolean;
}

/**
 * Timed rows after `anchor` in the page order. Their ids carry their creation time (and `created_at`
 * is read from the same clock), so the key (tenant_id, id) is the page order. Rows from before ids were
 * timed are all older: they come after every timed row (desc) or before them (asc).
 */
export function keyset(anchor: Anchor | undefined, order: ListOrder): SQL | undefined {
  if (anchor === undefined) return undefined;
  if (anchor.legacy) return order === "desc" ? sql`0` : undefined;
  return order === "desc" ? lt(responses.id, anchor.id) : gt(responses.id, anchor.id);
}

/** Legacy rows after `anchor` in the page order (keyset on created_at, id), or none when it is past them. */
export function legacyKeyset(anchor: Anchor | undefined, order: ListOrder): SQL | undefined {
  if (anchor === undefined) return undefined;
  if (!anchor.legacy) return order === "desc" ? undefined : sql`0`;
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

/**
 * Seconds a continuation or a turn is allowed to seem older than what it follows: ids are minted
 * from the clock of whichever machine ran the create, and machines' clocks differ by far less.
 */
const CLOCK_SLACK_SECONDS = 60;

/**
 * A response that continues `previous` was created after it, and a turn of a conversation after the
 * conversation, so their timed ids are above its creation time: without this bound a desc page of a
 * response's continuations (the console's chain view, on every response it opens) read the tenant's
 * whole history when there were none. One seek of the key it names, in the same statement.
 */
function newerThanFiltered(tenantId: string, filters: ResponseFilters): (SQL | undefined)[] {
  // No row (a deleted response's continuations still list): 'resp_' is below every id.
  const floor = (table: SQL, id: string) =>
    gte(
      responses.id,
      sql`coalesce((SELECT printf('resp_%012x', max(0, f.created_at - ${CLOCK_SLACK_SECONDS}) * 1000)
                      FROM ${table} f WHERE f.tenant_id = ${tenantId} AND f.id = ${id}), 'resp_')`,
    );
  return [
    filters.previousResponseId === undefined ? undefined : floor(sql`responses`, filters.previousResponseId),
    filters.conversationId === undefined ? undefined : floor(sql`conversations`, filters.conversationId),
  ];
}

/**
 * A created range as a range of timed ids (created_at is the id's time in seconds), read from the key,
 * narrowed to what is newer than the response or conversation a filter names.
 */
export const timedRange = (tenantId: string, filters: ResponseFilters): (SQL | undefined)[] => [
  filters.createdAfter === undefined ? undefined : gte(responses.id, idFloorAt("resp", filters.createdAfter * 1000)),
  filters.createdBefore === undefined ? undefined : lt(responses.id, idFloorAt("resp", filters.createdBefore * 1000)),
  ...newerThanFiltered(tenantId, filters),
];

/** The columns a listed response is read with (the snapshot and output it is answered from). */
const listedColumns = {
  id: responses.id,
  tenantId: responses.tenantId,
  status: responses.status,
  createdAt: responses.createdAt,
  legacy: responses.legacy,
  snapshot: readBlob(responses.snapshot),
  output: readBlob(responses.output),
};

type PageOptions = Pick<PageQuery, "limit" | "order">;

/**
 * The tenant's rows that match `filters` and `conditions`, `limit + 1` of them ordered by `columns` in
 * the page's order: the shape of every page of listed responses (timed, legacy, and the admin list's
 * page of one tenant).
 */
export function tenantPage(
  db: Db,
  tenantId: string,
  filters: ResponseFilters,
  options: PageOptions,
  conditions: (SQL | undefined)[],
  columns: SQLiteColumn[],
) {
  const direction = options.order === "desc" ? desc : asc;
  return db
    .select(listedColumns)
    .from(responses)
    .where(and(...filterConditions(tenantId, filters), ...conditions))
    .orderBy(...columns.map((column) => direction(column)))
    .limit(options.limit + 1);
}

/** A page of timed rows: read in key order. Exported so a test can check SQLite's plan for each filter. */
export const pageQuery = (db: Db, tenantId: string, filters: ResponseFilters, options: PageOptions, cursor?: SQL) =>
  tenantPage(
    db,
    tenantId,
    filters,
    options,
    [...timedRange(tenantId, filters), isNull(responses.legacy), cursor],
    [responses.id],
  );

/** A page of legacy rows, from the partial index that only they are in. */
const legacyPageQuery = (db: Db, tenantId: string, filters: ResponseFilters, options: PageOptions, cursor?: SQL) =>
  tenantPage(db, tenantId, filters, options, [eq(responses.legacy, 1), cursor], [responses.createdAt, responses.id]);

/**
 * The anchor of a cursor whose row is gone (deleted since the page that named it, as a loop that
 * deletes each listed response does): a timed id is its own place in the page order. Undefined for
 * an id this gateway cannot have minted, or one from before ids were timed (its place was its row's).
 */
export function goneAnchor(after: string): Anchor | undefined {
  const ms = mintedAtMs(after, "resp");
  return ms === null ? undefined : { id: after, createdAt: Math.floor(ms / 1000), legacy: false };
}

/** A page of the tenant's responses; `after_not_found` when the cursor is no place in its list. */
export async function pageResponses(
  db: Db,
  tenantId: string,
  filters: ResponseFilters,
  options: PageQuery,
): Promise<Page<ListedRow> | AfterNotFound> {
  let anchor: Anchor | undefined;
  if (options.after !== null) {
    const [row] = await db
      .select({ id: responses.id, createdAt: responses.createdAt, legacy: responses.legacy })
      .from(responses)
      .where(and(eq(responses.tenantId, tenantId), eq(responses.id, options.after)))
      .limit(1);
    anchor = row === undefined ? goneAnchor(options.after) : { ...row, legacy: row.legacy === 1 };
    if (anchor === undefined) return AFTER_NOT_FOUND;
  }
  // Newest first: timed rows, then legacy ones; oldest first: the other way round.
  const timed = () => pageQuery(db, tenantId, filters, options, keyset(anchor, options.order));
  const legacy = (limit: number) =>
    legacyPageQuery(db, tenantId, filters, { ...options, limit }, legacyKeyset(anchor, options.order));
  const first = options.order === "desc" ? await timed() : await legacy(options.limit);
  if (first.length > options.limit) return pageOf(first, options.limit);
  const rest = options.order === "desc" ? await legacy(options.limit - first.length) : await timed();
  return pageOf([...first, ...rest], options.limit);
}
