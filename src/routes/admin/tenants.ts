// Admin API, tenants: POST /admin/tenants, GET /admin/tenants, GET /admin/tenants/{tenant_id} (each
// with the tenant's shard and a move under way).

import { AFTER_NOT_FOUND } from "../../db/client";
import { controlDb, tenantRecorded } from "../../db/shards";
import { findPlacedTenant, findTenant, insertTenant, pageTenants, type TenantRow } from "../../db/tenants";
import { ApiError } from "../../errors";
import { readJson } from "../../http/json-body";
import { newId } from "../../responses/ids";
import { json, pathParam, type RouteContext } from "../context";
import { listObject, parseCursor, unknownCursor } from "../list";
import { readName } from "./body";

/**
 * A tenant, with its shard record: `shard` (null before its first write) and `moving_to` (set while
 * an operator moves it; docs/sharding.md).
 */
export const tenantObject = (row: TenantRow & { shard?: string | null; movingTo?: string | null }) => ({
  object: "tenant",
  id: row.id,
  name: row.name,
  created_at: row.createdAt,
  shard: row.shard ?? null,
  moving_to: row.movingTo ?? null,
});

export const tenantNotFound = (id: string) =>
  new ApiError(404, `No tenant with id '${id.slice(0, 128)}'.`, { param: "tenant_id" });

/** The tenant named by the path's `:tenant_id`, or a 404. */
export async function pathTenant(route: RouteContext): Promise<TenantRow> {
  const id = pathParam(route.request.params.tenant_id);
  const row = await findTenant(controlDb(route.env), id);
  if (row === undefined) throw tenantNotFound(id);
  return row;
}

/**
 * The path's `:tenant_id` if it names a tenant: a managed one, or a pass-through one (`t_…`, no
 * tenants row) that has stored anything (a shard record); else a 404.
 */
export async function pathTenantId(route: RouteContext): Promise<string> {
  const id = pathParam(route.request.params.tenant_id);
  if ((await findTenant(controlDb(route.env), id)) !== undefined || (await tenantRecorded(route.env, id))) return id;
  throw tenantNotFound(id);
}

export async function createTenant({ request, env, config }: RouteContext): Promise<Response> {
  const body = await readJson(request, config.maxBodyBytes);
  const row: TenantRow = {
    id: newId("tenant"),
    name: readName(body),
    createdAt: Math.floor(Date.now() / 1000),
  };
  await insertTenant(controlDb(env), row);
  return json(tenantObject(row));
}

export async function getTenant(route: RouteContext): Promise<Response> {
  const id = pathParam(route.request.params.tenant_id);
  const row = await findPlacedTenant(controlDb(route.env), id);
  if (row === undefined) throw tenantNotFound(id);
  return json(tenantObject(row));
}

export async function listTenants({ request, env }: RouteContext): Promise<Response> {
  const cursor = parseCursor(new URL(request.url).searchParams);
  const page = await pageTenants(controlDb(env), cursor);
  if (page === AFTER_NOT_FOUND) throw unknownCursor(cursor.after, "tenant");
  return json(listObject(page.items.map(tenantObject), page.hasMore));
}
