// The figures of a run: one CellResult per scenario × target, the summary per target, and ratios to
// the direct target (the mock hit with no gateway in between). Pure functions; used by bench/run.ts and
// bench/report.ts.

import type { Cost, CostUnits } from "#bench/cost";
import type { LoadResult, StoredCheck } from "#bench/load-client";
import type { StatementTally } from "#bench/metering";
import type { Scenario, TargetName } from "#bench/scenarios";

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface CpuFigures {
  /** CPU ms of the server process under test during the cell (direct: the mock upstream). */
  serverMs: number;
  /** CPU ms of the mock upstream process during the cell. */
  upstreamMs: number;
  /** CPU ms of the benchmark process itself (load client, Miniflare's Node side). */
  clientMs: number;
  /** serverMs per completed response. */
  perResponseMs: number;
  /** serverMs per event received, in µs. */
  perEventUs: number;
  /** Everything on the machine (server + upstream + client) per completed response. */
  totalPerResponseMs: number;
  /** CPU ms spent by processes outside this run during the cell (other work on the machine: noise). */
  otherMs: number;
  /** The span these readings cover: the load, then the wait for the processes to go quiet. */
  windowMs: number;
}

export interface StoredFigures extends StoredCheck {
  /** New rows per table over the cell, divided by the responses stored in it. */
  d1RowsPerResponse: Record<string, number>;
  d1RowsPerResponseTotal: number;
  /** Durable Object instances per response (the meter's constructor runs). */
  durableObjectsPerResponse?: number;
}

/** What the cost meter counted in a cell, per response, and its price (bench/cost.ts). */
export interface CellCost {
  units: CostUnits;
  price: Cost;
  /**
   * Whether the gateway's Durable Objects were idle, with no alarm due, when the meter was read before and
   * after the load; if not, the cell's units may miss work still under way.
   */
  quiet: boolean;
  /** Per response, by kind of statement (`INSERT events`): D1's, and the Durable Objects' SQLite. */
  d1Statements: Record<string, StatementTally>;
  sqlStatements: Record<string, StatementTally>;
}

export interface CellResult {
  scenario: string;
  target: TargetName;
  status: "ok" | "failed";
  /** Why the cell could not run (start-up or first request failed). */
  error?: string;
  requests: number;
  ok: number;
  /** A few distinct failures of measured requests. */
  failures: string[];
  ttfeMs?: Percentiles;
  totalMs?: Percentiles;
  events: number;
  wallMs: number;
  eventsPerSecond: number;
  responsesPerSecond: number;
  cpu?: CpuFigures;
  /**
   * With `--d1-apart`: CPU per response of the process apart that simulates D1 and the rate limiter (not in
   * `cpu`, as production does not bill them as the Worker's CPU).
   */
  simulatorsCpuPerResponseMs?: number;
  /** How long the cell waited for other work on the machine to pass before it started. */
  quietWaitMs?: number;
  peakRssMb?: number;
  stored?: StoredFigures;
  cost?: CellCost;
}

