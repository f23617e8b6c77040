// D1 queries on a tenant's webhook endpoints (`webhook_endpoints`), for the admin API. Webhook
// delivery reads the same table; every query names the tenant.

import { and, asc, eq } from "drizzle-orm";
import type { Db } from "./client";
import { webhookEndpoints } from "./schema";

export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;

export async function insertWebhookEndpoint(db: Db, row: WebhookEndpointRow): Promise<void> {
  await db.insert(webhookEndpoints).values(row);
}

export async function listWebhookEndpoints(db: Db, tenantId: string): Promise<WebhookEndpointRow[]> {
  return db
    .select()
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.tenantId, tenantId))
    .orderBy(asc(webhookEndpoints.createdAt), asc(webhookEndpoints.id));
}

/** Deletes one endpoint of the tenant; false when the tenant has no such endpoint. */
export async function deleteWebhookEndpoint(db: Db, tenantId: string, id: string): Promise<boolean> {
  const deleted = await db
    .delete(webhookEndpoints)
    .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.tenantId, tenantId)))
    .returning({ id: webhookEndpoints.id });
  return deleted.length > 0;
}
