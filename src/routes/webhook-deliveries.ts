// Webhook deliveries, as D1 records them (the ResponseRun DO writes them after every attempt):
// a response's deliveries with their attempts, a tenant's deliveries by status, one delivery, and
// re-sending one by hand. Every query is scoped by the caller's tenant.

import { AFTER_NOT_FOUND } from "../db/client";
import { tenantStore } from "../db/shards";
import {
  attemptsOf,
  DELIVERY_STATUSES,
  deliveriesOfResponse,
  findDelivery,
  findEndpoint,
  pageDeliveries,
  type DeliveryStatus,
} from "../db/webhooks";
import { ApiError, historyMiss, invalidRequest } from "../errors";
import { authenticate } from "../http/auth";
import { requireAcceptedKey } from "../http/key-acceptance";
import { isWellFormedId } from "../responses/ids";
import { checkEnum } from "../responses/validation";
import { deliveryResource } from "../webhooks/resources";
import { json, pathParam, type RouteContext } from "./context";
import { listObject, parseCursor, unknownCursor } from "./list";
import { findOwnResponse, runOf } from "./lookup";

const deliveryNotFound = (id: string): ApiError =>
  historyMiss(new ApiError(404, `No webhook delivery found with id '${id.slice(0, 128)}'.`));

async function findOwnDelivery(route: RouteContext) {
  const caller = await authenticate(route.request, route.env, route.ctx);
  const id = pathParam(route.request.params.id);
  if (!isWellFormedId(id, "wh")) throw deliveryNotFound(id);
  const db = (await tenantStore(route.env, caller.tenantId)).reads();
  const row = await findDelivery(db, caller.tenantId, id);
  if (row === undefined) throw deliveryNotFound(id);
  return { caller, db, row };
}

/** GET /v1/responses/{id}/webhook_deliveries: every delivery of the response, oldest first, with attempts. */
export async function listResponseWebhookDeliveries(route: RouteContext): Promise<Response> {
  const { caller, db, row } = await findOwnResponse(route);
  const deliveries = await deliveriesOfResponse(db, caller.tenantId, row.id);
  const attempts = await attemptsOf(
    db,
    caller.tenantId,
    deliveries.map((delivery) => delivery.id),
  );
  return json(
    listObject(
      deliveries.map((delivery) => deliveryResource(delivery, attempts.get(delivery.id) ?? [])),
      false,
    ),
  );
}

export interface DeliveryQuery {
  status: DeliveryStatus | null;
  after: string | null;
  limit: number;
}

/** `status=` (pending, delivered or failed), `after=` and `limit=` of a list of deliveries. */
export function parseDeliveryQuery(params: URLSearchParams): DeliveryQuery {
  const { after, limit } = parseCursor(params);
  const status = params.get("status") || null;
  checkEnum("status", status ?? undefined, DELIVERY_STATUSES);
  return { status: status as DeliveryStatus | null, after, limit };
}

/**
 * A page of the tenant's deliveries, newest first, without attempts: the tenant's own list, and the
 * operator's (`asOperator`: a default-webhook delivery shows its URL) under
 * GET /admin/tenants/{id}/webhook_deliveries.
 */
export async function deliveriesPage(
  env: Env,
  tenantId: string,
  query: DeliveryQuery,
  asOperator = false,
): Promise<Response> {
  const page = await pageDeliveries((await tenantStore(env, tenantId)).reads(), tenantId, query);
  if (page === AFTER_NOT_FOUND) throw unknownCursor(query.after, "webhook delivery");
  return json(
    listObject(
      page.items.map((delivery) => deliveryResource(delivery, undefined, asOperator)),
      page.hasMore,
    ),
  );
}

/** GET /v1/webhook_deliveries?status=failed&after=&limit=: the tenant's deliveries, newest first. */
export async function listWebhookDeliveries(route: RouteContext): Promise<Response> {
  const query = parseDeliveryQuery(new URL(route.request.url).searchParams);
  const caller = await authenticate(route.request, route.env, route.ctx);
  return deliveriesPage(route.env, caller.tenantId, query);
}

/** GET /v1/webhook_deliveries/{id}: one delivery with its attempts. */
export async function retrieveWebhookDelivery(route: RouteContext): Promise<Response> {
  const { caller, db, row } = await findOwnDelivery(route);
  const attempts = await attemptsOf(db, caller.tenantId, [row.id]);
  return json(deliveryResource(row, attempts.get(row.id) ?? []));
}

/**
 * POST /v1/webhook_deliveries/{id}/resend: sends a failed (or delivered) delivery again, same
 * webhook-id and body, to its endpoint as it is now, with a fresh retry window. Its response's DO
 * makes the attempts, as for every delivery.
 */
export async function resendWebhookDelivery(route: RouteContext): Promise<Response> {
  const { caller, db, row } = await findOwnDelivery(route);
  if (row.status === "pending")
    throw invalidRequest(
      "This delivery is still being attempted; it can be re-sent once it has failed or been delivered.",
      null,
      "delivery_pending",
    );
  let url: string;
  if (row.endpointId === null) {
    const { defaultUrl, defaultSecret } = route.config.webhooks;
    if (defaultUrl === null || defaultSecret === null)
      throw invalidRequest(
        "This delivery went to the deployment's default webhook (WEBHOOK_URL), which is no longer configured.",
        null,
        "endpoint_not_found",
      );
    url = defaultUrl;
  } else {
    const endpoint = await findEndpoint(db, caller.tenantId, row.endpointId);
    if (endpoint === undefined)
      throw invalidRequest(
        `The webhook endpoint of this delivery ('${row.endpointId}') was deleted; the delivery cannot be re-sent.`,
        null,
        "endpoint_not_found",
      );
    url = endpoint.url;
  }
  await requireAcceptedKey(caller, route.config);
  const updated = await runOf(route.env, { tenantId: row.tenantId, id: row.responseId }).resendWebhook({ ...row, url });
  return json(deliveryResource(updated));
}
