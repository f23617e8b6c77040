// The durable retry state of a response's webhook deliveries, in its ResponseRun DO's SQLite: what
// to send where, how often it was tried, when to try next, and which changes D1 has not seen yet.
// Written synchronously (durable before any output leaves the object), so an eviction, a restart or
// a redeploy loses no delivery. Tables are created by the DO's migrations (src/run/event-log.ts).

import type { DeliveryStatus } from "../db/webhooks";

/** One event to one endpoint; times in milliseconds. `id` is the `webhook-id`, the same on every attempt. */
export interface OutboxDelivery {
  id: string;
  tenantId: string;
  responseId: string;
  /** Null: the deployment default (`WEBHOOK_URL`). */
  endpointId: string | null;
  url: string;
  eventId: string;
  eventType: string;
  /** The exact body every attempt sends. */
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  createdAt: number;
  /** After this, a failing delivery is given up (72 hours after the event, or after a resend). */
  giveUpAt: number;
  nextAttemptAt: number | null;
  lastAttemptAt: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
}

export interface OutboxAttempt {
  deliveryId: string;
  attempt: number;
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
}

/** The DO's webhook tables, as migration steps of its SQLite schema. */
export const OUTBOX_TABLES = [
  `CREATE TABLE IF NOT EXISTS webhook_outbox (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, response_id TEXT NOT NULL, endpoint_id TEXT, url TEXT NOT NULL, event_id TEXT NOT NULL, event_type TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL, created_at INTEGER NOT NULL, give_up_at INTEGER NOT NULL, next_attempt_at INTEGER, last_attempt_at INTEGER, last_status_code INTEGER, last_error TEXT, version INTEGER NOT NULL, synced_version INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS webhook_outbox_attempts (delivery_id TEXT NOT NULL, attempt INTEGER NOT NULL, started_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL, status_code INTEGER, error TEXT, synced INTEGER NOT NULL, PRIMARY KEY (delivery_id, attempt))`,
];

interface DeliveryRecord extends Record<string, SqlStorageValue> {
  id: string;
  tenant_id: string;
  response_id: string;
  endpoint_id: string | null;
  url: string;
  event_id: string;
  event_type: string;
  payload: string;
  status: string;
  attempts: number;
  created_at: number;
  give_up_at: number;
  next_attempt_at: number | null;
  last_attempt_at: number | null;
  last_status_code: number | null;
  last_error: string | null;
  version: number;
}

interface AttemptRecord extends Record<string, SqlStorageValue> {
  delivery_id: string;
  attempt: number;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
}

const delivery = (row: DeliveryRecord): OutboxDelivery & { version: number } => ({
  id: row.id,
  tenantId: row.tenant_id,
  responseId: row.response_id,
  endpointId: row.endpoint_id,
  url: row.url,
  eventId: row.event_id,
  eventType: row.event_type,
  payload: row.payload,
  status: row.status as DeliveryStatus,
  attempts: row.attempts,
  createdAt: row.created_at,
  giveUpAt: row.give_up_at,
  nextAttemptAt: row.next_attempt_at,
  lastAttemptAt: row.last_attempt_at,
  lastStatusCode: row.last_status_code,
  lastError: row.last_error,
  version: row.version,
});

const attempt = (row: AttemptRecord): OutboxAttempt => ({
  deliveryId: row.delivery_id,
  attempt: row.attempt,
  startedAt: row.started_at,
  durationMs: row.duration_ms,
  statusCode: row.status_code,
  error: row.error,
});

