// MAX_BACKGROUND_RUNS_PER_TENANT: a background create of a tenant with that many runs going is
// refused with a 429 before anything is written or sent upstream. The runs are counted in D1 from
// the rows themselves (queued or in progress, heartbeat fresh), so a run ended any way (its end, a
// cancel, a failure, a delete, the sweep, a lost object's silence) stops counting with no write of
// its own. Creates that count at once all see room, so each counts again once its row is written
// (`recheckBackgroundCap`): the count then holds every row written before it, and one that finds the
// cap passed is removed and refused. Racing creates may all be refused (a retry starts); the cap is
// never passed. Used by the create route and the background run's start.

import type { GatewayConfig } from "../config";
import type { Db } from "../db/client";
import { idempotencyKeyInUse } from "../db/idempotency";
import { countLiveBackgroundRuns } from "../db/responses";
import { ApiError } from "../errors";
import { staleAfterMs } from "../stream/dead-run";

/**
 * How far past `MAX_RUN_SECONDS` a row may still be a live run: its deadline starts once its object
 * has read its context, and its end may wait on D1's retries. Older rows are not read.
 */
const START_AND_END_MARGIN_MS = 5 * 60_000;
/** When a run ends cannot be told; a client waits this long and asks again (the SDKs honour it). */
const RETRY_AFTER_SECONDS = 10;

/** How many background runs the tenant has going, counting no further than `limit` (the cap). */
export function liveBackgroundRuns(
  db: Db,
  tenantId: string,
  config: GatewayConfig,
  nowMs = Date.now(),
  limit = config.maxBackgroundRuns,
) {
  return countLiveBackgroundRuns(db, tenantId, {
    sinceMs: nowMs - config.maxRunMs - START_AND_END_MARGIN_MS,
    heartbeatSince: Math.floor((nowMs - staleAfterMs(config.recordFlushMs)) / 1000),
    limit,
  });
}

const tooManyBackgroundRuns = (cap: number): ApiError =>
  new ApiError(
    429,
    `This account has ${cap} background responses running, the most MAX_BACKGROUND_RUNS_PER_TENANT allows. Wait for one to end (or cancel one) and try again.`,
    { code: "background_runs_limit_exceeded", headers: { "retry-after": String(RETRY_AFTER_SECONDS) } },
  );

/**
 * Refuses a background create while the tenant has `maxBackgroundRuns` running (0: no cap). A
 * create whose `Idempotency-Key` is in use is a retry, answered with what its key made: let through.
 */
export async function checkBackgroundCap(
  db: Db,
  tenantId: string,
  config: GatewayConfig,
  idempotencyKey: string | null,
): Promise<void> {
  const cap = config.maxBackgroundRuns;
  if (cap === 0 || (await liveBackgroundRuns(db, tenantId, config)) < cap) return;
  if (idempotencyKey !== null && (await idempotencyKeyInUse(db, tenantId, idempotencyKey))) return;
  throw tooManyBackgroundRuns(cap);
}

/**
 * Counts again once the run's own queued row is written, before its model is called: true when the
 * tenant now has more than `cap` runs (its own row included), so the run must not start. Creates
 * that counted at once before any of their rows landed all saw room; each sees here every row
 * written before its own, so of those that go on the cap is never passed.
 */
export async function overBackgroundCap(
  db: Db,
  tenantId: string,
  config: GatewayConfig,
  cap: number,
): Promise<boolean> {
  return cap !== 0 && (await liveBackgroundRuns(db, tenantId, config, Date.now(), cap + 1)) > cap;
}

export const backgroundCapReached = (cap: number): ApiError => tooManyBackgroundRuns(cap);
