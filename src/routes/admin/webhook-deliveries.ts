// Admin API, a tenant's webhook deliveries: GET /admin/tenants/{tenant_id}/webhook_deliveries, the
// tenant's own GET /v1/webhook_deliveries (status=pending, delivered or failed; after=, limit=; the
// same objects) for the operator, who has no key of the tenant's: which deliveries are still being
// retried, and which were given up. A default-webhook delivery shows its URL, as the operator's.

import type { RouteContext } from "../context";
import { deliveriesPage, parseDeliveryQuery } from "../webhook-deliveries";
import { pathTenantId } from "./tenants";

export async function listTenantWebhookDeliveries(route: RouteContext): Promise<Response> {
  const query = parseDeliveryQuery(new URL(route.request.url).searchParams);
  return deliveriesPage(route.env, await pathTenantId(route), query, true);
}
