// The Cron Trigger (`[triggers] crons` in wrangler.toml, every minute): ends runs whose executor died
// (src/stream/sweep.ts), then enforces retention, deleting responses older than `RETENTION_DAYS`
// with all their rows, a bounded amount per run.

import { readConfig } from "./config";
import { openDb } from "./db/client";
import { sweepExpired } from "./db/retention";
import { logSweep } from "./observe/problems";
import { sweepDeadRuns } from "./stream/sweep";

const DAY_SECONDS = 86_400;

export async function scheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  const config = readConfig(env);
  const db = openDb(env.DB);
  const dead = await sweepDeadRuns(env, db, config, controller.scheduledTime);
  if (dead.ended + dead.failed > 0)
    logSweep("sweep", `${dead.ended} dead runs ended, ${dead.failed} left for the next sweep`, {
      action: "summary",
      ended: dead.ended,
      left: dead.failed,
    });
  if (config.retentionDays <= 0) return;
  const cutoff = Math.floor(controller.scheduledTime / 1000) - Math.round(config.retentionDays * DAY_SECONDS);
  const result = await sweepExpired(db, cutoff);
  if (result.deletedResponses + result.deletedIdempotencyKeys > 0 || result.more)
    logSweep(
      "retention",
      `deleted ${result.deletedResponses} responses and ${result.deletedIdempotencyKeys} expired idempotency keys` +
        (result.more ? "; more remain for the next run" : ""),
      {
        deleted_responses: result.deletedResponses,
        deleted_idempotency_keys: result.deletedIdempotencyKeys,
        more: result.more,
        created_before: new Date(cutoff * 1000).toISOString(),
      },
    );
}
