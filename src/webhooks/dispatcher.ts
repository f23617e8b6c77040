// Webhook delivery for one response, run by its ResponseRun DO's alarm: plans the deliveries when a
// background response ends (one per subscribed endpoint of the tenant, else the deployment
// default), makes the due attempts, schedules retries with backoff for up to 72 hours, and mirrors
// every delivery and attempt into D1: an attempt is recorded as it starts, so one cut short by a
// crash stays on record. The retry state is the DO's outbox, so nothing is lost to an eviction; an
// attempt cut short by one is simply made again (at-least-once, same webhook-id).

import { readConfig } from "../config";
import { runBatch } from "../db/client";
import { isShardSettingError, tenantDb, tenantRecorded } from "../db/shards";
import { deliveryStatements, endpointTargets, listEndpoints, type AttemptRow, type DeliveryRow } from "../db/webhooks";
import { logD1Problem, logFailure, logWebhookFailure, logWebhookRecovered } from "../observe/problems";
import { newId } from "../responses/ids";
import { afterAttempt, DELIVERY_WINDOW_MS } from "./backoff";
import { notAttempted, sendWebhook, type AttemptOutcome } from "./deliver";
import { eventTypeOf, webhookEvent } from "./event";
import type { OutboxDelivery, WebhookOutbox } from "./outbox";
import { refusalOf } from "./target";

/** Attempts made at once: a Worker invocation keeps at most 6 connections open. */
const MAX_PARALLEL_ATTEMPTS = 6;
/** Pace of retries when D1 is unavailable (secrets cannot be read, records cannot be written). */
export const D1_RETRY_MS = 30_000;

export interface EndedResponse {
  tenantId: string;
  responseId: string;
  status: string;
  /** When it reached its terminal status (ms). */
  endedAt: number;
}

const seconds = (ms: number | null): number | null => (ms === null ? null : Math.floor(ms / 1000));

/**
 * Whether the delivery's last recorded attempt delivered: a resend of a delivered delivery that
 * delivers again is no recovery. An attempt cut short (a restart) recorded nothing here: a first
 * one cut short reads as failed.
 */
const deliveredLast = (delivery: OutboxDelivery): boolean =>
  delivery.lastError === null && delivery.lastStatusCode !== null && delivery.lastStatusCode < 300;

/** What an attempt's record says until its outcome replaces it (or forever, if a crash cut it short). */
export const ATTEMPT_UNDER_WAY =
  "No answer was recorded: the attempt was under way, or was cut short (the gateway restarted) before the receiver answered.";

/** The D1 record of a delivery as the outbox holds it. */
export function deliveryRow(delivery: OutboxDelivery): DeliveryRow {
  return {
    id: delivery.id,
    tenantId: delivery.tenantId,
    responseId: delivery.responseId,
    endpointId: delivery.endpointId,
    url: delivery.url,
    eventId: delivery.eventId,
    eventType: delivery.eventType,
    payload: delivery.payload,
    status: delivery.status,
    attempts: delivery.attempts,
    nextAttemptAt: seconds(delivery.nextAttemptAt),
    createdAt: seconds(delivery.createdAt) as number,
    lastAttemptAt: seconds(delivery.lastAttemptAt),
    lastStatusCode: delivery.lastStatusCode,
    lastError: delivery.lastError,
  };
}

export class WebhookDispatcher {
  readonly #outbox: WebhookOutbox;
  readonly #env: Env;
  /** Deliveries with an attempt under way in this instance (an alarm and a test-run alarm may overlap). */
  readonly #inFlight = new Set<string>();

  constructor(outbox: WebhookOutbox, env: Env) {
    this.#outbox = outbox;
    this.#env = env;
  }

