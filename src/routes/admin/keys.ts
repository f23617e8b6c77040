// Admin API, gateway keys: POST /admin/tenants/{tenant_id}/keys (the key is shown once, only its
// hash is stored), GET /admin/tenants/{tenant_id}/keys (no secrets), POST /admin/keys/{key_id}/revoke.

import { findApiKey, insertApiKey, listApiKeys, revokeApiKey, type ApiKeyRow } from "../../db/api-keys";
import { controlDb } from "../../db/shards";
import { ApiError } from "../../errors";
import { readJson } from "../../http/json-body";
import { newId } from "../../responses/ids";
import { hashGatewayKey, newGatewayKey, shownPrefix } from "../../tenancy/gateway-keys";
import { json, pathParam, type RouteContext } from "../context";
import { listObject } from "../list";
import { readName } from "./body";
import { pathTenant } from "./tenants";

export const keyObject = (row: ApiKeyRow) => ({
  object: "api_key",
  id: row.id,
  tenant_id: row.tenantId,
  name: row.name,
  prefix: row.prefix,
  created_at: row.createdAt,
  last_used_at: row.lastUsedAt,
  revoked_at: row.revokedAt,
});

export async function createKey(route: RouteContext): Promise<Response> {
  const tenant = await pathTenant(route);
  const name = readName(await readJson(route.request, route.config.maxBodyBytes));
  const key = newGatewayKey();
  const row: ApiKeyRow = {
    id: newId("key"),
    tenantId: tenant.id,
    name,
    keyHash: await hashGatewayKey(key),
    prefix: shownPrefix(key),
    createdAt: Math.floor(Date.now() / 1000),
    lastUsedAt: null,
    revokedAt: null,
  };
  await insertApiKey(controlDb(route.env), row);
  return json({ ...keyObject(row), key });
}

export async function listKeys(route: RouteContext): Promise<Response> {
  const tenant = await pathTenant(route);
  return json(listObject((await listApiKeys(controlDb(route.env), tenant.id)).map(keyObject), false));
}

export async function revokeKey({ request, env }: RouteContext): Promise<Response> {
  const id = pathParam(request.params.key_id);
  const db = controlDb(env);
  const row = await findApiKey(db, id);
  if (row === undefined) throw new ApiError(404, `No API key with id '${id.slice(0, 128)}'.`, { param: "key_id" });
  return json(keyObject(await revokeApiKey(db, row, Math.floor(Date.now() / 1000))));
}
