// The D1 schema (Drizzle): the queryable history. `npm run db:generate` writes migrations/ from it.
// Every table that holds tenant data carries `tenant_id`, and every query filters on it.

import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** One row per stored response. `snapshot` is the Response object (split into `blobs` when large). */
export const responses = sqliteTable(
  "responses",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    status: text("status").notNull(),
    model: text("model").notNull(),
    background: integer("background", { mode: "boolean" }).notNull(),
    store: integer("store", { mode: "boolean" }).notNull(),
    createdAt: integer("created_at").notNull(),
    completedAt: integer("completed_at"),
    updatedAt: integer("updated_at").notNull(),
    previousResponseId: text("previous_response_id"),
    conversationId: text("conversation_id"),
    /** The `metadata` object as JSON, for `metadata[key]=value` filters (json_extract). */
    metadata: text("metadata").notNull().default("{}"),
    /** The request body as the client sent it (JSON), without credentials. */
    request: text("request").notNull(),
    /** The Response object (JSON), or null when it is stored split in `blobs`. */
    snapshot: text("snapshot"),
    inputTokens: integer("input_tokens"),
    outputTokens: integer("output_tokens"),
    /** Events recorded in `response_events` (the next sequence number to flush). */
    eventCount: integer("event_count").notNull().default(0),
    apiKeyId: text("api_key_id"),
  },
  (table) => [
    // Each `GET /v1/responses` filter on one column is a seek in its (tenant, column, created_at, id)
    // index, already in page order: no scan of the tenant's history, no sort.
    index("responses_tenant_created").on(table.tenantId, table.createdAt, table.id),
    index("responses_tenant_status").on(table.tenantId, table.status, table.createdAt, table.id),
    index("responses_tenant_model").on(table.tenantId, table.model, table.createdAt, table.id),
    index("responses_tenant_previous").on(table.tenantId, table.previousResponseId, table.createdAt, table.id),
    index("responses_tenant_background").on(table.tenantId, table.background, table.createdAt, table.id),
    index("responses_created").on(table.createdAt),
  ],
);

/**
 * Input and output items of a response, in order: `position` counts input items from 0, then
 * output items. `data` is the item as sent upstream; a large item continues over `part` 1, 2...
 */
export const responseItems = sqliteTable(
  "response_items",
  {
    responseId: text("response_id").notNull(),
    tenantId: text("tenant_id").notNull(),
    position: integer("position").notNull(),
    part: integer("part").notNull().default(0),
    kind: text("kind", { enum: ["input", "output"] }).notNull(),
    itemId: text("item_id").notNull(),
    data: text("data").notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.responseId, table.position, table.part] }),
    index("response_items_item").on(table.responseId, table.itemId),
  ],
);

/**
 * The event log, packed: each row holds the SSE frames of events `first_seq..last_seq`, joined.
 * A frame too large for one row continues over `part` 1, 2... of the same `first_seq`.
 */
export const responseEvents = sqliteTable(
  "response_events",
  {
    responseId: text("response_id").notNull(),
    firstSeq: integer("first_seq").notNull(),
    part: integer("part").notNull().default(0),
    lastSeq: integer("last_seq").notNull(),
    frames: text("frames").notNull(),
  },
  (table) => [primaryKey({ columns: [table.responseId, table.firstSeq, table.part] })],
);

/** Large values split over rows (a row holds at most 2 MB): the snapshot of a huge response. */
export const blobs = sqliteTable(
  "blobs",
  {
    ownerId: text("owner_id").notNull(),
    name: text("name").notNull(),
    part: integer("part").notNull(),
    data: text("data").notNull(),
  },
  (table) => [primaryKey({ columns: [table.ownerId, table.name, table.part] })],
);

/** Tenants (managed keys mode). In passthrough mode a tenant is the hash of the client's key. */
export const tenants = sqliteTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: integer("created_at").notNull(),
});

