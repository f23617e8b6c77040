// Admin API: POST /admin/tenants/{tenant_id}/move {"shard": "DB_3", "drain_seconds": 35} moves one
// tenant's history to another shard (src/db/tenant-move.ts; docs/sharding.md says when and how).

import { REMEMBER_MS } from "../../db/shards";
import { moveTenant } from "../../db/tenant-move";
import { invalidRequest } from "../../errors";
import { readJson } from "../../http/json-body";
import { logTenantMoved } from "../../observe/problems";
import { invalidType, isPlainObject, missing } from "../../responses/validation";
import { json, pathParam, type RouteContext } from "../context";
import { tenantNotFound } from "./tenants";

/** The default wait after marking a tenant: every isolate has read the mark by then. */
const DEFAULT_DRAIN_SECONDS = REMEMBER_MS / 1000 + 5;
const MAX_DRAIN_SECONDS = 300;

export async function moveTenantRoute({ request, env, config }: RouteContext): Promise<Response> {
  const tenantId = pathParam(request.params.tenant_id);
  const body = await readJson(request, config.maxBodyBytes);
  if (!isPlainObject(body)) throw invalidRequest("The request body must be a JSON object.");
  const { shard, drain_seconds: drain = DEFAULT_DRAIN_SECONDS } = body;
  if (shard === undefined || shard === null) throw missing("shard");
  if (typeof shard !== "string") throw invalidType("shard", "a string", shard);
  if (typeof drain !== "number" || !Number.isInteger(drain) || drain < 0 || drain > MAX_DRAIN_SECONDS)
    throw invalidRequest(
      `Invalid 'drain_seconds': expected an integer from 0 to ${MAX_DRAIN_SECONDS}.`,
      "drain_seconds",
      "invalid_value",
    );
  const moved = await moveTenant(env, tenantId.slice(0, 128), shard, drain);
  if (moved === null) throw tenantNotFound(tenantId);
  logTenantMoved(tenantId, moved.from, moved.to, moved.rows, moved.done);
  // `done: false`: a big tenant's move ran out of this call's budget; the same move sent again goes on.
  return json({
    object: "tenant.move",
    tenant_id: tenantId,
    from: moved.from,
    to: moved.to,
    done: moved.done,
    rows: moved.rows,
  });
}
