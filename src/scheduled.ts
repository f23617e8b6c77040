// The Cron Trigger (`[triggers] crons` in wrangler.toml, every minute): ends runs whose executor died
// (src/stream/sweep.ts), then enforces retention, deleting responses older than `RETENTION_DAYS`
// with all their rows, a bounded amount per run.

import { readConfig } from "./config";
import { openDb } from "./db/client";
import { sweepExpired } from "./db/retention";
import { sweepDeadRuns } from "./stream/sweep";

const DAY_SECONDS = 86_400;

export async function scheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  const config = readConfig(env);
  const db = openDb(env.DB);
  const dead = await sweepDeadRuns(env, db, config, controller.scheduledTime);
  if (dead.ended + dead.failed > 0)
    console.log(`sweep: ${dead.ended} dead runs ended, ${dead.failed} left for the next sweep`);
  if (config.retentionDays <= 0) return;
  const cutoff = Math.floor(controller.scheduledTime / 1000) - Math.round(config.retentionDays * DAY_SECONDS);
  const result = await sweepExpired(db, cutoff);
  if (result.deletedResponses + result.deletedIdempotencyKeys > 0 || result.more)
    console.log(
      `retention: deleted ${result.deletedResponses} responses created before ${new Date(cutoff * 1000).toISOString()}` +
        ` and ${result.deletedIdempotencyKeys} expired idempotency keys${result.more ? "; more remain for the next run" : ""}`,
    );
}
