// Reading the cost meter around a cell: wait until the gateway's Durable Objects are idle and their due
// alarms have fired (so a cell's units are its own), the meter's per-statement tallies per response, and the
// cost of deleting a response by the retention sweep. Used by bench/run.ts.

import type { Gateway } from "#bench/gateway";
import type { MeterSnapshot } from "#bench/meter-shim";

/** Alarms due within this many ms are waited for; later ones (a run's watchdog) belong to no cell. */
const ALARM_HORIZON_MS = 5_000;
const POLL_MS = 100;

export interface Quiet {
  snapshot: MeterSnapshot;
  /** Whether every object went idle with no alarm due soon within the time allowed. */
  quiet: boolean;
}

/** Polls the meter until no object is busy and no alarm is due within the horizon, at most `maxMs`. */
export async function quiesce(gateway: Gateway, maxMs: number): Promise<Quiet> {
  const end = performance.now() + maxMs;
  for (;;) {
    const snapshot = await gateway.meter();
    const { busy, nextAlarmAt } = snapshot.durableObjects;
    const quiet = busy === 0 && (nextAlarmAt === null || nextAlarmAt > snapshot.at + ALARM_HORIZON_MS);
    if (quiet || performance.now() >= end) return { snapshot, quiet };
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export interface StatementTally {
  statements: number;
  rowsRead: number;
  rowsWritten: number;
}

/** Per response: what each kind of statement (`INSERT events`) read and wrote between two readings. */
export function statementsPerResponse(
  before: Record<string, StatementTally>,
  after: Record<string, StatementTally>,
  responses: number,
): Record<string, StatementTally> {
  const out: Record<string, StatementTally> = {};
  for (const [label, b] of Object.entries(after)) {
    const a = before[label] ?? { statements: 0, rowsRead: 0, rowsWritten: 0 };
    if (b.statements === a.statements && b.rowsRead === a.rowsRead && b.rowsWritten === a.rowsWritten) continue;
    out[label] = {
      statements: (b.statements - a.statements) / responses,
      rowsRead: (b.rowsRead - a.rowsRead) / responses,
      rowsWritten: (b.rowsWritten - a.rowsWritten) / responses,
    };
  }
  return out;
}

export interface SweepCost {
  /** Responses the sweep deleted (every stored response in D1: the cell's, its probe, any warm-up). */
  responses: number;
  d1RowsRead: number;
  d1RowsWritten: number;
}

const DAY_MS = 86_400_000;
/** Sweeps per cell at most (each deletes up to its own bound; a cell stores far fewer). */
const MAX_SWEEPS = 5;

/**
 * Runs the Worker's scheduled handler as if `retentionDays` + 1 days had passed, until no stored response is
 * left, and returns the D1 rows it read and wrote per response deleted: what retention costs each response.
 */
export async function sweepCost(gateway: Gateway, retentionDays: number): Promise<SweepCost | undefined> {
  if (!(retentionDays > 0)) return undefined;
  const first = (await gateway.tableCounts()).responses ?? 0;
  if (first === 0) return undefined;
  const before = await gateway.meter();
  // Half past the hour: the scheduled handler rolls usage up only in an hour's first minutes, and a roll-up
  // dated weeks ahead would set every tenant's mark past the ids of the cells still to come, so their ends
  // would each write a usage row that production never writes (it depended on the minute a run started).
  const at = new Date(Date.now() + (retentionDays + 1) * DAY_MS);
  at.setUTCMinutes(30, 0, 0);
  let left = first;
  for (let sweep = 0; sweep < MAX_SWEEPS && left > 0; sweep++) {
    await gateway.scheduled(at);
    const now = (await gateway.tableCounts()).responses ?? 0;
    if (now === left) break;
    left = now;
  }
  const after = await gateway.meter();
  const deleted = first - left;
  if (deleted <= 0) return undefined;
  return {
    responses: deleted,
    d1RowsRead: (after.d1.rowsRead - before.d1.rowsRead) / deleted,
    d1RowsWritten: (after.d1.rowsWritten - before.d1.rowsWritten) / deleted,
  };
}
