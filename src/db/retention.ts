// Deletes expired responses (older than the retention, or unstored background ones past their polling
// time) with every row they own (event batches, split values, legacy items and
// events, webhook deliveries and their attempts) in bounded batches, and expired idempotency keys.
// Responses are found by their time-ordered id within each tenant's key range (no index is written for
// this), and rows from before ids were timed by the partial index on legacy rows. Used by the Cron Trigger (src/scheduled.ts).
// Usage rows are kept, and a deleted response the usage roll-up has not reached is counted first.

import { and, eq, gte, inArray, lt, sql, type SQL } from "drizzle-orm";
import { TERMINAL_STATUSES } from "../responses/types";
import { idFloorAt } from "../responses/ids";
import { runBatch, type Db, type Statement } from "./client";
import { deleteExpiredIdempotencyKeys, IDEMPOTENCY_WINDOW_SECONDS, markKeysDeleted } from "./idempotency";
import { ofAnyTenant } from "./tenant-scan";
import { removedUsageStatement } from "./usage";
import {
  blobs,
  responseEventBatches,
  responseEvents,
  responseItems,
  responses,
  webhookAttempts,
  webhookDeliveries,
} from "./schema";

/**
 * Responses per batch. A batch's widest statement binds each id and each distinct tenant once,
 * and one more value (at most 2 x 48 + 1 = 97), within D1's 100 bound parameters per statement.
 */
export const RETENTION_BATCH_SIZE = 48;
/** Batches per run: 2 queries each, so a run stays far below a Worker's subrequest limit. */
export const RETENTION_MAX_BATCHES = 100;
/** Expired idempotency keys deleted per run. */
export const IDEMPOTENCY_SWEEP_LIMIT = 1000;

export interface SweepOptions {
  batchSize?: number;
  maxBatches?: number;
  /**
   * A response that has not ended expires only if created before this (unix seconds): until then its
   * run may still be going (`MAX_RUN_SECONDS` longer than the retention), and deleting its row would
   * leave the run calling the upstream and holding its conversation for nothing. Unset: any status.
   */
  runningBefore?: number;
  /** The run's clock (unix seconds), which tells whether a key can outlive a response due (`keysMayOutlive`). */
  now?: number;
}

/**
 * Whether an Idempotency-Key can outlive a response created before `cutoff`: a key lives a day from
 * its claim, made moments after its response's creation (a day's slack covers a pass-through key's
 * check upstream first). Only under a two-day retention: past it, marking found no live key and read
 * every live key of the batch's tenants to learn so (they are found by tenant; no index on their response).
 */
export const keysMayOutlive = (cutoff: number, now: number): boolean => cutoff > now - 2 * IDEMPOTENCY_WINDOW_SECONDS;

export interface SweepResult {
  deletedResponses: number;
  deletedIdempotencyKeys: number;
  /** The run stopped at its bound with expired responses left (the next run continues). */
  more: boolean;
}

/** Seconds a background response made with `store: false` is kept after it ends, for its client to poll it (OpenAI: about 10 minutes). */
export const UNSTORED_KEEP_SECONDS = 600;

/** `still`: the condition each response must still meet when its row is deleted (the one it was found by). */
function deleteStatements(db: Db, rows: { id: string; tenantId: string }[], still: SQL): Statement[] {
  const ids = rows.map((row) => row.id);
  const tenants = [...new Set(rows.map((row) => row.tenantId))];
  const deliveries = and(inArray(webhookDeliveries.tenantId, tenants), inArray(webhookDeliveries.responseId, ids));
  return [
    db
      .delete(webhookAttempts)
      .where(
        inArray(
          webhookAttempts.deliveryId,
          db.select({ id: webhookDeliveries.id }).from(webhookDeliveries).where(deliveries),
        ),
      ),
    db.delete(webhookDeliveries).where(deliveries),
    db
      .delete(responseEventBatches)
      .where(and(inArray(responseEventBatches.tenantId, tenants), inArray(responseEventBatches.responseId, ids))),
    db
      .delete(responseItems)
      .where(and(inArray(responseItems.tenantId, tenants), inArray(responseItems.responseId, ids))),
    db.delete(responseEvents).where(inArray(responseEvents.responseId, ids)),
    // Parts written before blobs named their tenant have ''.
    db.delete(blobs).where(and(inArray(blobs.tenantId, [...tenants, ""]), inArray(blobs.ownerId, ids))),
    // Counts what the usage roll-up has not reached yet (a retention shorter than its hour, or a roll-up
    // that keeps failing): usage outlives the rows.
    removedUsageStatement(db, tenants, ids),
    db.delete(responses).where(and(inArray(responses.tenantId, tenants), inArray(responses.id, ids), still)),
  ];
}

/** A background response made with store:false that ended before `endedBefore` (unix seconds). */
const unstoredEnded = (endedBefore: number): SQL =>
  // `store = 0` written out, not bound: SQLite uses a partial index only for a term it can match to it.
  // The statuses too: the delete binds up to 48 ids and 48 tenants besides, within D1's 100 parameters.
  sql`${responses.store} = 0 AND ${responses.updatedAt} < ${endedBefore} AND ${responses.status} IN (${sql.raw(TERMINAL_SQL_LIST)})`;

const TERMINAL_SQL_LIST = [...TERMINAL_STATUSES].map((status) => `'${status}'`).join(", ");

/** The next unstored responses past their polling time. Exported so a test can check that SQLite reads them by the index. */
export const endedUnstored = (db: Db, nowSeconds: number, limit: number) =>
  db
    .select({ id: responses.id, tenantId: responses.tenantId })
    .from(responses)
    .where(unstoredEnded(nowSeconds - UNSTORED_KEEP_SECONDS))
    .limit(limit);

