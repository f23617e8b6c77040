// Admin API, a tenant's webhook endpoints: POST (the signing secret is shown once), GET and DELETE
// under /admin/tenants/{tenant_id}/webhook_endpoints. The same endpoints, queries and objects as
// `/v1/webhook_endpoints` (with `tenant_id`), so the tenant sees them with `client.webhooks.*`.

import { tenantDb } from "../../db/shards";
import { deleteEndpoint, listEndpoints, type EndpointRow } from "../../db/webhooks";
import { ApiError } from "../../errors";
import { readJson } from "../../http/json-body";
import type { JsonObject } from "../../responses/types";
import { validateTenantEndpointCreate } from "../../webhooks/endpoint-request";
import { endpointResource, endpointWithSecret } from "../../webhooks/resources";
import { json, pathParam, type RouteContext } from "../context";
import { listObject } from "../list";
import { addEndpoint } from "../webhook-endpoints";
import { pathTenant } from "./tenants";

/** An endpoint as the SDK types it, and whose it is. */
const tenantEndpoint = (object: JsonObject, row: EndpointRow): JsonObject => ({ ...object, tenant_id: row.tenantId });

export async function createTenantWebhookEndpoint(route: RouteContext): Promise<Response> {
  const tenant = await pathTenant(route);
  const body = await readJson(route.request, route.config.maxBodyBytes);
  const input = validateTenantEndpointCreate(body, route.config.webhooks.allowLoopback);
  const row = await addEndpoint(await tenantDb(route.env, tenant.id), tenant.id, input);
  return json(tenantEndpoint(endpointWithSecret(row), row));
}

export async function listTenantWebhookEndpoints(route: RouteContext): Promise<Response> {
  const tenant = await pathTenant(route);
  const rows = await listEndpoints(await tenantDb(route.env, tenant.id), tenant.id);
  return json(
    listObject(
      rows.map((row) => tenantEndpoint(endpointResource(row), row)),
      false,
    ),
  );
}

export async function deleteTenantWebhookEndpoint(route: RouteContext): Promise<Response> {
  const tenant = await pathTenant(route);
  const id = pathParam(route.request.params.endpoint_id);
  if (!(await deleteEndpoint(await tenantDb(route.env, tenant.id), tenant.id, id)))
    throw new ApiError(404, `No webhook endpoint with id '${id.slice(0, 128)}'.`, { param: "endpoint_id" });
  return json({ id, object: "webhook_endpoint.deleted", deleted: true });
}
