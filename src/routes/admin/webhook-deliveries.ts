// Admin API, a tenant's webhook deliveries: GET /admin/tenants/{tenant_id}/webhook_deliveries, the
// tenant's own GET /v1/webhook_deliveries (status=pending, delivered or failed; after=, limit=; the
// same objects) for the operator, who has no key of the tenant's: which deliveries are still being
// retried, and which were given up. A default-webhook delivery shows its URL, as the operator's.
// GET /admin/webhook_deliveries?status=pending: every tenant's deliveries of one status, on every
// shard, newest first, each with its `tenant_id` (the incident view: what is still being retried).

import type { Page } from "../../db/client";
import { mergePages } from "../../db/shard-merge";
import { onEveryShard } from "../../db/shards";
import { findAnyDelivery, newestDeliveryFirst, pageDeliveriesByStatus, type DeliveryRow } from "../../db/webhooks";
import { invalidRequest } from "../../errors";
import { deliveryResource } from "../../webhooks/resources";
import { json, type RouteContext } from "../context";
import { listObject, unknownCursor } from "../list";
import { deliveriesPage, parseDeliveryQuery } from "../webhook-deliveries";
import { pathTenantId } from "./tenants";

export async function listTenantWebhookDeliveries(route: RouteContext): Promise<Response> {
  const query = parseDeliveryQuery(new URL(route.request.url).searchParams);
  return deliveriesPage(route.env, await pathTenantId(route), query, true);
}

/**
 * GET /admin/webhook_deliveries?status=pending|delivered|failed&after=&limit=: each shard's page
 * after the same delivery, merged. `status` is required: every page is read from an index by it.
 */
export async function listAllWebhookDeliveries({ request, env }: RouteContext): Promise<Response> {
  const query = parseDeliveryQuery(new URL(request.url).searchParams);
  const status = query.status;
  if (status === null)
    throw invalidRequest(
      "Missing required parameter: 'status' (pending, delivered or failed): deliveries across tenants are listed one status at a time.",
      "status",
      "missing_required_parameter",
    );
  let anchor: DeliveryRow | undefined;
  if (query.after !== null) {
    const after = query.after;
    anchor = (await onEveryShard(env, ({ db }) => findAnyDelivery(db, after))).find((row) => row !== undefined);
    if (anchor === undefined) throw unknownCursor(after, "webhook delivery");
  }
  const pages: Page<DeliveryRow>[] = await onEveryShard(env, ({ db }) =>
    pageDeliveriesByStatus(db, status, query.limit, anchor),
  );
  const page = mergePages(pages, "desc", query.limit, newestDeliveryFirst);
  const data = page.items.map((row) => ({
    ...deliveryResource(row, undefined, true),
    id: row.id,
    tenant_id: row.tenantId,
  }));
  return json(listObject(data, page.hasMore));
}
