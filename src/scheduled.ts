// The Cron Trigger (`[triggers] crons` in wrangler.toml): enforces retention, deleting responses
// older than `RETENTION_DAYS` with all their rows, a bounded amount per run.

import { readConfig } from "./config";
import { openDb } from "./db/client";
import { sweepExpired } from "./db/retention";

const DAY_SECONDS = 86_400;

export async function scheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  const { retentionDays } = readConfig(env);
  if (retentionDays <= 0) return;
  const cutoff = Math.floor(controller.scheduledTime / 1000) - Math.round(retentionDays * DAY_SECONDS);
  const result = await sweepExpired(openDb(env.DB), cutoff);
  console.log(
    `retention: deleted ${result.deletedResponses} responses created before ${new Date(cutoff * 1000).toISOString()}` +
      ` and ${result.deletedIdempotencyKeys} expired idempotency keys${result.more ? "; more remain for the next run" : ""}`,
  );
}