  /**
   * The deliveries a response's end calls for. A tenant with endpoints gets one per endpoint
   * subscribed to the event type; a tenant with none gets the deployment default (`WEBHOOK_URL`
   * signed with `WEBHOOK_SECRET`) when both are set. Reads D1; the caller stores the result.
   */
  async plan(ended: EndedResponse): Promise<OutboxDelivery[]> {
    const type = eventTypeOf(ended.status);
    if (type === null) return [];
    const endpoints = await listEndpoints(await tenantDb(this.#env, ended.tenantId), ended.tenantId);
    const targets: { endpointId: string | null; url: string }[] =
      endpoints.length > 0
        ? endpoints
            .filter((endpoint) => (JSON.parse(endpoint.eventTypes) as string[]).includes(type))
            .map((endpoint) => ({ endpointId: endpoint.id, url: endpoint.url }))
        : this.#defaultTarget();
    if (targets.length === 0) return [];
    const event = webhookEvent(type, ended.responseId, Math.floor(ended.endedAt / 1000));
    const now = Date.now();
    return targets.map((target) => ({
      id: newId("wh"),
      tenantId: ended.tenantId,
      responseId: ended.responseId,
      endpointId: target.endpointId,
      url: target.url,
      eventId: event.id,
      eventType: event.type,
      payload: event.payload,
      status: "pending",
      attempts: 0,
      createdAt: now,
      giveUpAt: ended.endedAt + DELIVERY_WINDOW_MS,
      nextAttemptAt: now,
      lastAttemptAt: null,
      lastStatusCode: null,
      lastError: null,
    }));
  }

  /** Whether a response of the tenant ending with `status` has anywhere to be delivered (reads D1). */
  async hasTargets(tenantId: string, status: string): Promise<boolean> {
    const type = eventTypeOf(status);
    if (type === null) return false;
    const endpoints = await listEndpoints(await tenantDb(this.#env, tenantId), tenantId);
    if (endpoints.length > 0)
      return endpoints.some((endpoint) => (JSON.parse(endpoint.eventTypes) as string[]).includes(type));
    return this.#defaultTarget().length > 0;
  }

  #defaultTarget(): { endpointId: null; url: string }[] {
    const config = readConfig(this.#env).webhooks;
    if (config.defaultUrl === null) return [];
    const refusal = refusalOf(config.defaultUrl, config.allowLoopback);
    if (config.defaultSecret === null || refusal !== null) {
      logFailure("WEBHOOK_URL is not used", refusal ?? "WEBHOOK_SECRET is not set");
      return [];
    }
    return [{ endpointId: null, url: config.defaultUrl }];
  }

  /**
   * Makes every due attempt, then records the outcomes in the outbox. An endpoint's delivery goes
   * to its current URL with its current secret, so fixing or rotating an endpoint helps pending retries.
   */
  async deliverDue(): Promise<void> {
    const now = Date.now();
    let due = this.#outbox.due(now).filter((delivery) => !this.#inFlight.has(delivery.id));
    if (due.length === 0) return;
    let targets: Map<string, { url: string; secret: string }>;
    try {
      // An erased tenant's pending deliveries are dropped, not sent: its records are gone, and
      // writing them again would bring back rows (and a shard record) of a tenant that no longer exists.
      for (const tenantId of new Set(due.map((delivery) => delivery.tenantId)))
        if (!(await tenantRecorded(this.#env, tenantId))) {
          this.#outbox.dropTenant(tenantId);
          due = due.filter((delivery) => delivery.tenantId !== tenantId);
        }
      if (due.length === 0) return;
      targets = await this.#endpointTargets(due);
    } catch (error) {
      // A wrong D1_SHARDS is no D1 failure: its config_problem line names it (once per isolate).
      if (!isShardSettingError(error))
        logD1Problem({ deliveries: due.length }, "webhook endpoints could not be read; retrying later", error);
      for (const delivery of due) this.#outbox.put({ ...delivery, nextAttemptAt: now + D1_RETRY_MS });
      return;
    }
    const config = readConfig(this.#env).webhooks;
    // The default's retries go where WEBHOOK_URL points now, signed with WEBHOOK_SECRET as it is now,
    // as an endpoint's go to its current URL with its current secret.
    const targetOf = (delivery: OutboxDelivery) =>
      delivery.endpointId === null
        ? config.defaultSecret === null || config.defaultUrl === null
          ? undefined
          : { url: config.defaultUrl, secret: config.defaultSecret }
        : targets.get(delivery.endpointId);
    for (let start = 0; start < due.length; start += MAX_PARALLEL_ATTEMPTS) {
      const group = due.slice(start, start + MAX_PARALLEL_ATTEMPTS);
      for (const delivery of group) this.#inFlight.add(delivery.id);
      try {
        // Each attempt is on record (in the outbox, then D1) before its request leaves.
        const attempts = group.map((delivery) => {
          const target = targetOf(delivery);
          return { delivery, target, number: target === undefined ? delivery.attempts + 1 : this.#begin(delivery) };
        });
        await this.sync();
        await Promise.all(
          attempts.map(async ({ delivery, target, number }) => {
            const outcome =
              target === undefined
                ? notAttempted(
                    delivery.endpointId === null
                      ? "WEBHOOK_URL or WEBHOOK_SECRET is not set."
                      : "The webhook endpoint was deleted.",
                    true,
                  )
                : await sendWebhook({ ...delivery, url: target.url }, target.secret, {
                    allowLoopback: config.allowLoopback,
                  });
            this.#record(delivery.id, number, target?.url ?? delivery.url, outcome, config.retryBaseMs);
          }),
        );
      } finally {
        for (const delivery of group) this.#inFlight.delete(delivery.id);
      }
    }
  }

  /** Records that an attempt starts now (its outcome unknown yet); answers its number. */
  #begin(delivery: OutboxDelivery): number {
    const number = delivery.attempts + 1;
    const startedAt = Date.now();
    this.#outbox.put({ ...delivery, attempts: number, lastAttemptAt: startedAt });
    this.#outbox.putAttempt({
      deliveryId: delivery.id,
      attempt: number,
      startedAt,
      durationMs: 0,
      statusCode: null,
      error: ATTEMPT_UNDER_WAY,
    });
    return number;
  }

  async #endpointTargets(due: OutboxDelivery[]): Promise<Map<string, { url: string; secret: string }>> {
    const targets = new Map<string, { url: string; secret: string }>();
    const byTenant = new Map<string, Set<string>>();
    for (const delivery of due)
      if (delivery.endpointId !== null)
        byTenant.set(delivery.tenantId, (byTenant.get(delivery.tenantId) ?? new Set()).add(delivery.endpointId));
    for (const [tenantId, ids] of byTenant)
      for (const [id, target] of await endpointTargets(await tenantDb(this.#env, tenantId), tenantId, [...ids]))
        targets.set(id, target);
    return targets;
  }

  #record(id: string, attempts: number, url: string, outcome: AttemptOutcome, retryBaseMs: number): void {
    // Read again: a resend may have changed the delivery while the attempt was under way.
    const current = this.#outbox.get(id);
    if (current === undefined) return;
    const next = afterAttempt(attempts, outcome, Date.now(), current.giveUpAt, retryBaseMs);
    if (!outcome.delivered) logWebhookFailure(current, url, { ...outcome, number: attempts }, next);
    else if (attempts > 1 && !deliveredLast(current))
      logWebhookRecovered(current, url, { ...outcome, number: attempts });
    this.#outbox.put({
      ...current,
      url,
      status: next.status,
      attempts: Math.max(attempts, current.attempts),
      nextAttemptAt: next.nextAttemptAt,
      lastAttemptAt: outcome.startedAt,
      lastStatusCode: outcome.statusCode,
      lastError: outcome.error,
    });
    this.#outbox.putAttempt({
      deliveryId: id,
      attempt: attempts,
      startedAt: outcome.startedAt,
      durationMs: outcome.durationMs,
      statusCode: outcome.statusCode,
      error: outcome.error,
    });
  }

  /** Mirrors every change D1 has not seen; on failure the next alarm tries again. */
  async sync(): Promise<void> {
    const { deliveries, attempts } = this.#outbox.unsynced();
    if (deliveries.length === 0 && attempts.length === 0) return;
    const tenants = new Map(deliveries.map((delivery) => [delivery.id, delivery.tenantId]));
    for (const attempt of attempts)
      if (!tenants.has(attempt.deliveryId)) {
        const owner = this.#outbox.get(attempt.deliveryId);
        if (owner !== undefined) tenants.set(owner.id, owner.tenantId);
      }
    const attemptRows: AttemptRow[] = attempts.map((attempt) => ({
      deliveryId: attempt.deliveryId,
      attempt: attempt.attempt,
      tenantId: tenants.get(attempt.deliveryId) ?? "",
      startedAt: Math.floor(attempt.startedAt / 1000),
      durationMs: attempt.durationMs,
      statusCode: attempt.statusCode,
      error: attempt.error,
    }));
    // An object's deliveries are one response's, so one tenant's: one batch on its shard. Grouped anyway.
    try {
      for (const tenantId of new Set(tenants.values())) {
        // A tenant erased since the response ended has no shard: its deliveries' records are dropped,
        // not written back (nor the tenant placed again). Any tenant with a delivery wrote before it.
        if (!(await tenantRecorded(this.#env, tenantId))) continue;
        const db = await tenantDb(this.#env, tenantId);
        const owned = (id: string) => tenants.get(id) === tenantId;
        const statements = deliveryStatements(
          db,
          deliveries.filter((delivery) => owned(delivery.id)).map(deliveryRow),
          attemptRows.filter((attempt) => owned(attempt.deliveryId)),
        );
        await runBatch(db, statements);
      }
      this.#outbox.markSynced(deliveries, attempts);
    } catch (error) {
      if (!isShardSettingError(error))
        logD1Problem({ deliveries: deliveries.length }, "webhook records could not be written; retrying later", error);
    }
  }

  /**
   * Sends a delivery again by hand: same webhook-id and body to `record.url` (the target as it is
   * now), a fresh 72-hour retry window, attempt numbers continuing. Works after the outbox was cleaned up.
   */
  resend(record: DeliveryRow): OutboxDelivery {
    const now = Date.now();
    const known = this.#outbox.get(record.id);
    const delivery: OutboxDelivery = {
      ...(known ?? {
        id: record.id,
        tenantId: record.tenantId,
        responseId: record.responseId,
        endpointId: record.endpointId,
        url: record.url,
        eventId: record.eventId,
        eventType: record.eventType,
        payload: record.payload,
        createdAt: record.createdAt * 1000,
        lastAttemptAt: record.lastAttemptAt === null ? null : record.lastAttemptAt * 1000,
        lastStatusCode: record.lastStatusCode,
        lastError: record.lastError,
      }),
      url: record.url,
      status: "pending",
      attempts: Math.max(known?.attempts ?? 0, record.attempts),
      giveUpAt: now + DELIVERY_WINDOW_MS,
      nextAttemptAt: now,
    };
    this.#outbox.put(delivery);
    return delivery;
  }

  nextWakeAt(now: number): number | null {
    return this.#outbox.nextWakeAt(now, D1_RETRY_MS);
  }

  idle(): boolean {
    return this.#outbox.idle();
  }
}
