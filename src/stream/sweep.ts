// The scheduled sweep of runs whose executor died: a foreground response whose Worker was stopped
// (a deploy, a crash) mid-stream, or a background one whose object was reset, stops writing its
// heartbeat; once silent for `staleMs` it is ended `failed` with its partial output (a background
// one by its own object, which then delivers its webhooks). Used by src/scheduled.ts.

import type { GatewayConfig } from "../config";
import type { Db } from "../db/client";
import { findStaleRuns } from "../db/responses";
import { runName } from "../run/response-run";
import { causeOf } from "../observe/log";
import { logD1Problem, logSweep } from "../observe/problems";
import { endDeadRun, rowIds, staleAfterMs } from "./dead-run";

/** Runs ended per sweep: each costs a few D1 queries, well within an invocation's subrequests. */
export const SWEEP_LIMIT = 50;

export interface SweepOutcome {
  ended: number;
  failed: number;
}

export async function sweepDeadRuns(
  env: Env,
  db: Db,
  config: GatewayConfig,
  nowMs = Date.now(),
): Promise<SweepOutcome> {
  const rows = await findStaleRuns(db, {
    // Timed ids from one maximum run time (and a margin) ago: no live run is older.
    since: Math.floor((nowMs - config.maxRunMs - 3_600_000) / 1000),
    staleBefore: Math.floor((nowMs - staleAfterMs(config.recordFlushMs)) / 1000),
    limit: SWEEP_LIMIT,
  });
  const outcome: SweepOutcome = { ended: 0, failed: 0 };
  for (const row of rows) {
    try {
      if (row.background) await env.RESPONSE_RUN.getByName(runName(row.tenantId, row.id)).recover();
      else {
        const { outcome: written } = await endDeadRun(db, row, {
          flushIntervalMs: config.recordFlushMs,
          onError: (what, error, attempt) => logD1Problem(rowIds(row), what, error, attempt),
          env,
        });
        if (written === "failed") throw new Error("D1 refused the end");
      }
      outcome.ended += 1;
      logSweep("sweep", "ended a dead run as failed: its run stopped writing", { action: "ended", ...rowIds(row) });
    } catch (error) {
      outcome.failed += 1;
      logSweep("sweep", `could not end a dead run: ${causeOf(error)}`, { action: "left", ...rowIds(row) }, true);
    }
  }
  return outcome;
}
