// The whole HTTP surface on one screen. Handlers parse, validate and delegate; every error leaves
// through `errorResponse` in OpenAI's envelope, and every response carries an `x-request-id`.

import { Router, type IRequest } from "itty-router";
import { readConfig } from "./config";
import { isNotMigrated, storageFailureOf, wrappedApiError } from "./db/failures";
import { ApiError, errorResponse, internalError, invalidUrl, storageNotMigrated, storageUnavailable } from "./errors";
import { logFailure } from "./observe/problems";
import { beginRequest, logRequest, noteError } from "./observe/request-log";
import { newId } from "./responses/ids";
import { cancelResponse } from "./routes/cancel-response";
import type { RouteContext } from "./routes/context";
import {
  createConversationItems,
  deleteConversationItem,
  listConversationItems,
  retrieveConversationItem,
} from "./routes/conversation-items";
import {
  createConversation,
  deleteConversation,
  retrieveConversation,
  updateConversation,
} from "./routes/conversations";
import { createResponse } from "./routes/create-response";
import { deleteResponse } from "./routes/delete-response";
import { listInputItems } from "./routes/list-input-items";
import { listResponseEvents } from "./routes/list-response-events";
import { compactResponse, countInputTokens } from "./routes/response-utilities";
import { retrieveResponse } from "./routes/retrieve-response";
import { adminOnly } from "./http/admin-auth";
import { refusalBehindMiss } from "./http/key-acceptance";
import { preflight, readCorsPolicy, withCors } from "./http/cors";
import { policyHeaders, rateLimitPolicy } from "./http/rate-limit";
import {
  getAdminResponseUsage,
  listAdminInputItems,
  listAdminResponseEvents,
  listAdminResponses,
  listAdminWebhookDeliveries,
  retrieveAdminResponse,
} from "./routes/admin/responses";
import { redirectToConsole, serveConsole } from "./routes/console";
import { health } from "./routes/health";
import { listModels } from "./routes/models";
import { createKey, listKeys, revokeKey } from "./routes/admin/keys";
import { listShards } from "./routes/admin/shards";
import { getConfiguration } from "./routes/admin/configuration";
import { deleteTenantRoute } from "./routes/admin/tenant-delete";
import { moveTenantRoute } from "./routes/admin/tenant-move";
import { createTenant, getTenant, listTenants } from "./routes/admin/tenants";
import { getAdminUsage } from "./routes/admin/usage";
import { listAllWebhookDeliveries, listTenantWebhookDeliveries } from "./routes/admin/webhook-deliveries";
import {
  createTenantWebhookEndpoint,
  deleteTenantWebhookEndpoint,
  listTenantWebhookEndpoints,
} from "./routes/admin/webhook-endpoints";
import { listResponses } from "./routes/list-responses";
import { getResponseUsage } from "./routes/response-usage";
import { getUsage } from "./routes/usage";
import {
  listResponseWebhookDeliveries,
  listWebhookDeliveries,
  resendWebhookDelivery,
  retrieveWebhookDelivery,
} from "./routes/webhook-deliveries";
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  listWebhookEndpoints,
  listWebhookEventTypes,
  retrieveWebhookEndpoint,
  rotateWebhookSecret,
  testWebhookEndpoint,
  updateWebhookEndpoint,
} from "./routes/webhook-endpoints";
import { openResponsesSocket, upgradesOnly } from "./ws/upgrade";

type Handler = (route: RouteContext) => Promise<Response>;
type Args = [env: Env, ctx: ExecutionContext, requestId: string];

const route =
  (handler: Handler) =>
  (request: IRequest, env: Env, ctx: ExecutionContext, requestId: string): Promise<Response> =>
    handler({ request, env, ctx, requestId, config: readConfig(env) });

