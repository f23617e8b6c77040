// Admin API, stored responses across tenants (read-only; for the console's operator view):
// GET /admin/responses (every tenant's, or one's with `tenant_id=`, with the filters of
// GET /v1/responses; every tenant's is each shard's page after one cursor, merged), GET /admin/responses/{id} (`stream=true` replays and follows it),
// GET .../input_items, GET .../usage and GET .../webhook_deliveries. Answers carry the owner's `tenant_id`.

import { findAnyResponse, pageAllResponses, pageOrder, type AdminListedRow } from "../../db/admin-responses";
import { AFTER_NOT_FOUND, type Db, type Page, type PageQuery } from "../../db/client";
import { goneAnchor, pageResponses, type Anchor, type ResponseFilters } from "../../db/response-list";
import { readInput, readSnapshot, type ResponseRow } from "../../db/responses";
import { mergePages } from "../../db/shard-merge";
import { onEveryShard, tenantStore } from "../../db/shards";
import { attemptsOf, deliveriesOfResponse } from "../../db/webhooks";
import { responseNotFound } from "../../errors";
import { itemResource } from "../../responses/items";
import { isWellFormedId } from "../../responses/ids";
import type { ResponseStatus } from "../../responses/types";
import { TERMINAL_STATUSES } from "../../responses/types";
import { stringTooLong } from "../../responses/validation";
import { deliveryResource } from "../../webhooks/resources";
import { json, pathParam, type RouteContext } from "../context";
import { listObject, parsePageQuery, unknownCursor } from "../list";
import { parseFilters } from "../list-responses";
import { pageInput } from "../list-input-items";
import { eventsPage } from "../list-response-events";
import { currentSnapshot, type Found } from "../lookup";
import { followSource, parseBooleanQuery, parseStartingAfter } from "../retrieve-response";
import { followResponse } from "../../stream/follow";
import { responseUsage } from "../response-usage";

/** Longest `tenant_id` filter; longer ones cannot match a stored row. */
const MAX_TENANT_ID_CHARS = 256;

function tenantFilter(params: URLSearchParams): string | null {
  const value = params.get("tenant_id");
  if (value === null || value === "") return null;
  if (value.length > MAX_TENANT_ID_CHARS) throw stringTooLong("tenant_id", MAX_TENANT_ID_CHARS, value.length);
  return value;
}

/** The response `id` and the primary of the shard that holds it (each shard asked), or undefined. */
async function onAnyShard(env: Env, id: string): Promise<{ db: Db; row: ResponseRow } | undefined> {
  const found = await onEveryShard(env, async ({ db }) => {
    const row = await findAnyResponse(db, id);
    return row === undefined ? undefined : { db, row };
  });
  return found.find((entry) => entry !== undefined);
}

/** The response of the path's id, whichever tenant owns it, as the tenant routes see it. */
async function findResponseOfAnyTenant({ request, env, config }: RouteContext): Promise<Found> {
  const id = pathParam(request.params.id);
  if (!isWellFormedId(id, "resp")) throw responseNotFound(id.slice(0, 128));
  const found = await onAnyShard(env, id);
  if (found === undefined) throw responseNotFound(id);
  const caller = { tenantId: found.row.tenantId, apiKeyId: null, upstreamKey: null };
  return { caller, db: found.db, row: found.row, env, config };
}

type ListedOn = Page<{ row: AdminListedRow; db: Db }> | typeof AFTER_NOT_FOUND;

/** A page of every tenant's responses: each shard's page after the same cursor, merged. */
async function pageEveryTenant(env: Env, filters: ResponseFilters, query: PageQuery): Promise<ListedOn> {
  let anchor: Anchor | undefined;
  if (query.after !== null) {
    const found = await onAnyShard(env, query.after);
    anchor =
      found === undefined
        ? goneAnchor(query.after)
        : { id: found.row.id, createdAt: found.row.createdAt, legacy: found.row.legacy === 1 };
    if (anchor === undefined) return AFTER_NOT_FOUND;
  }
  const pages = await onEveryShard(env, async ({ db }) => {
    const page = await pageAllResponses(db, filters, query, anchor);
    return { items: page.items.map((row) => ({ id: row.id, row, db })), hasMore: page.hasMore };
  });
  const order = pageOrder(query.order);
  return mergePages(pages, query.order, query.limit, (a, b) => order(a.row, b.row));
}

