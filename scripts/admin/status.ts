// `npm run admin -- status --url URL`: what is stuck right now, in one answer for an incident. Runs
// and queues past their bound, moves under way, deliveries being retried or given up, and each
// shard's migration, read through the admin API (every shard; the gateway's own migration check).

import type { List, Row } from "./queries.ts";
import type { Admin } from "./targets.ts";

/** Rows shown of each list: the newest; each section says when there are more. */
export const STATUS_ROWS = 10;

export interface StatusAnswer extends Row {
  object: "gateway.status";
  /** Responses created before this (unix seconds) and still queued or in_progress are listed. */
  created_before: number;
  shards: List<Row>;
  in_progress: List<Row>;
  queued: List<Row>;
  pending_deliveries: List<Row>;
  failed_deliveries: List<Row>;
}

/**
 * Each part asked of the admin API in turn (a handful of calls). Without `createdBefore`, a run is
 * stuck past the deployment's own bound: its MAX_RUN_SECONDS and the sweep's margin (GET /admin/configuration).
 */
export async function status(admin: Admin, createdBefore: number | null): Promise<StatusAnswer> {
  if (createdBefore === null) {
    const stuckAfter = Number((await admin.showConfiguration()).stuck_after_seconds);
    createdBefore = Math.floor(Date.now() / 1000) - stuckAfter;
  }
  const stuck = (state: string) =>
    admin.listResponses(null, {
      limit: STATUS_ROWS,
      order: "desc",
      after: null,
      status: state,
      createdBefore,
      metadata: [],
    });
  const deliveries = (state: string) => admin.listAllDeliveries({ status: state, limit: STATUS_ROWS, after: null });
  return {
    object: "gateway.status",
    created_before: createdBefore,
    shards: await admin.listShards(),
    in_progress: await stuck("in_progress"),
    queued: await stuck("queued"),
    pending_deliveries: await deliveries("pending"),
    failed_deliveries: await deliveries("failed"),
  };
}
