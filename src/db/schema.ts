// The D1 schema (Drizzle): the queryable history. `npm run db:generate` writes migrations/ from it.
// Every table that holds tenant data carries `tenant_id`, and every query filters on it.

import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { bytes } from "./codec";

/**
 * One row per stored response, keyed by (tenant_id, id), WITHOUT ROWID and with no index of its own:
 * ids carry their creation time, so the key is the list's order and an insert writes one row. The
 * request's input items, the Response snapshot, its output and the events not in a batch row are
 * compressed BLOBs in the row itself: a running response's flushes rewrite that tail with its
 * heartbeat, so a response whose events stay under the size limit keeps one row (its start, each
 * flush and its end rewrite it). A long response's earlier events go to rows of
 * `response_event_batches`. A value too large for a row continues in `blobs`. Rows written before
 * this layout (`legacy`) keep their items in `response_items` and their events in `response_events`.
 */
export const responses = sqliteTable(
  "responses",
  {
    id: text("id").notNull(),
    tenantId: text("tenant_id").notNull(),
    status: text("status").notNull(),
    model: text("model").notNull(),
    background: integer("background", { mode: "boolean" }).notNull(),
    store: integer("store", { mode: "boolean" }).notNull(),
    createdAt: integer("created_at").notNull(),
    completedAt: integer("completed_at"),
    /** Last write of the run (unix seconds): its heartbeat while it runs; the sweep ends a silent one. */
    updatedAt: integer("updated_at").notNull(),
    previousResponseId: text("previous_response_id"),
    conversationId: text("conversation_id"),
    /** The `metadata` object as JSON, for `metadata[key]=value` filters (json_extract). */
    metadata: text("metadata").notNull().default("{}"),
    /** The input items `[[id, item], ...]`, compressed; null when split into `blobs` (or legacy). */
    input: bytes("input"),
    /**
     * The Response object without its `output`, compressed (legacy rows: the whole object as JSON
     * text); null when split into `blobs`.
     */
    snapshot: bytes("snapshot"),
    /** The Response's `output` items, compressed, once it ended (a chain reads these, not the snapshot). */
    output: bytes("output"),
    inputTokens: integer("input_tokens"),
    outputTokens: integer("output_tokens"),
    /** Events recorded so far (the next sequence number). */
    eventCount: integer("event_count").notNull().default(0),
    /** Events from `tail_seq` on (those not in a batch row), packed and compressed; rewritten by each flush. */
    eventsTail: bytes("events_tail"),
    tailSeq: integer("tail_seq"),
    apiKeyId: text("api_key_id"),
    /** 1 for rows written before this layout (items and events in the legacy tables). */
    legacy: integer("legacy"),
    /**
     * 1: the response is counted in `usage_daily` by the hourly roll-up (src/db/usage.ts), not by its
     * terminal write; null for rows written before the roll-up, which their terminal write counts.
     */
    usageDeferred: integer("usage_deferred"),
    /**
     * The ids of an ended response's output items, each followed by a space and the list led by one
     * (` msg_1 rs_2 `), for resolving an `item_reference` (src/db/item-lookup.ts); null while it runs.
     */
    outputItemIds: text("output_item_ids"),
    /**
     * A stored foreground run whose client left (written with the flush that has every event its
     * client saw): the unix second from which it has no client, 1 when it left, later while a reader
     * its client came back as holds it (src/stream/follow.ts `holdForClient`). Once past, a create
     * continuing from it may end it (src/stream/dead-run.ts `endLeftRun`). Null otherwise.
     */
    clientLeft: integer("client_left"),
  },
  (table) => [
    // The key is the list's order: ids carry their creation time, so a tenant's rows are in time order
    // in the table itself, every filter is a residual condition on them, and no index is written.
    primaryKey({ columns: [table.tenantId, table.id] }),
    // Rows from before ids were timed (random ids) are listed by their time from this partial index.
    index("responses_legacy_created")
      .on(table.tenantId, table.createdAt, table.id)
      .where(sql`legacy = 1`),
    // Background runs made with store:false (the only unstored rows) are deleted soon after they end,
    // found by this partial index: stored rows are not in it, so it costs them no write.
    index("responses_unstored_updated")
      .on(table.updatedAt)
      .where(sql`store = 0`),
  ],
);

/**
 * Earlier batches of a long response's events (the rest ride in the response row): each
 * holds events `first_seq..last_seq`, packed and compressed; a batch too large for a row continues
 * over `part` 1, 2... (WITHOUT ROWID.)
 */