/** Gateway keys: only a SHA-256 of the key is stored; `prefix` is shown to tell keys apart. */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    name: text("name").notNull(),
    keyHash: text("key_hash").notNull().unique(),
    prefix: text("prefix").notNull(),
    createdAt: integer("created_at").notNull(),
    lastUsedAt: integer("last_used_at"),
    revokedAt: integer("revoked_at"),
  },
  (table) => [index("api_keys_tenant").on(table.tenantId, table.createdAt)],
);

/** A tenant's webhook endpoints; `eventTypes` is a JSON array of the event types it wants. */
export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    url: text("url").notNull(),
    secret: text("secret").notNull(),
    eventTypes: text("event_types").notNull(),
    createdAt: integer("created_at").notNull(),
    /** The endpoint's human-readable name (the SDK's `WebhookEndpoint.name`). */
    name: text("name").notNull().default(""),
    /** Last change of the configuration or the secret. */
    updatedAt: integer("updated_at"),
  },
  (table) => [index("webhook_endpoints_tenant").on(table.tenantId)],
);

/** One event to one endpoint. `id` is the `webhook-id`, the same on every retry. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    responseId: text("response_id").notNull(),
    endpointId: text("endpoint_id"),
    url: text("url").notNull(),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    /** The exact signed body. */
    payload: text("payload").notNull(),
    status: text("status", { enum: ["pending", "delivered", "failed"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at"),
    createdAt: integer("created_at").notNull(),
    lastAttemptAt: integer("last_attempt_at"),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
  },
  (table) => [
    index("webhook_deliveries_response").on(table.tenantId, table.responseId),
    index("webhook_deliveries_status").on(table.tenantId, table.status, table.createdAt),
    index("webhook_deliveries_due").on(table.status, table.nextAttemptAt),
  ],
);

/** Every attempt of a delivery, with what the receiver answered. */
export const webhookAttempts = sqliteTable(
  "webhook_attempts",
  {
    deliveryId: text("delivery_id").notNull(),
    attempt: integer("attempt").notNull(),
    tenantId: text("tenant_id").notNull(),
    startedAt: integer("started_at").notNull(),
    durationMs: integer("duration_ms").notNull(),
    statusCode: integer("status_code"),
    error: text("error"),
  },
  (table) => [primaryKey({ columns: [table.deliveryId, table.attempt] })],
);

export const conversations = sqliteTable(
  "conversations",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    createdAt: integer("created_at").notNull(),
    metadata: text("metadata").notNull().default("{}"),
    /** Next item position: appends take positions from here, so items keep their order. */
    nextPosition: integer("next_position").notNull().default(0),
    /** The response running a turn on this conversation; another one is refused until it ends. */
    activeResponseId: text("active_response_id"),
    /** When that claim lapses even if never released (unix seconds; past any run's deadline). */
    activeUntil: integer("active_until"),
  },
  (table) => [index("conversations_tenant").on(table.tenantId, table.createdAt)],
);

/** Items of a conversation in order; a large item continues over `part` 1, 2... */
export const conversationItems = sqliteTable(
  "conversation_items",
  {
    conversationId: text("conversation_id").notNull(),
    tenantId: text("tenant_id").notNull(),
    position: integer("position").notNull(),
    part: integer("part").notNull().default(0),
    itemId: text("item_id").notNull(),
    data: text("data").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.conversationId, table.position, table.part] }),
    index("conversation_items_item").on(table.conversationId, table.itemId),
  ],
);

/** `Idempotency-Key` of a create: the same key and body return the same response until expiry. */
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    tenantId: text("tenant_id").notNull(),
    key: text("key").notNull(),
    requestHash: text("request_hash").notNull(),
    responseId: text("response_id").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.tenantId, table.key] }),
    index("idempotency_keys_expires").on(table.expiresAt),
  ],
);

/** Token usage and response counts per tenant, key, model and UTC day; kept beyond retention. */
export const usageDaily = sqliteTable(
  "usage_daily",
  {
    tenantId: text("tenant_id").notNull(),
    apiKeyId: text("api_key_id").notNull().default(""),
    model: text("model").notNull(),
    day: text("day").notNull(),
    responses: integer("responses").notNull().default(0),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
  },
  (table) => [primaryKey({ columns: [table.tenantId, table.apiKeyId, table.model, table.day] })],
);
