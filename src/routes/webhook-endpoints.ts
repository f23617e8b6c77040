// The caller's webhook endpoints, in the openai SDK's shape: `client.webhooks.create`, `retrieve`,
// `update`, `list`, `delete`, `rotateSecret`, `test` and `client.webhooks.eventTypes.list`. Each handler
// parses, validates and delegates; every query is scoped by the caller's tenant. `addEndpoint` is
// shared with the admin API, which sets endpoints for a tenant.

import type { Db } from "../db/client";
import { tenantDb } from "../db/shards";
import {
  deleteEndpoint,
  findEndpoint,
  insertEndpointWithin,
  listEndpoints,
  updateEndpoint,
  type EndpointRow,
} from "../db/webhooks";
import { ApiError, historyMiss, invalidRequest } from "../errors";
import { authenticate, type Caller } from "../http/auth";
import { readJson, readJsonObject } from "../http/json-body";
import { requireAcceptedKey } from "../http/key-acceptance";
import { isWellFormedId, newId } from "../responses/ids";
import { invalidType, isPlainObject, missing, optional } from "../responses/validation";
import { sendWebhook } from "../webhooks/deliver";
import {
  eventType,
  validateEndpointCreate,
  validateEndpointUpdate,
  type EndpointChanges,
} from "../webhooks/endpoint-request";
import { WEBHOOK_EVENT_TYPES, webhookEvent } from "../webhooks/event";
import { endpointResource, endpointWithSecret } from "../webhooks/resources";
import { newWebhookSecret } from "../webhooks/sign";
import { json, pathParam, type RouteContext } from "./context";
import { listObject, parseCursor, unknownCursor } from "./list";

/** Endpoints per tenant: every terminal event fans out to each, so this bounds one alarm's work. */
export const MAX_ENDPOINTS_PER_TENANT = 16;
/** A URL, a name and a few event types fit easily. */
const MAX_BODY_BYTES = 64 * 1024;

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

const endpointNotFound = (id: string): ApiError =>
  historyMiss(new ApiError(404, `No webhook endpoint found with id '${id.slice(0, 128)}'.`));

/** The caller's endpoint named by the path (each route authenticates first: no key is a 401 whatever the body). */
async function findOwnEndpoint(route: RouteContext, caller: Caller): Promise<{ db: Db; row: EndpointRow }> {
  const id = pathParam(route.request.params.id);
  // `whe_`, and `we_`: what the admin API minted before it shared `addEndpoint`.
  if (!isWellFormedId(id, "whe") && !isWellFormedId(id, "we")) throw endpointNotFound(id);
  const db = await tenantDb(route.env, caller.tenantId);
  const row = await findEndpoint(db, caller.tenantId, id);
  if (row === undefined) throw endpointNotFound(id);
  return { db, row };
}

/**
 * Adds an endpoint to a tenant, with a new `whe_` id and a new signing secret unless one is given;
 * a tenant at MAX_ENDPOINTS_PER_TENANT is refused. Also used by the admin API.
 */
export async function addEndpoint(
  db: Db,
  tenantId: string,
  input: Required<EndpointChanges> & { secret?: string | undefined },
): Promise<EndpointRow> {
  const now = nowSeconds();
  const row: EndpointRow = {
    id: newId("whe"),
    tenantId,
    url: input.url,
    secret: input.secret ?? newWebhookSecret(),
    eventTypes: JSON.stringify(input.eventTypes),
    createdAt: now,
    name: input.name,
    updatedAt: now,
  };
  if (!(await insertEndpointWithin(db, row, MAX_ENDPOINTS_PER_TENANT)))
    throw invalidRequest(
      `You can have at most ${MAX_ENDPOINTS_PER_TENANT} webhook endpoints; delete one first.`,
      null,
      "limit_exceeded",
    );
  return row;
}

/** POST /v1/webhook_endpoints: `{url, name, event_types}`; the signing secret is returned this once. */
export async function createWebhookEndpoint(route: RouteContext): Promise<Response> {
  const caller = await authenticate(route.request, route.env, route.ctx);
  const input = validateEndpointCreate(
    await readJson(route.request, MAX_BODY_BYTES),
    route.config.webhooks.allowLoopback,
  );
  await requireAcceptedKey(caller, route.config);
  return json(
    endpointWithSecret(await addEndpoint(await tenantDb(route.env, caller.tenantId), caller.tenantId, input)),
  );
}

/** GET /v1/webhook_endpoints: newest first, `after` and `limit` as the SDK's cursor pages send them. */
export async function listWebhookEndpoints(route: RouteContext): Promise<Response> {
  const { after, limit } = parseCursor(new URL(route.request.url).searchParams);
  const caller = await authenticate(route.request, route.env, route.ctx);
  // At most MAX_ENDPOINTS_PER_TENANT rows: paged in memory.
  const rows = (await listEndpoints(await tenantDb(route.env, caller.tenantId), caller.tenantId)).reverse();
  let start = 0;
  if (after !== null) {
    start = rows.findIndex((row) => row.id === after) + 1;
    if (start === 0) throw unknownCursor(after, "webhook endpoint");
  }
  const page = rows.slice(start, start + limit);
  return json(listObject(page.map(endpointResource), start + limit < rows.length));
}

