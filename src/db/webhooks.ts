// The only D1 queries on webhooks: a tenant's endpoints (for the SDK-shaped `/v1/webhook_endpoints`
// routes, the admin API and delivery planning), and the record of every delivery and attempt, which
// the ResponseRun DO writes and the delivery routes read. Every query is scoped by tenant.

import { and, asc, desc, eq, inArray, lt, or, sql } from "drizzle-orm";
import {
  AFTER_NOT_FOUND,
  chunk,
  pageOf,
  rowsPerStatement,
  type AfterNotFound,
  type Db,
  type Page,
  type Statement,
} from "./client";
import { webhookAttempts, webhookDeliveries, webhookEndpoints } from "./schema";

export type EndpointRow = typeof webhookEndpoints.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type AttemptRow = typeof webhookAttempts.$inferSelect;

/** A delivery's states, as the schema declares them (the DO's outbox uses the same). */
export const DELIVERY_STATUSES = webhookDeliveries.status.enumValues;
export type DeliveryStatus = DeliveryRow["status"];

// ---- endpoints ----

/**
 * Inserts the endpoint unless its tenant already has `max`, in one statement (so concurrent creates
 * cannot each see room and all insert); whether it was inserted.
 */
export async function insertEndpointWithin(db: Db, row: EndpointRow, max: number): Promise<boolean> {
  // Columns in the table's order: id, tenant_id, url, secret, event_types, created_at, name, updated_at.
  const result = await db.insert(webhookEndpoints).select(sql`
    SELECT ${row.id}, ${row.tenantId}, ${row.url}, ${row.secret}, ${row.eventTypes}, ${row.createdAt}, ${row.name}, ${row.updatedAt}
     WHERE (SELECT COUNT(*) FROM ${webhookEndpoints} WHERE tenant_id = ${row.tenantId}) < ${max}`);
  return result.meta.changes === 1;
}

export async function findEndpoint(db: Db, tenantId: string, id: string): Promise<EndpointRow | undefined> {
  return db.query.webhookEndpoints.findFirst({
    where: and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.tenantId, tenantId)),
  });
}

/** A tenant's endpoints in the order they were created (`rowid` breaks ties within a second). */
export async function listEndpoints(db: Db, tenantId: string): Promise<EndpointRow[]> {
  return db
    .select()
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.tenantId, tenantId))
    .orderBy(asc(webhookEndpoints.createdAt), asc(sql`rowid`));
}

/**
 * Changes an endpoint. A new URL is also recorded on its pending deliveries, in the same batch: their
 * next attempt goes there (the dispatcher reads the endpoint's URL at every attempt).
 */
export async function updateEndpoint(
  db: Db,
  tenantId: string,
  id: string,
  changes: Partial<Pick<EndpointRow, "url" | "name" | "eventTypes" | "secret" | "updatedAt">>,
): Promise<EndpointRow | undefined> {
  const update = db
    .update(webhookEndpoints)
    .set(changes)
    .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.tenantId, tenantId)))
    .returning();
  if (changes.url === undefined) return (await update)[0];
  const [rows] = await db.batch([
    update,
    db
      .update(webhookDeliveries)
      .set({ url: changes.url })
      .where(
        and(
          eq(webhookDeliveries.tenantId, tenantId),
          eq(webhookDeliveries.status, "pending"),
          eq(webhookDeliveries.endpointId, id),
        ),
      ),
  ]);
  return rows[0];
}

export async function deleteEndpoint(db: Db, tenantId: string, id: string): Promise<boolean> {
  const rows = await db
    .delete(webhookEndpoints)
    .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.tenantId, tenantId)))
    .returning({ id: webhookEndpoints.id });
  return rows.length > 0;
}

/** The current URL and secret of each of a tenant's endpoints in `ids` (a deleted one is absent). */
export async function endpointTargets(
  db: Db,
  tenantId: string,
  ids: string[],
): Promise<Map<string, { url: string; secret: string }>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({ id: webhookEndpoints.id, url: webhookEndpoints.url, secret: webhookEndpoints.secret })
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.tenantId, tenantId), inArray(webhookEndpoints.id, ids)));
  return new Map(rows.map((row) => [row.id, { url: row.url, secret: row.secret }]));
}

// ---- deliveries and attempts ----

/** Writes deliveries and attempts as they are now; idempotent, so a failed batch is simply sent again. */
export function deliveryStatements(db: Db, deliveries: DeliveryRow[], attempts: AttemptRow[]): Statement[] {
  const upserts = chunk(deliveries, rowsPerStatement(15)).map((group) =>
    db
      .insert(webhookDeliveries)
      .values(group)
      .onConflictDoUpdate({
        target: webhookDeliveries.id,
        set: {
          // The endpoint's URL at the latest attempt (or resend): it may have changed since the first.
          url: sql`excluded.url`,
          status: sql`excluded.status`,
          attempts: sql`excluded.attempts`,
          nextAttemptAt: sql`excluded.next_attempt_at`,
          lastAttemptAt: sql`excluded.last_attempt_at`,
          lastStatusCode: sql`excluded.last_status_code`,
          lastError: sql`excluded.last_error`,
        },
      }),
  );
  // An attempt is written as it starts, then again with its outcome.
  const inserts = chunk(attempts, rowsPerStatement(7)).map((group) =>
    db
      .insert(webhookAttempts)
      .values(group)
      .onConflictDoUpdate({
        target: [webhookAttempts.deliveryId, webhookAttempts.attempt],
        set: {
          startedAt: sql`excluded.started_at`,
          durationMs: sql`excluded.duration_ms`,
          statusCode: sql`excluded.status_code`,
          error: sql`excluded.error`,
        },
      }),
  );
  return [...upserts, ...inserts];
}