const router = Router<IRequest, Args>()
  .post("/v1/responses", route(createResponse))
  // Before /v1/responses/:id, which would take these names for ids.
  .post("/v1/responses/input_tokens", route(countInputTokens))
  .post("/v1/responses/compact", route(compactResponse))
  .get("/v1/responses/:id", route(retrieveResponse))
  .delete("/v1/responses/:id", route(deleteResponse))
  .post("/v1/responses/:id/cancel", route(cancelResponse))
  .get("/v1/responses/:id/input_items", route(listInputItems))
  .get("/v1/responses/:id/events", route(listResponseEvents))
  .get("/v1/responses/:id/usage", route(getResponseUsage))
  // WebSocket mode (issue 13): an upgrade on the create path, before the list route would answer it.
  .get("/v1/responses", upgradesOnly(route(openResponsesSocket(handle))), route(listResponses))
  .get("/v1/usage", route(getUsage))
  .post("/v1/conversations", route(createConversation))
  .get("/v1/conversations/:id", route(retrieveConversation))
  .post("/v1/conversations/:id", route(updateConversation))
  .delete("/v1/conversations/:id", route(deleteConversation))
  .get("/v1/conversations/:id/items", route(listConversationItems))
  .post("/v1/conversations/:id/items", route(createConversationItems))
  .get("/v1/conversations/:id/items/:itemId", route(retrieveConversationItem))
  .delete("/v1/conversations/:id/items/:itemId", route(deleteConversationItem))
  // Webhooks (issue 3): the SDK's endpoint API, then the gateway's delivery records.
  .post("/v1/webhook_endpoints", route(createWebhookEndpoint))
  .get("/v1/webhook_endpoints", route(listWebhookEndpoints))
  .get("/v1/webhook_endpoints/:id", route(retrieveWebhookEndpoint))
  .post("/v1/webhook_endpoints/:id", route(updateWebhookEndpoint))
  .delete("/v1/webhook_endpoints/:id", route(deleteWebhookEndpoint))
  .post("/v1/webhook_endpoints/:id/rotate_secret", route(rotateWebhookSecret))
  .post("/v1/webhook_endpoints/:id/test", route(testWebhookEndpoint))
  .get("/v1/webhook_event_types", route(listWebhookEventTypes))
  .get("/v1/responses/:id/webhook_deliveries", route(listResponseWebhookDeliveries))
  .get("/v1/webhook_deliveries", route(listWebhookDeliveries))
  .get("/v1/webhook_deliveries/:id", route(retrieveWebhookDelivery))
  .post("/v1/webhook_deliveries/:id/resend", route(resendWebhookDelivery))
  // The admin API (404 unless the secret ADMIN_TOKEN is set).
  .post("/admin/tenants", route(adminOnly(createTenant)))
  .get("/admin/tenants", route(adminOnly(listTenants)))
  .get("/admin/tenants/:tenant_id", route(adminOnly(getTenant)))
  .delete("/admin/tenants/:tenant_id", route(adminOnly(deleteTenantRoute)))
  .post("/admin/tenants/:tenant_id/move", route(adminOnly(moveTenantRoute)))
  .post("/admin/tenants/:tenant_id/keys", route(adminOnly(createKey)))
  .get("/admin/tenants/:tenant_id/keys", route(adminOnly(listKeys)))
  .post("/admin/keys/:key_id/revoke", route(adminOnly(revokeKey)))
  .post("/admin/tenants/:tenant_id/webhook_endpoints", route(adminOnly(createTenantWebhookEndpoint)))
  .get("/admin/tenants/:tenant_id/webhook_endpoints", route(adminOnly(listTenantWebhookEndpoints)))
  .delete("/admin/tenants/:tenant_id/webhook_endpoints/:endpoint_id", route(adminOnly(deleteTenantWebhookEndpoint)))
  .get("/admin/tenants/:tenant_id/webhook_deliveries", route(adminOnly(listTenantWebhookDeliveries)))
  .get("/admin/webhook_deliveries", route(adminOnly(listAllWebhookDeliveries)))
  .get("/admin/shards", route(adminOnly(listShards)))
  .get("/admin/configuration", route(adminOnly(getConfiguration)))
  .get("/admin/usage", route(adminOnly(getAdminUsage)))
  // The operator's read-only view of every tenant's history (issue 15; the console's admin sign-in).
  .get("/admin/responses", route(adminOnly(listAdminResponses)))
  .get("/admin/responses/:id", route(adminOnly(retrieveAdminResponse)))
  .get("/admin/responses/:id/input_items", route(adminOnly(listAdminInputItems)))
  .get("/admin/responses/:id/events", route(adminOnly(listAdminResponseEvents)))
  .get("/admin/responses/:id/usage", route(adminOnly(getAdminResponseUsage)))
  .get("/admin/responses/:id/webhook_deliveries", route(adminOnly(listAdminWebhookDeliveries)))
  // Models, health and the history console (issue 15).
  .get("/v1/models", route(listModels))
  .get("/health", route(health))
  // Uptime monitors and load balancers often probe with HEAD: the same status and headers, no body.
  .head(
    "/health",
    route(async (context) => withoutBody(await health(context))),
  )
  .get("/console/*", route(serveConsole))
  .get("/console", route(redirectToConsole))
  .get("/", route(redirectToConsole))
  // HEAD as GET for the console too (`curl -I`, link checkers): ASSETS answers HEAD without a body.
  .head("/console/*", route(serveConsole))
  .head("/", route(redirectToConsole));

