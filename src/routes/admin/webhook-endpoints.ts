// Admin API, a tenant's webhook endpoints: POST (the signing secret is shown once), GET and DELETE
// under /admin/tenants/{tenant_id}/webhook_endpoints. Delivery itself reads the same table.

import { readConfig } from "../../config";
import { openDb } from "../../db/client";
import {
  deleteWebhookEndpoint,
  insertWebhookEndpoint,
  listWebhookEndpoints,
  type WebhookEndpointRow,
} from "../../db/tenant-webhook-endpoints";
import { ApiError, invalidRequest } from "../../errors";
import { readJson } from "../../http/json-body";
import { newId } from "../../responses/ids";
import { checkEnum, invalidType, missing } from "../../responses/validation";
import { checkWebhookUrl } from "../../webhooks/target";
import { json, pathParam, type RouteContext } from "../context";
import { objectBody } from "./body";
import { pathTenant } from "./tenants";

/** The webhook event types of the Responses API (sent for background responses). */
export const WEBHOOK_EVENT_TYPES = [
  "response.completed",
  "response.failed",
  "response.cancelled",
  "response.incomplete",
];
/** A `whsec_` secret: base64 of at least 24 bytes (Standard Webhooks). */
const SECRET_PATTERN = /^whsec_[A-Za-z0-9+/]{32,}={0,2}$/;

const endpointObject = (row: WebhookEndpointRow) => ({
  object: "webhook_endpoint",
  id: row.id,
  tenant_id: row.tenantId,
  url: row.url,
  event_types: JSON.parse(row.eventTypes) as string[],
  created_at: row.createdAt,
});

/** The gateway's one rule for webhook targets (src/webhooks/target.ts): https to a public host. */
function readUrl(value: unknown, env: Env): string {
  if (value === undefined || value === null) throw missing("url");
  return checkWebhookUrl(value, readConfig(env).webhooks.allowLoopback);
}

function readEventTypes(value: unknown): string[] {
  if (value === undefined || value === null) return WEBHOOK_EVENT_TYPES;
  if (!Array.isArray(value) || value.length === 0) throw invalidType("event_types", "a non-empty array", value);
  value.forEach((type: unknown, index) => {
    if (typeof type !== "string") throw invalidType(`event_types[${index}]`, "a string", type);
    checkEnum(`event_types[${index}]`, type, WEBHOOK_EVENT_TYPES);
  });
  return [...new Set(value as string[])];
}

function readSecret(value: unknown): string {
  if (value === undefined || value === null) {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    return `whsec_${btoa(String.fromCharCode(...bytes))}`;
  }
  if (typeof value !== "string") throw invalidType("secret", "a string", value);
  if (!SECRET_PATTERN.test(value))
    throw invalidRequest(
      "Invalid 'secret': expected 'whsec_' followed by base64 of at least 24 bytes.",
      "secret",
      "invalid_value",
    );
  return value;
}

export async function createWebhookEndpoint(route: RouteContext): Promise<Response> {
  const tenant = await pathTenant(route);
  const body = objectBody(await readJson(route.request, route.config.maxBodyBytes));
  const now = Math.floor(Date.now() / 1000);
  const row: WebhookEndpointRow = {
    id: newId("we"),
    tenantId: tenant.id,
    url: readUrl(body.url, route.env),
    secret: readSecret(body.secret),
    eventTypes: JSON.stringify(readEventTypes(body.event_types)),
    createdAt: now,
    // The SDK's WebhookEndpoint (GET /v1/webhook_endpoints) carries these.
    name: typeof body.name === "string" ? body.name.slice(0, 256) : "",
    updatedAt: now,
  };
  await insertWebhookEndpoint(openDb(route.env.DB), row);
  return json({ ...endpointObject(row), secret: row.secret });
}

export async function listTenantWebhookEndpoints(route: RouteContext): Promise<Response> {
  const tenant = await pathTenant(route);
  const data = (await listWebhookEndpoints(openDb(route.env.DB), tenant.id)).map(endpointObject);
  return json({
    object: "list",
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: false,
  });
}

export async function deleteTenantWebhookEndpoint(route: RouteContext): Promise<Response> {
  const tenant = await pathTenant(route);
  const id = pathParam(route.request.params.endpoint_id);
  if (!(await deleteWebhookEndpoint(openDb(route.env.DB), tenant.id, id)))
    throw new ApiError(404, `No webhook endpoint with id '${id.slice(0, 128)}'.`, { param: "endpoint_id" });
  return json({ id, object: "webhook_endpoint.deleted", deleted: true });
}