export async function findDelivery(db: Db, tenantId: string, id: string): Promise<DeliveryRow | undefined> {
  return db.query.webhookDeliveries.findFirst({
    where: and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.tenantId, tenantId)),
  });
}

export async function attemptsOf(db: Db, tenantId: string, deliveryIds: string[]): Promise<Map<string, AttemptRow[]>> {
  const byDelivery = new Map<string, AttemptRow[]>();
  for (const ids of chunk(deliveryIds, 90)) {
    const rows = await db
      .select()
      .from(webhookAttempts)
      .where(and(eq(webhookAttempts.tenantId, tenantId), inArray(webhookAttempts.deliveryId, ids)))
      .orderBy(asc(webhookAttempts.deliveryId), asc(webhookAttempts.attempt));
    for (const row of rows) byDelivery.set(row.deliveryId, [...(byDelivery.get(row.deliveryId) ?? []), row]);
  }
  return byDelivery;
}

/** The deliveries of one response, oldest first. */
export async function deliveriesOfResponse(db: Db, tenantId: string, responseId: string): Promise<DeliveryRow[]> {
  return db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.tenantId, tenantId), eq(webhookDeliveries.responseId, responseId)))
    .orderBy(asc(webhookDeliveries.createdAt), asc(webhookDeliveries.id));
}

/** A page of a tenant's deliveries, newest first, optionally of one status, after the delivery `after`. */
export async function pageDeliveries(
  db: Db,
  tenantId: string,
  options: { status: DeliveryRow["status"] | null; after: string | null; limit: number },
): Promise<Page<DeliveryRow> | AfterNotFound> {
  const scope = and(
    eq(webhookDeliveries.tenantId, tenantId),
    options.status === null ? undefined : eq(webhookDeliveries.status, options.status),
  );
  let cursor = undefined;
  if (options.after !== null) {
    const anchor = await findDelivery(db, tenantId, options.after);
    if (anchor === undefined) return AFTER_NOT_FOUND;
    cursor = or(
      lt(webhookDeliveries.createdAt, anchor.createdAt),
      and(eq(webhookDeliveries.createdAt, anchor.createdAt), lt(webhookDeliveries.id, anchor.id)),
    );
  }
  const rows = await db
    .select()
    .from(webhookDeliveries)
    .where(and(scope, cursor))
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(options.limit + 1);
  return pageOf(rows, options.limit);
}

/** A delivery by its id alone, whichever tenant's: the anchor of a page across tenants. */
export async function findAnyDelivery(db: Db, id: string): Promise<DeliveryRow | undefined> {
  return db.query.webhookDeliveries.findFirst({ where: eq(webhookDeliveries.id, id) });
}

/** The tenants with deliveries on a shard, one seek each on an index that leads with tenant_id (a skip-scan). */
const DELIVERY_TENANTS = sql`WITH RECURSIVE t(tenant) AS (
    SELECT min(tenant_id) FROM webhook_deliveries
    UNION ALL
    SELECT (SELECT min(tenant_id) FROM webhook_deliveries WHERE tenant_id > t.tenant) FROM t WHERE t.tenant IS NOT NULL
  )
  SELECT tenant FROM t WHERE tenant IS NOT NULL`;

/** Tenants' pages read in one D1 batch. */
const TENANT_PAGES_PER_BATCH = 50;

/** Newest first, as every page of deliveries is ordered: created_at, then id. */
export const newestDeliveryFirst = (a: DeliveryRow, b: DeliveryRow): number =>
  b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/**
 * A page of every tenant's deliveries of one status on this shard, newest first, after `anchor`:
 * each tenant's page read from the index its own list uses (tenant_id, status, created_at), then
 * merged, so at most `limit + 1` rows read per tenant with deliveries. No index of its own: one
 * would be written with every delivery for a list only operators read.
 */
export async function pageDeliveriesByStatus(
  db: Db,
  status: DeliveryStatus,
  limit: number,
  anchor: { createdAt: number; id: string } | undefined,
): Promise<Page<DeliveryRow>> {
  const cursor =
    anchor === undefined
      ? undefined
      : or(
          lt(webhookDeliveries.createdAt, anchor.createdAt),
          and(eq(webhookDeliveries.createdAt, anchor.createdAt), lt(webhookDeliveries.id, anchor.id)),
        );
  const pageOfTenant = (tenantId: string) =>
    db
      .select()
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.tenantId, tenantId), eq(webhookDeliveries.status, status), cursor))
      .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
      .limit(limit + 1);
  const tenants = await db.all<{ tenant: string }>(DELIVERY_TENANTS);
  const rows: DeliveryRow[] = [];
  for (const group of chunk(tenants, TENANT_PAGES_PER_BATCH)) {
    const pages = group.map(({ tenant }) => pageOfTenant(tenant));
    for (const page of await db.batch(pages as [ReturnType<typeof pageOfTenant>])) rows.push(...page);
  }
  rows.sort(newestDeliveryFirst);
  return pageOf(rows.slice(0, limit + 1), limit);
}