export const responseEventBatches = sqliteTable(
  "response_event_batches",
  {
    responseId: text("response_id").notNull(),
    tenantId: text("tenant_id").notNull(),
    firstSeq: integer("first_seq").notNull(),
    part: integer("part").notNull().default(0),
    lastSeq: integer("last_seq").notNull(),
    data: bytes("data").notNull(),
  },
  (table) => [primaryKey({ columns: [table.responseId, table.firstSeq, table.part] })],
);

/**
 * Legacy: input and output items of a response written before the compressed layout, in order.
 * `data` is the item as sent upstream; a large item continues over `part` 1, 2...
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
 * Legacy: the event log of responses written before the compressed layout; each row holds the SSE
 * frames of events `first_seq..last_seq`, joined; a large frame continues over `part` 1, 2...
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

/** Large values split over rows (a row holds at most 2 MB): compressed parts (legacy: text parts). */
export const blobs = sqliteTable(
  "blobs",
  {
    ownerId: text("owner_id").notNull(),
    /** The owner's tenant: every statement on a response's rows names it. */
    tenantId: text("tenant_id").notNull().default(""),
    name: text("name").notNull(),
    part: integer("part").notNull(),
    data: bytes("data").notNull(),
  },
  (table) => [primaryKey({ columns: [table.ownerId, table.name, table.part] })],
);

/** Tenants (managed keys mode). In passthrough mode a tenant is the hash of the client's key. */
export const tenants = sqliteTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: integer("created_at").notNull(),
});

/**
 * Which D1 database holds each tenant's history (src/db/shards.ts). Only the first database's copy
 * is used: written once, before the tenant's first write, so adding a shard moves no tenant; changed
 * only by an operator's move (src/db/tenant-move.ts) (WITHOUT ROWID).
 */
export const tenantShards = sqliteTable("tenant_shards", {
  tenantId: text("tenant_id").primaryKey(),
  /** The binding name of the tenant's database, as listed in `D1_SHARDS`. */
  shard: text("shard").notNull(),
  createdAt: integer("created_at").notNull(),
  /** While an operator moves the tenant: where to. Its new writes wait until the move ends. */
  movingTo: text("moving_to"),
  /** While a move runs: how far it got (JSON, src/db/tenant-move.ts), so a move sent again goes on from there. */
  moveProgress: text("move_progress"),
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
    // The operator's list across tenants (GET /admin/webhook_deliveries), newest first by status.
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
    /**
     * The ids of its items, each followed by a space and the list led by one (` msg_1 fc_2 `), for
     * resolving an `item_reference` (src/db/conversation-item-lookup.ts): written by the update every
     * append makes to this row anyway, so it costs no row. Ids past `ITEM_IDS_MAX_CHARS` are not listed.
     */
    itemIds: text("item_ids").notNull().default(" "),
    /**
     * Where its most recently deleted items stood, a JSON array of `[item id, position]`, oldest first
     * (null: none deleted): a list whose `after` names an item deleted since its page pages on from
     * there. Written by the update a delete makes to this row; restarted past
     * `DELETED_ITEMS_MAX_CHARS` (src/db/conversations.ts).
     */
    deletedItems: text("deleted_items"),
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
  // WITHOUT ROWID and no index on item_id: an item is one written row; lookups by id scan one conversation.
  (table) => [primaryKey({ columns: [table.conversationId, table.position, table.part] })],
);

/** `Idempotency-Key` of a create: the same key and body return the same response until expiry (WITHOUT ROWID). */
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    tenantId: text("tenant_id").notNull(),
    key: text("key").notNull(),
    requestHash: text("request_hash").notNull(),
    responseId: text("response_id").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    /** The response it made was deleted: a retry with the key is told so instead of making it again. */
    deletedAt: integer("deleted_at"),
  },
  (table) => [
    primaryKey({ columns: [table.tenantId, table.key] }),
    index("idempotency_keys_expires").on(table.expiresAt),
  ],
);

/** Token usage and response counts per tenant, key, model and UTC day; kept beyond retention (WITHOUT ROWID). */
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
  // Keyed by tenant, then day: a read of a range of days seeks it (every tenant's in turn, for the admin).
  (table) => [primaryKey({ columns: [table.tenantId, table.day, table.apiKeyId, table.model] })],
);

/**
 * How far each tenant's responses are rolled up into `usage_daily`: every ended response with
 * `usage_deferred` and an id below `counted_before` is counted there; the rest are read live.
 */
export const usageRollups = sqliteTable("usage_rollups", {
  tenantId: text("tenant_id").primaryKey(),
  countedBefore: text("counted_before").notNull(),
});
