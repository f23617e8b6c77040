// What a response costs: the billable units the meter counted in a cell (bench/meter-shim.ts, read around the
// cell by bench/run.ts) divided per response, and their price in dollars per million responses at
// Cloudflare's list prices (bench/prices.ts), 30 days of retention included. Pure functions; used by
// bench/run.ts, bench/report.ts and bench/comparison.ts.

import type { MeterSnapshot } from "#bench/meter-shim";
import { BYTES_PER_GB, DO_BILLED_GB, MONTH_SECONDS, PRICES, RETENTION_MONTHS, type PriceId } from "#bench/prices";

/** Billable units per response (averages over a cell's responses). */
export interface CostUnits {
  responses: number;
  workerRequests: number;
  /** Server CPU per response: the whole workerd process, so an upper bound of the Worker's own CPU. */
  workerCpuMs: number;
  doFetches: number;
  doRpcCalls: number;
  doAlarms: number;
  /** Durable Objects instantiated (constructor runs). */
  doInstances: number;
  doActiveSeconds: number;
  doRowsRead: number;
  /** SQLite rows written by statements. */
  doSqlRowsWritten: number;
  /** `setAlarm()` calls, each billed as a row written. */
  doAlarmWrites: number;
  /**
   * Rows `deleteAll()` removed, counted before it ran. Not priced: workerd's SQLite storage drops the whole
   * database file for it (no DELETE statements run, and no rows are reported), so it is shown, not billed.
   */
  doDeletedRows: number;
  doKvRowsRead: number;
  doKvRowsWritten: number;
  /** Durable Object storage held during the cell (GB-months), and bytes still held after it. */
  doStorageGbMonths: number;
  doBytesLeft: number;
  d1RowsRead: number;
  d1RowsWritten: number;
  /** Growth of the D1 database over the cell. */
  d1Bytes: number;
  /** The retention sweep that deletes the response after RETENTION_DAYS, per response it deleted. */
  sweep?: { d1RowsRead: number; d1RowsWritten: number; responses: number };
}

/** What a cell's meter readings say per response. */
export function unitsPerResponse(
  before: MeterSnapshot,
  after: MeterSnapshot,
  extra: { responses: number; cpuMs: number; d1BytesBefore?: number; d1BytesAfter?: number },
): CostUnits | undefined {
  const n = extra.responses;
  if (n <= 0) return undefined;
  const a = before.durableObjects;
  const b = after.durableObjects;
  const per = (x: number, y: number) => (y - x) / n;
  const storageByteSeconds = (b.storageByteMs - a.storageByteMs) / 1000;
  // A runtime whose D1 binding the meter could not hook reports no rows: unknown, not zero.
  const d1 = after.d1.metered ? 1 : Number.NaN;
  return {
    responses: n,
    workerRequests: per(before.worker.requests, after.worker.requests),
    workerCpuMs: extra.cpuMs / n,
    doFetches: per(a.fetches, b.fetches),
    doRpcCalls: per(a.rpcCalls, b.rpcCalls),
    doAlarms: per(a.alarms, b.alarms),
    doInstances: per(a.constructions, b.constructions),
    doActiveSeconds: per(a.activeMs, b.activeMs) / 1000,
    doRowsRead: per(a.sqlRowsRead, b.sqlRowsRead),
    doSqlRowsWritten: per(a.sqlRowsWritten, b.sqlRowsWritten),
    doAlarmWrites: per(a.setAlarms, b.setAlarms),
    doDeletedRows: per(a.deleteAllRows, b.deleteAllRows),
    doKvRowsRead: per(a.kvRowsRead, b.kvRowsRead),
    doKvRowsWritten: per(a.kvRowsWritten, b.kvRowsWritten),
    doStorageGbMonths: storageByteSeconds / n / BYTES_PER_GB / MONTH_SECONDS,
    doBytesLeft: per(a.storageBytes, b.storageBytes),
    d1RowsRead: d1 * per(before.d1.rowsRead, after.d1.rowsRead),
    d1RowsWritten: d1 * per(before.d1.rowsWritten, after.d1.rowsWritten),
    d1Bytes:
      extra.d1BytesBefore === undefined || extra.d1BytesAfter === undefined
        ? Number.NaN
        : (extra.d1BytesAfter - extra.d1BytesBefore) / n,
  };
}

export const doRequests = (u: CostUnits): number => u.doFetches + u.doRpcCalls + u.doAlarms;
/** Rows written as billed: SQLite statements, key-value writes and deletes, and one per `setAlarm()`. */
export const doRowsWritten = (u: CostUnits): number => u.doSqlRowsWritten + u.doAlarmWrites + u.doKvRowsWritten;
/** D1 rows written for a response over its life: its own writes and its deletion by the retention sweep. */
export const d1RowsWrittenInAll = (u: CostUnits): number => u.d1RowsWritten + (u.sweep?.d1RowsWritten ?? 0);

export interface CostLine {
  price: PriceId;
  /** What this line is for, when a price has more than one line. */
  what: string;
  /** Quantity per response, in the price's unit. */
  quantity: number;
  dollarsPerMillion: number;
}

export interface Cost {
  lines: CostLine[];
  /** Dollars per million responses. */
  total: number;
}

/** Dollars per million responses, a line per unit, at the marginal list price. */
export function priceOf(u: CostUnits): Cost {
  const line = (price: PriceId, what: string, quantity: number): CostLine => {
    const p = PRICES[price];
    const q = Number.isFinite(quantity) ? Math.max(0, quantity) : 0;
    return { price, what, quantity: q, dollarsPerMillion: (q * p.dollars * 1e6) / p.per };
  };
  const lines = [
    line("workerRequests", "requests to the Worker", u.workerRequests),
    line("workerCpu", "CPU of the workerd process (upper bound)", u.workerCpuMs),
    line("doRequests", "fetches, RPC calls and alarms", doRequests(u)),
    line("doDuration", "active wall-clock × 0.128 GB", u.doActiveSeconds * DO_BILLED_GB),
    line("doRowsRead", "SQLite and key-value reads", u.doRowsRead + u.doKvRowsRead),
    line("doRowsWritten", "SQLite and key-value writes, setAlarm()", doRowsWritten(u)),
    line(
      "doStorage",
      "held during the run, and 30 days of what is left",
      u.doStorageGbMonths + (u.doBytesLeft / BYTES_PER_GB) * RETENTION_MONTHS,
    ),
    line("d1RowsRead", "queries while the response runs", u.d1RowsRead),
    line("d1RowsRead", "the retention sweep", u.sweep?.d1RowsRead ?? 0),
    line("d1RowsWritten", "the response's writes", u.d1RowsWritten),
    line("d1RowsWritten", "its deletion by the retention sweep", u.sweep?.d1RowsWritten ?? 0),
    line("d1Storage", "30 days of the bytes it added", (u.d1Bytes / BYTES_PER_GB) * RETENTION_MONTHS),
  ];
  return { lines, total: lines.reduce((sum, l) => sum + l.dollarsPerMillion, 0) };
}
