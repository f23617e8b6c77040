// The Cron Trigger (`[triggers] crons` in wrangler.toml, every minute): on every shard, ends runs whose
// executor died (src/stream/sweep.ts), in the first minutes of each hour rolls up usage until the hour
// began (src/db/usage.ts), then enforces retention, deleting background responses made with store:false
// 10 minutes after they ended and responses older than `RETENTION_DAYS`, with all their rows, a bounded
// amount per run. A wrong `D1_SHARDS` is logged and the shards that are bound are still swept.

import { readConfig, type GatewayConfig } from "./config";
import type { Db } from "./db/client";
import { RETENTION_MAX_BATCHES, sweepExpired, sweepExpiredDeliveries, sweepUnstored } from "./db/retention";
import { rollUpUsage } from "./db/usage";
import { idFloorAt } from "./responses/ids";
import { onEveryShard, sweptShards } from "./db/shards";
import { causeOf } from "./observe/log";
import { logSweep } from "./observe/problems";
import { sweepDeadRuns } from "./stream/sweep";

const DAY_SECONDS = 86_400;
const HOUR_MS = 3_600_000;
/**
 * The usage roll-up runs in this many first minutes of each hour (a run that fails is retried by the
 * next minute's); later minutes would find nothing new and only read every tenant's mark.
 */
const USAGE_ROLLUP_MINUTES = 5;
/**
 * Retention batches per run over all shards: each is 2 D1 queries, and an invocation may make 1,000
 * (the sweep and the idempotency keys need a few per shard). 300 batches of 48 delete 14,400
 * responses a minute, 20 million a day; a shard gets its share, and at least one batch.
 */
const RETENTION_BATCHES_PER_RUN = 300;
/** Past its maximum run time, a run has this long to write its end before its row counts as dead. */
const RUN_END_SLACK_SECONDS = 3_600;

export async function scheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  const config = readConfig(env);
  const cutoff = Math.floor(controller.scheduledTime / 1000) - Math.round(config.retentionDays * DAY_SECONDS);
  // A wrong D1_SHARDS is logged there, naming it; the shards that are bound are still swept.
  const swept = sweptShards(env);
  const maxBatches = Math.min(
    RETENTION_MAX_BATCHES,
    Math.max(1, Math.floor(RETENTION_BATCHES_PER_RUN / Math.max(1, swept.length))),
  );
  const run: CronRun = { env, config, now: controller.scheduledTime, cutoff, maxBatches };
  // A shard that fails is logged and left for the next run; the others go on.
  const failed = await onEveryShard(
    env,
    async ({ name, db }) => {
      try {
        await sweepShard(run, name, db);
        return false;
      } catch (error) {
        // The cause without a failed query's SQL and parameters (causeOf), as every other line.
        logSweep("sweep", `sweep and retention failed: ${causeOf(error)}`, { shard: name, action: "failed" }, true);
        return true;
      }
    },
    swept,
  );
  if (failed.includes(true)) throw new Error(`the scheduled run failed on ${failed.filter(Boolean).length} shard(s)`);
}

/** What every shard's sweep of one cron run shares. */
interface CronRun {
  env: Env;
  config: GatewayConfig;
  /** The run's scheduled time, ms. */
  now: number;
  /** Responses created before this (Unix seconds) are past retention. */
  cutoff: number;
  /** Retention batches this shard may run. */
  maxBatches: number;
}

/** One shard's part of a run: dead runs, the usage roll-up (early in the hour), then retention. */
async function sweepShard({ env, config, now, cutoff, maxBatches }: CronRun, name: string, db: Db): Promise<void> {
  const shard = { shard: name };
  const dead = await sweepDeadRuns(env, db, config, now);
  if (dead.ended + dead.failed > 0)
    logSweep("sweep", `${dead.ended} dead runs ended, ${dead.failed} left for the next sweep`, {
      ...shard,
      action: "summary",
      ended: dead.ended,
      left: dead.failed,
    });
  const hourStart = Math.floor(now / HOUR_MS) * HOUR_MS;
  if (now - hourStart < USAGE_ROLLUP_MINUTES * 60_000) {
    const rolled = await rollUpUsage(db, idFloorAt("resp", hourStart));
    if (rolled.tenants > 0)
      logSweep("usage_rollup", `usage rolled up for ${rolled.tenants} tenants in ${rolled.groups} rows`, {
        ...shard,
        tenants: rolled.tenants,
        groups: rolled.groups,
        counted_before: new Date(hourStart).toISOString(),
      });
  }
  const unstored = await sweepUnstored(db, Math.floor(now / 1000), { maxBatches });
  if (unstored > 0)
    logSweep("retention", `deleted ${unstored} background responses made with store:false, past their polling time`, {
      ...shard,
      deleted_unstored: unstored,
    });
  if (config.retentionDays <= 0) return;
  // A run still going is not expired: it ends by MAX_RUN_SECONDS (or the sweep above ends it).
  const runningBefore = Math.floor(now / 1000) - config.maxRunMs / 1000 - RUN_END_SLACK_SECONDS;
  const result = await sweepExpired(db, cutoff, { maxBatches, runningBefore, now: Math.floor(now / 1000) });
  // Deliveries of responses deleted sooner (a DELETE, an unstored background one) are found by no response.
  const deliveries = await sweepExpiredDeliveries(db, cutoff, maxBatches);
  if (result.deletedResponses + result.deletedIdempotencyKeys + deliveries > 0 || result.more)
    logSweep(
      "retention",
      `deleted ${result.deletedResponses} responses, ${deliveries} webhook deliveries and ${result.deletedIdempotencyKeys} expired idempotency keys` +
        (result.more ? "; more remain for the next run" : ""),
      {
        ...shard,
        deleted_responses: result.deletedResponses,
        deleted_deliveries: deliveries,
        deleted_idempotency_keys: result.deletedIdempotencyKeys,
        more: result.more,
        created_before: new Date(cutoff * 1000).toISOString(),
      },
    );
}