/** Nearest-rank percentile of an ascending array. */
function rank(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function percentiles(values: number[]): Percentiles | undefined {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  return { p50: rank(sorted, 50), p90: rank(sorted, 90), p99: rank(sorted, 99), max: sorted[sorted.length - 1]! };
}

const MAX_FAILURES_LISTED = 5;

export function summarizeLoad(
  scenario: Scenario,
  target: TargetName,
  load: LoadResult,
): Omit<CellResult, "cpu" | "peakRssMb" | "stored" | "cost"> {
  const good = load.results.filter((r) => r.ok);
  const failures = [...new Set(load.results.filter((r) => !r.ok).map((r) => r.error ?? "failed"))];
  const events = load.results.reduce((sum, r) => sum + r.events, 0);
  const seconds = load.wallMs / 1000;
  const cell: Omit<CellResult, "cpu" | "peakRssMb" | "stored" | "cost"> = {
    scenario: scenario.id,
    target,
    status: "ok",
    requests: load.results.length,
    ok: good.length,
    failures: failures.slice(0, MAX_FAILURES_LISTED),
    events,
    wallMs: load.wallMs,
    eventsPerSecond: seconds > 0 ? events / seconds : 0,
    responsesPerSecond: seconds > 0 ? good.length / seconds : 0,
  };
  const ttfe = percentiles(good.map((r) => r.ttfeMs));
  const total = percentiles(good.map((r) => r.totalMs));
  if (ttfe) cell.ttfeMs = ttfe;
  if (total) cell.totalMs = total;
  return cell;
}

export function cpuFigures(
  serverMs: number,
  upstreamMs: number,
  clientMs: number,
  machineMs: number,
  windowMs: number,
  responses: number,
  events: number,
  /** CPU of the gateway's local D1 when it runs in a process of its own (`--d1-apart`): not the server's, the machine's. */
  d1Ms = 0,
): CpuFigures {
  return {
    serverMs,
    upstreamMs,
    clientMs,
    windowMs,
    otherMs: Math.max(0, machineMs - serverMs - upstreamMs - clientMs - d1Ms),
    perResponseMs: responses > 0 ? serverMs / responses : Number.NaN,
    perEventUs: events > 0 ? (serverMs * 1000) / events : Number.NaN,
    totalPerResponseMs: responses > 0 ? (serverMs + upstreamMs + clientMs + d1Ms) / responses : Number.NaN,
  };
}

/** Net new rows per table divided by the responses stored (updates to existing rows are not visible). */
export function d1Rows(
  before: Record<string, number>,
  after: Record<string, number>,
  responses: number,
): Pick<StoredFigures, "d1RowsPerResponse" | "d1RowsPerResponseTotal"> {
  const perTable: Record<string, number> = {};
  let total = 0;
  for (const [table, count] of Object.entries(after)) {
    const added = count - (before[table] ?? 0);
    if (added === 0) continue;
    perTable[table] = responses > 0 ? added / responses : Number.NaN;
    total += added;
  }
  return { d1RowsPerResponse: perTable, d1RowsPerResponseTotal: responses > 0 ? total / responses : Number.NaN };
}

/**
 * CPU cost split into a fixed part per response and a part per event, by least squares over the
 * max-speed cells: cpuPerResponse ≈ a + b × eventsPerResponse.
 */
export function cpuFit(
  points: { events: number; cpuPerResponseMs: number }[],
): { perResponseMs: number; perEventUs: number } | undefined {
  const usable = points.filter((p) => Number.isFinite(p.cpuPerResponseMs));
  if (new Set(usable.map((p) => p.events)).size < 2) return undefined;
  const n = usable.length;
  const mx = usable.reduce((s, p) => s + p.events, 0) / n;
  const my = usable.reduce((s, p) => s + p.cpuPerResponseMs, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of usable) {
    sxy += (p.events - mx) * (p.cpuPerResponseMs - my);
    sxx += (p.events - mx) ** 2;
  }
  const slope = sxy / sxx;
  return { perResponseMs: my - slope * mx, perEventUs: slope * 1000 };
}

export interface TargetSummary {
  target: TargetName;
  /** Added time to first event over direct, ms (p50 and p99 of the reference cell). */
  ttfeAddedP50Ms?: number;
  ttfeAddedP99Ms?: number;
  ttfeRatioP50?: number;
  /** Highest events/s over the max-speed cells, and the same for direct. */
  saturatedEventsPerSecond?: number;
  saturatedRatio?: number;
  /** CPU split from the max-speed cells (see cpuFit). */
  cpuPerResponseMs?: number;
  cpuPerEventUs?: number;
  /** Machine CPU per response over direct's, in the reference cell. */
  totalCpuRatio?: number;
  peakRssMb?: number;
  peakRssRatio?: number;
  d1RowsPerResponse?: number;
  correct: { ok: number; requests: number; cellsFailed: number };
}

/** a / b, when both are known and b is positive. */
export const ratio = (a: number | undefined, b: number | undefined): number | undefined =>
  a !== undefined && b !== undefined && b > 0 && Number.isFinite(a) ? a / b : undefined;

/** The cell of `target` in `scenario`, if it ran. */
export const findCell = (cells: CellResult[], scenario: string, target: TargetName): CellResult | undefined =>
  cells.find((c) => c.scenario === scenario && c.target === target && c.status === "ok");

/** One line per target: the figures the issue asks for, each against direct. */
export interface ReferenceCells {
  /** Cell whose time to first event is compared (an unloaded one shows the gateway's own latency). */
  ttfe: string;
  /** Cell whose machine CPU and D1 rows per response are reported. */
  cost: string;
}

export function summarize(cells: CellResult[], reference: ReferenceCells, targets: TargetName[]): TargetSummary[] {
  const find = (scenario: string, target: TargetName) => findCell(cells, scenario, target);
  const maxSpeed = (target: TargetName): CellResult[] =>
    cells.filter((c) => c.target === target && c.status === "ok" && c.scenario.startsWith("max-") && c.ok > 0);
  const saturated = (target: TargetName): number | undefined => {
    const rates = maxSpeed(target).map((c) => c.eventsPerSecond);
    return rates.length > 0 ? Math.max(...rates) : undefined;
  };
  const peakRss = (target: TargetName): number | undefined => {
    const peaks = cells.filter((c) => c.target === target && c.peakRssMb !== undefined).map((c) => c.peakRssMb!);
    return peaks.length > 0 ? Math.max(...peaks) : undefined;
  };
  const directTtfe = find(reference.ttfe, "direct")?.ttfeMs;
  const directCost = find(reference.cost, "direct");
  return targets.map((target) => {
    const mine = cells.filter((c) => c.target === target);
    const summary: TargetSummary = {
      target,
      correct: {
        ok: mine.reduce((s, c) => s + c.ok, 0),
        requests: mine.reduce((s, c) => s + c.requests, 0),
        cellsFailed: mine.filter((c) => c.status === "failed").length,
      },
    };
    const ttfe = find(reference.ttfe, target)?.ttfeMs;
    if (ttfe && directTtfe) {
      summary.ttfeAddedP50Ms = ttfe.p50 - directTtfe.p50;
      summary.ttfeAddedP99Ms = ttfe.p99 - directTtfe.p99;
      const r = ratio(ttfe.p50, directTtfe.p50);
      if (r !== undefined) summary.ttfeRatioP50 = r;
    }
    const cost = find(reference.cost, target);
    const sat = saturated(target);
    if (sat !== undefined) {
      summary.saturatedEventsPerSecond = sat;
      const r = ratio(sat, saturated("direct"));
      if (r !== undefined) summary.saturatedRatio = r;
    }
    const fit = cpuFit(
      maxSpeed(target)
        .filter((c) => c.cpu !== undefined)
        .map((c) => ({ events: c.events / Math.max(1, c.requests), cpuPerResponseMs: c.cpu!.perResponseMs })),
    );
    if (fit) {
      summary.cpuPerResponseMs = fit.perResponseMs;
      summary.cpuPerEventUs = fit.perEventUs;
    }
    const totalCpuRatio = ratio(cost?.cpu?.totalPerResponseMs, directCost?.cpu?.totalPerResponseMs);
    if (totalCpuRatio !== undefined) summary.totalCpuRatio = totalCpuRatio;
    const rss = peakRss(target);
    if (rss !== undefined) {
      summary.peakRssMb = rss;
      const r = ratio(rss, peakRss("direct"));
      if (r !== undefined) summary.peakRssRatio = r;
    }
    const rows = cost?.stored?.d1RowsPerResponseTotal;
    if (rows !== undefined && Number.isFinite(rows)) summary.d1RowsPerResponse = rows;
    return summary;
  });
}