export class WebhookOutbox {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** Inserts or replaces a delivery; the change is marked for D1. */
  put(value: OutboxDelivery): void {
    this.#sql.exec(
      `INSERT INTO webhook_outbox (id, tenant_id, response_id, endpoint_id, url, event_id, event_type, payload, status, attempts, created_at, give_up_at, next_attempt_at, last_attempt_at, last_status_code, last_error, version, synced_version)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0)
       ON CONFLICT (id) DO UPDATE SET url = excluded.url, status = excluded.status, attempts = excluded.attempts,
         give_up_at = excluded.give_up_at, next_attempt_at = excluded.next_attempt_at, last_attempt_at = excluded.last_attempt_at,
         last_status_code = excluded.last_status_code, last_error = excluded.last_error, version = version + 1`,
      value.id,
      value.tenantId,
      value.responseId,
      value.endpointId,
      value.url,
      value.eventId,
      value.eventType,
      value.payload,
      value.status,
      value.attempts,
      value.createdAt,
      value.giveUpAt,
      value.nextAttemptAt,
      value.lastAttemptAt,
      value.lastStatusCode,
      value.lastError,
    );
  }

  get(id: string): OutboxDelivery | undefined {
    const row = this.#sql.exec<DeliveryRecord>(`SELECT * FROM webhook_outbox WHERE id = ?`, id).toArray()[0];
    return row === undefined ? undefined : delivery(row);
  }

  /** Forgets every delivery of the tenant and its attempts: the tenant was erased. */
  dropTenant(tenantId: string): void {
    this.#sql.exec(
      `DELETE FROM webhook_outbox_attempts WHERE delivery_id IN (SELECT id FROM webhook_outbox WHERE tenant_id = ?)`,
      tenantId,
    );
    this.#sql.exec(`DELETE FROM webhook_outbox WHERE tenant_id = ?`, tenantId);
  }

  /** Pending deliveries whose next attempt is due at `now`. */
  due(now: number): OutboxDelivery[] {
    return this.#sql
      .exec<DeliveryRecord>(
        `SELECT * FROM webhook_outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id`,
        now,
      )
      .toArray()
      .map(delivery);
  }

  /** Records an attempt as it starts, or its outcome once known (replacing the record it started with). */
  putAttempt(value: OutboxAttempt): void {
    this.#sql.exec(
      `INSERT INTO webhook_outbox_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, synced) VALUES (?, ?, ?, ?, ?, ?, 0)
       ON CONFLICT (delivery_id, attempt) DO UPDATE SET started_at = excluded.started_at, duration_ms = excluded.duration_ms,
         status_code = excluded.status_code, error = excluded.error, synced = 0`,
      value.deliveryId,
      value.attempt,
      value.startedAt,
      value.durationMs,
      value.statusCode,
      value.error,
    );
  }

  /** Deliveries and attempts D1 has not seen in their current state. */
  unsynced(): { deliveries: (OutboxDelivery & { version: number })[]; attempts: OutboxAttempt[] } {
    return {
      deliveries: this.#sql
        .exec<DeliveryRecord>(`SELECT * FROM webhook_outbox WHERE version > synced_version ORDER BY created_at, id`)
        .toArray()
        .map(delivery),
      attempts: this.#sql
        .exec<AttemptRecord>(`SELECT * FROM webhook_outbox_attempts WHERE synced = 0 ORDER BY delivery_id, attempt`)
        .toArray()
        .map(attempt),
    };
  }

  /** D1 has these versions and attempts; a delivery or attempt changed since stays unsynced. */
  markSynced(deliveries: { id: string; version: number }[], attempts: OutboxAttempt[]): void {
    for (const { id, version } of deliveries)
      this.#sql.exec(
        `UPDATE webhook_outbox SET synced_version = ? WHERE id = ? AND synced_version < ?`,
        version,
        id,
        version,
      );
    // An attempt whose outcome was recorded meanwhile (D1 has only its start) stays unsynced.
    for (const { deliveryId, attempt: number, statusCode, error } of attempts)
      this.#sql.exec(
        `UPDATE webhook_outbox_attempts SET synced = 1 WHERE delivery_id = ? AND attempt = ? AND status_code IS ? AND error IS ?`,
        deliveryId,
        number,
        statusCode,
        error,
      );
  }

  /** The next time the alarm has work here: a due attempt, or a D1 write to retry; null when idle. */
  nextWakeAt(now: number, syncRetryMs: number): number | null {
    const next = this.#sql
      .exec<{ at: number | null }>(`SELECT MIN(next_attempt_at) AS at FROM webhook_outbox WHERE status = 'pending'`)
      .toArray()[0]?.at;
    const unsynced = this.#sql
      .exec<{ n: number }>(
        `SELECT (SELECT COUNT(*) FROM webhook_outbox WHERE version > synced_version) + (SELECT COUNT(*) FROM webhook_outbox_attempts WHERE synced = 0) AS n`,
      )
      .toArray()[0]?.n;
    const times = [...(next === null || next === undefined ? [] : [next]), ...(unsynced ? [now + syncRetryMs] : [])];
    return times.length === 0 ? null : Math.min(...times);
  }

  /** Nothing left to send or to write to D1. */
  idle(): boolean {
    return this.nextWakeAt(0, 0) === null;
  }
}