/**
 * A HEAD answer: a GET's status and headers without its body, and the `content-length` the GET's
 * body has (the runtime sets it only for a body it sends).
 */
async function withoutBody(response: Response): Promise<Response> {
  const headers = new Headers(response.headers);
  headers.set("content-length", String((await response.arrayBuffer()).byteLength));
  return new Response(null, { status: response.status, headers });
}

/** Adds the request id to a response, copying it when its headers are immutable. */
function withRequestId(response: Response, requestId: string): Response {
  try {
    response.headers.set("x-request-id", requestId);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    copy.headers.set("x-request-id", requestId);
    return copy;
  }
}

/**
 * Every answer: the router's, with CORS (when `CORS_ORIGINS` allows the caller) and the rate-limit
 * policy on /v1; then its request line.
 */
export async function handle(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const requestId = newId("req").slice(0, 36);
  beginRequest(request, requestId);
  const cors = readCorsPolicy(env);
  const answer = preflight(request, cors, requestId) ?? (await dispatch(request, env, ctx, requestId));
  const limits = new URL(request.url).pathname.startsWith("/v1/")
    ? rateLimitPolicy(env, readConfig(env).rateLimitPeriodSeconds)
    : null;
  if (limits !== null) setHeaders(answer, policyHeaders(limits));
  const final = withCors(request, cors, answer);
  logRequest(request, final, ctx);
  return final;
}

/** Sets headers the route did not set itself (a 429 names its own). */
function setHeaders(response: Response, headers: Record<string, string>): void {
  try {
    for (const [name, value] of Object.entries(headers))
      if (!response.headers.has(name)) response.headers.set(name, value);
  } catch {
    // Immutable headers (a fetched body passed through): the answer goes out without them.
  }
}

async function dispatch(request: Request, env: Env, ctx: ExecutionContext, requestId: string): Promise<Response> {
  try {
    const response = (await router.fetch(request, env, ctx, requestId)) as Response | undefined;
    if (response === undefined) throw invalidUrl(request);
    return withRequestId(response, requestId);
  } catch (thrown) {
    const error =
      thrown instanceof ApiError
        ? thrown
        : (wrappedApiError(thrown) ??
          (isNotMigrated(thrown)
            ? storageNotMigrated()
            : storageFailureOf(thrown) !== undefined
              ? storageUnavailable()
              : internalError()));
    if (error !== thrown) logFailure("the request failed", thrown, { request_id: requestId });
    // A wrong pass-through key is told so, not that its (empty) history lacks the id.
    const refusal = await Promise.resolve()
      .then(() => refusalBehindMiss(request, readConfig(env), error))
      .catch(() => null);
    const answer = refusal ?? error;
    noteError(request, answer);
    return errorResponse(answer, requestId);
  }
}