/** A page of one tenant's responses, from its shard. */
async function pageOneTenant(
  env: Env,
  tenantId: string,
  filters: ResponseFilters,
  query: PageQuery,
): Promise<ListedOn> {
  const db = (await tenantStore(env, tenantId)).reads();
  const page = await pageResponses(db, tenantId, filters, query);
  if (page === AFTER_NOT_FOUND) return page;
  return { ...page, items: page.items.map((row) => ({ row: { ...row, tenantId }, db })) };
}

/** GET /admin/responses?tenant_id=&model=&status=&metadata[k]=v&created_after=&...: newest first. */
export async function listAdminResponses({ request, env }: RouteContext): Promise<Response> {
  const params = new URL(request.url).searchParams;
  const query = parsePageQuery(params);
  const filters = parseFilters(params);
  const tenantId = tenantFilter(params);
  const page =
    tenantId === null ? await pageEveryTenant(env, filters, query) : await pageOneTenant(env, tenantId, filters, query);
  if (page === AFTER_NOT_FOUND) throw unknownCursor(query.after, "response");
  const data = [];
  for (const { row, db } of page.items) {
    const snapshot = await readSnapshot(db, row);
    // A running response's stored snapshot is its first one; the row knows its current status.
    if (!TERMINAL_STATUSES.has(row.status)) snapshot.status = row.status as ResponseStatus;
    data.push({ ...snapshot, tenant_id: row.tenantId });
  }
  return json(listObject(data, page.hasMore));
}

/** GET /admin/responses/{id}: the Response (live while it runs), or with `stream=true` its events. */
export async function retrieveAdminResponse(route: RouteContext): Promise<Response> {
  const url = new URL(route.request.url);
  const stream = parseBooleanQuery("stream", url.searchParams.get("stream"));
  const found = await findResponseOfAnyTenant(route);
  if (!stream) return json({ ...(await currentSnapshot(found)), tenant_id: found.row.tenantId });
  const after = parseStartingAfter(url.searchParams.get("starting_after"));
  return followResponse(followSource(found, route.config.maxRunMs), after);
}

/** GET /admin/responses/{id}/events: its recorded events with their times, as the tenant's route. */
export async function listAdminResponseEvents(route: RouteContext): Promise<Response> {
  return eventsPage(route, await findResponseOfAnyTenant(route));
}

/** GET /admin/responses/{id}/usage: its tokens and cost, as the tenant's route. */
export async function getAdminResponseUsage(route: RouteContext): Promise<Response> {
  return responseUsage(route, await findResponseOfAnyTenant(route));
}

/** GET /admin/responses/{id}/input_items. */
export async function listAdminInputItems(route: RouteContext): Promise<Response> {
  const query = parsePageQuery(new URL(route.request.url).searchParams);
  const { db, row } = await findResponseOfAnyTenant(route);
  const page = pageInput(await readInput(db, row), query);
  if (page === AFTER_NOT_FOUND) throw unknownCursor(query.after, "input item", " in this response");
  const data = page.items.map(({ id, item }) => itemResource(item, id));
  return json(listObject(data, page.hasMore));
}

/** GET /admin/responses/{id}/webhook_deliveries: its deliveries, oldest first, with every attempt. */
export async function listAdminWebhookDeliveries(route: RouteContext): Promise<Response> {
  const { db, row } = await findResponseOfAnyTenant(route);
  const deliveries = await deliveriesOfResponse(db, row.tenantId, row.id);
  const attempts = await attemptsOf(
    db,
    row.tenantId,
    deliveries.map((delivery) => delivery.id),
  );
  const data = deliveries.map((delivery) => deliveryResource(delivery, attempts.get(delivery.id) ?? [], true));
  return json(listObject(data, false));
}
