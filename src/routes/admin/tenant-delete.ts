// Admin API: DELETE /admin/tenants/{tenant_id} erases a tenant, managed or pass-through: its keys are
// revoked, then its whole history is deleted (src/db/tenant-erase.ts; docs/admin.md). A large history
// takes several calls: `deleted: false` says to call again.

import { eraseTenant } from "../../db/tenant-erase";
import { json, pathParam, type RouteContext } from "../context";
import { tenantNotFound } from "./tenants";

export async function deleteTenantRoute({ request, env }: RouteContext): Promise<Response> {
  const tenantId = pathParam(request.params.tenant_id).slice(0, 128);
  const outcome = await eraseTenant(env, tenantId);
  if (!outcome.found) throw tenantNotFound(tenantId);
  return json({ object: "tenant.deleted", id: tenantId, deleted: outcome.done, rows: outcome.rows });
}