/** GET /v1/webhook_endpoints/{id} */
export async function retrieveWebhookEndpoint(route: RouteContext): Promise<Response> {
  const caller = await authenticate(route.request, route.env, route.ctx);
  return json(endpointResource((await findOwnEndpoint(route, caller)).row));
}

/** POST /v1/webhook_endpoints/{id}: any of `url`, `name`, `event_types`; an empty body changes nothing. */
export async function updateWebhookEndpoint(route: RouteContext): Promise<Response> {
  const caller = await authenticate(route.request, route.env, route.ctx);
  const body = await readJson(route.request, MAX_BODY_BYTES);
  const changes = validateEndpointUpdate(body, route.config.webhooks.allowLoopback);
  const { db, row } = await findOwnEndpoint(route, caller);
  const next = {
    url: changes.url ?? row.url,
    name: changes.name ?? row.name,
    eventTypes: changes.eventTypes === undefined ? row.eventTypes : JSON.stringify(changes.eventTypes),
  };
  if (next.url === row.url && next.name === row.name && next.eventTypes === row.eventTypes)
    return json(endpointResource(row));
  await requireAcceptedKey(caller, route.config);
  const updated = await updateEndpoint(db, caller.tenantId, row.id, { ...next, updatedAt: nowSeconds() });
  if (updated === undefined) throw endpointNotFound(row.id);
  return json(endpointResource(updated));
}

/** DELETE /v1/webhook_endpoints/{id}: its pending deliveries are given up at their next attempt. */
export async function deleteWebhookEndpoint(route: RouteContext): Promise<Response> {
  const caller = await authenticate(route.request, route.env, route.ctx);
  const { db, row } = await findOwnEndpoint(route, caller);
  await requireAcceptedKey(caller, route.config);
  if (!(await deleteEndpoint(db, caller.tenantId, row.id))) throw endpointNotFound(row.id);
  return json({ id: row.id, object: "webhook_endpoint.deleted", deleted: true });
}

/** POST /v1/webhook_endpoints/{id}/rotate_secret: a new secret, returned this once; the old one stops at once. */
export async function rotateWebhookSecret(route: RouteContext): Promise<Response> {
  const caller = await authenticate(route.request, route.env, route.ctx);
  // Every field is optional, so no body (curl -X POST) is `{}`, as the SDK sends.
  const body = await readJsonObject(route.request, MAX_BODY_BYTES);
  const keepOld = optional<boolean>(body, "keep_old_secret_active_for_24_hours", "boolean");
  if (keepOld === true)
    throw invalidRequest(
      "Keeping the old secret active is not supported by this gateway: the new secret replaces it at once.",
      "keep_old_secret_active_for_24_hours",
      "unsupported_value",
    );
  const { db, row } = await findOwnEndpoint(route, caller);
  await requireAcceptedKey(caller, route.config);
  const updated = await updateEndpoint(db, caller.tenantId, row.id, {
    secret: newWebhookSecret(),
    updatedAt: nowSeconds(),
  });
  if (updated === undefined) throw endpointNotFound(row.id);
  return json(endpointWithSecret(updated));
}

/** GET /v1/webhook_event_types: the events this gateway sends. */
export async function listWebhookEventTypes(route: RouteContext): Promise<Response> {
  await authenticate(route.request, route.env, route.ctx);
  return json({ object: "list", data: [...WEBHOOK_EVENT_TYPES] });
}

/**
 * POST /v1/webhook_endpoints/{id}/test: `{event_type}`; sends a sample event, signed with the endpoint's
 * secret, to its URL now and answers the receiver's status code (any code: `success` says only that
 * an answer came). The sample names no real response and is not a delivery: nothing is recorded or retried.
 */
export async function testWebhookEndpoint(route: RouteContext): Promise<Response> {
  const caller = await authenticate(route.request, route.env, route.ctx);
  const body = await readJson(route.request, MAX_BODY_BYTES);
  if (!isPlainObject(body)) throw invalidType("body", "an object", body);
  if (body.event_type === undefined) throw missing("event_type");
  const type = eventType(body.event_type, "event_type");
  const { row } = await findOwnEndpoint(route, caller);
  // Makes the gateway send a signed request: a key the upstream has since revoked may not.
  await requireAcceptedKey(caller, route.config);
  const event = webhookEvent(type, newId("resp"), nowSeconds());
  const outcome = await sendWebhook({ id: newId("wh"), url: row.url, payload: event.payload }, row.secret, {
    allowLoopback: route.config.webhooks.allowLoopback,
  });
  // No answer (refused target, connection failure, timeout) is the receiver's problem, not a server
  // error: a 400 the SDK does not retry, saying what happened.
  if (outcome.statusCode === null)
    throw invalidRequest(`The test event got no answer: ${outcome.error}`, null, "webhook_test_failed");
  return json({
    object: "webhook_endpoint.test",
    webhook_endpoint_id: row.id,
    event_type: type,
    status_code: outcome.statusCode,
    success: true,
  });
}