/**
 * Deletes background responses made with `store: false` once `UNSTORED_KEEP_SECONDS` have passed
 * since they ended (`nowSeconds`), by the partial index on unstored rows, within the same bounds.
 */
export async function sweepUnstored(db: Db, nowSeconds: number, options: SweepOptions = {}): Promise<number> {
  const batchSize = Math.min(options.batchSize ?? RETENTION_BATCH_SIZE, RETENTION_BATCH_SIZE);
  const ended = unstoredEnded(nowSeconds - UNSTORED_KEEP_SECONDS);
  let deleted = 0;
  for (let batch = 0; batch < (options.maxBatches ?? RETENTION_MAX_BATCHES); batch++) {
    const rows = await endedUnstored(db, nowSeconds, batchSize);
    if (rows.length === 0) break;
    // Its Idempotency-Keys outlive it: a retry is told it was deleted, never runs it again.
    const tenants = [...new Set(rows.map((row) => row.tenantId))];
    await runBatch(db, [
      markKeysDeleted(
        db,
        tenants,
        rows.map((row) => row.id),
      ),
      ...deleteStatements(db, rows, ended),
    ]);
    deleted += rows.length;
    if (rows.length < batchSize) break;
  }
  return deleted;
}

/**
 * Created before `cutoff`, and ended or too old to be running. The statuses are written out, not
 * bound: a batch's delete binds up to 48 ids and 48 tenants besides, within D1's 100 parameters.
 */
function expiredBy(cutoff: number, runningBefore: number | undefined): SQL | undefined {
  const created = lt(responses.createdAt, cutoff);
  if (runningBefore === undefined) return created;
  return and(
    created,
    sql`(${responses.status} IN (${sql.raw(TERMINAL_SQL_LIST)}) OR ${responses.createdAt} < ${runningBefore})`,
  );
}

/** The next expired rows: by id range within each tenant's key among timed ids, then by the legacy index. */
async function nextExpired(
  db: Db,
  cutoff: number,
  expired: SQL | undefined,
  limit: number,
): Promise<{ id: string; tenantId: string }[]> {
  const timed = await db
    .select({ id: responses.id, tenantId: responses.tenantId })
    .from(responses)
    .where(and(ofAnyTenant(), gte(responses.id, "resp_"), lt(responses.id, idFloorAt("resp", cutoff * 1000)), expired))
    .limit(limit);
  if (timed.length > 0) return timed;
  return db
    .select({ id: responses.id, tenantId: responses.tenantId })
    .from(responses)
    .where(and(eq(responses.legacy, 1), expired))
    .limit(limit);
}

/** Deliveries per batch: their ids are the only bound values of each statement (D1 allows 100). */
const DELIVERY_BATCH_SIZE = 90;

/**
 * Deletes webhook deliveries made before `cutoff` (unix seconds) with their attempts, oldest first
 * by their time-ordered ids: those of a response deleted earlier (a DELETE, an unstored background
 * response) are found by no response, and would stay forever. Returns how many went.
 */
export async function sweepExpiredDeliveries(
  db: Db,
  cutoff: number,
  maxBatches = RETENTION_MAX_BATCHES,
): Promise<number> {
  let deleted = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const rows = await db
      .select({ id: webhookDeliveries.id })
      .from(webhookDeliveries)
      .where(and(gte(webhookDeliveries.id, "wh_"), lt(webhookDeliveries.id, idFloorAt("wh", cutoff * 1000))))
      .limit(DELIVERY_BATCH_SIZE);
    if (rows.length === 0) break;
    const ids = rows.map((row) => row.id);
    await runBatch(db, [
      db.delete(webhookAttempts).where(inArray(webhookAttempts.deliveryId, ids)),
      db.delete(webhookDeliveries).where(inArray(webhookDeliveries.id, ids)),
    ]);
    deleted += ids.length;
    if (rows.length < DELIVERY_BATCH_SIZE) break;
  }
  return deleted;
}

/** Deletes responses created before `cutoff` (unix seconds), tenant by tenant, oldest first in each, within the bounds. */
export async function sweepExpired(db: Db, cutoff: number, options: SweepOptions = {}): Promise<SweepResult> {
  const batchSize = Math.min(options.batchSize ?? RETENTION_BATCH_SIZE, RETENTION_BATCH_SIZE);
  const maxBatches = options.maxBatches ?? RETENTION_MAX_BATCHES;
  let deletedResponses = 0;
  let more = false;
  const expired = expiredBy(cutoff, options.runningBefore);
  const markKeys = keysMayOutlive(cutoff, options.now ?? Math.floor(Date.now() / 1000));
  for (let batch = 0; batch < maxBatches; batch++) {
    const rows = await nextExpired(db, cutoff, expired, batchSize);
    if (rows.length === 0) break;
    // A key outlives its response by the seconds between the response's creation and the key's claim
    // (longer when the create first asks the upstream about a pass-through key): a retry within them
    // is told it was deleted, as after a DELETE, instead of taking the key over and running again.
    const tenants = [...new Set(rows.map((row) => row.tenantId))];
    await runBatch(db, [
      ...(markKeys
        ? [
            markKeysDeleted(
              db,
              tenants,
              rows.map((row) => row.id),
            ),
          ]
        : []),
      ...deleteStatements(db, rows, expired ?? sql`1`),
    ]);
    deletedResponses += rows.length;
    more = rows.length === batchSize && batch === maxBatches - 1;
  }
  const deletedIdempotencyKeys = await deleteExpiredIdempotencyKeys(
    db,
    Math.floor(Date.now() / 1000),
    IDEMPOTENCY_SWEEP_LIMIT,
  );
  return { deletedResponses, deletedIdempotencyKeys, more };
}
