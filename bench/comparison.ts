// Two judgements RESULTS.md makes of a run: the earlier benchmark issue's targets (met or missed, with the
// figures), and before/after against a recorded baseline run (bench/baseline.json). Issue 12's targets are
// judged by bench/cost-targets.ts. Used by bench/report.ts.

import { findCell, ratio, type CellResult } from "#bench/figures";
import { int, num as fmt, table } from "#bench/format";
import type { Results } from "#bench/report";
import type { TargetName } from "#bench/scenarios";

const finder =
  ({ cells }: Results) =>
  (scenario: string, target: TargetName): CellResult | undefined =>
    findCell(cells, scenario, target);

const verdict = (met: boolean | undefined): string => (met === undefined ? "not measured" : met ? "met" : "**missed**");

/** The targets of the earlier benchmark issue, each judged on this run's figures. */
export function targetsSection(results: Results): string {
  const find = finder(results);
  const eventsPerSecond = (scenario: string, target: TargetName) => find(scenario, target)?.eventsPerSecond;
  const direct100 = eventsPerSecond("max-e100-c20", "direct");
  const stored100 = eventsPerSecond("max-e100-c20", "gateway-stored");
  const portkey100 = eventsPerSecond("max-e100-c20", "portkey");
  const floor100 = eventsPerSecond("max-e100-c20", "workerd-proxy");
  const logFloor100 = eventsPerSecond("max-e100-c20", "workerd-do-log");
  const storedRatio = ratio(stored100, direct100);
  const throughputMet =
    storedRatio === undefined || portkey100 === undefined ? undefined : storedRatio >= 0.5 && stored100! > portkey100;

  const addedTtfe = (target: TargetName): number | undefined => {
    const mine = find("max-e100-c1", target)?.ttfeMs?.p50;
    const direct = find("max-e100-c1", "direct")?.ttfeMs?.p50;
    return mine === undefined || direct === undefined ? undefined : mine - direct;
  };
  const ttfeFalse = addedTtfe("gateway");
  const ttfeStored = addedTtfe("gateway-stored");
  const ttfeFloor = addedTtfe("workerd-proxy");
  const ttfeLogFloor = addedTtfe("workerd-do-log");

  const rowsPer = (scenario: string) => find(scenario, "gateway-stored")?.stored?.d1RowsPerResponseTotal;
  const rows10 = rowsPer("max-e10-c20");
  const rows100 = rowsPer("max-e100-c20");
  const rows1000 = rowsPer("max-e1000-c20");
  const rowsMet = rows1000 === undefined ? undefined : rows1000 <= 10;

  const cpuStored = find("max-e100-c20", "gateway-stored")?.cpu?.perResponseMs;
  const cpuFalse = find("max-e100-c20", "gateway")?.cpu?.perResponseMs;
  const cpuPortkey = find("max-e100-c20", "portkey")?.cpu?.perResponseMs;
  const cpuFloor = find("max-e100-c20", "workerd-proxy")?.cpu?.perResponseMs;
  const cpuLogFloor = find("max-e100-c20", "workerd-do-log")?.cpu?.perResponseMs;
  const cpuMet = cpuStored === undefined || cpuPortkey === undefined ? undefined : cpuStored < cpuPortkey;

  return [
    "## Earlier benchmark targets",
    "",
    "Judged on this run. Why a missed target is missed, and what would close it: bench/README.md, " +
      '"Where the gateway falls short".',
    "",
    table(
      ["target", "this run", "verdict"],
      [
        [
          "stored streaming, 100 events, concurrency 20: events/s ≥ 0.5 × direct and above Portkey",
          `${int(stored100)} ev/s = ${fmt(storedRatio, 3)} × direct (${int(direct100)}); Portkey ${int(portkey100)}; ` +
            `floors: workerd pass-through ${int(floor100)} = ${fmt(ratio(floor100, direct100), 2)} × direct, ` +
            `DO log per request ${int(logFloor100)} = ${fmt(ratio(logFloor100, direct100), 2)} × direct`,
          verdict(throughputMet),
        ],
        [
          "added time to first event, concurrency 1: ≤ 2 ms p50",
          `store:false +${fmt(ttfeFalse)} ms, stored +${fmt(ttfeStored)} ms (max-e100-c1); ` +
            `floors: workerd pass-through +${fmt(ttfeFloor)} ms, DO log per request +${fmt(ttfeLogFloor)} ms`,
          `store:false ${verdict(ttfeFalse === undefined ? undefined : ttfeFalse <= 2)}, ` +
            `stored ${verdict(ttfeStored === undefined ? undefined : ttfeStored <= 2)}`,
        ],
        [
          "D1 rows per stored response: constant in events, ≤ 10 at 1,000 events",
          `${fmt(rows10, 2)} (10 events), ${fmt(rows100, 2)} (100), ${fmt(rows1000, 2)} (1,000)`,
          verdict(rowsMet),
        ],
        [
          "gateway CPU per 100-event stored response below Portkey's",
          `stored ${fmt(cpuStored, 2)} ms, store:false ${fmt(cpuFalse, 2)} ms, Portkey ${fmt(cpuPortkey, 2)} ms, ` +
            `floors: workerd pass-through ${fmt(cpuFloor, 2)} ms, DO log per request ${fmt(cpuLogFloor, 2)} ms ` +
            "(max-e100-c20, server process CPU per response)",
          verdict(cpuMet),
        ],
      ],
    ),
    "",
  ].join("\n");
}

interface Figure {
  label: string;
  scenario: string;
  read: (cell: CellResult, direct: CellResult | undefined) => number | undefined;
  digits: number;
  /** Whether direct has this figure too (a difference to direct, or D1 rows, it has not). */
  direct: boolean;
  /** Only stored responses have it. */
  storedOnly?: boolean;
}

const FIGURES: Figure[] = [
  {
    label: "added TTFE p50, ms",
    scenario: "max-e100-c1",
    read: (c, d) => (c.ttfeMs && d?.ttfeMs ? c.ttfeMs.p50 - d.ttfeMs.p50 : undefined),
    digits: 1,
    direct: false,
  },
  { label: "events/s", scenario: "max-e100-c20", read: (c) => c.eventsPerSecond, digits: 0, direct: true },
  { label: "events/s", scenario: "max-e1000-c20", read: (c) => c.eventsPerSecond, digits: 0, direct: true },
  {
    label: "server CPU ms per response",
    scenario: "max-e100-c20",
    read: (c) => c.cpu?.perResponseMs,
    digits: 2,
    direct: true,
  },
  {
    label: "server CPU µs per event",
    scenario: "max-e1000-c20",
    read: (c) => c.cpu?.perEventUs,
    digits: 1,
    direct: true,
  },
  {
    label: "D1 rows per response",
    scenario: "max-e1000-c20",
    read: (c) => c.stored?.d1RowsPerResponseTotal,
    digits: 2,
    direct: false,
    storedOnly: true,
  },
];

/** The gateway's key figures in a baseline run and in this one, side by side. */
export function beforeAfterSection(results: Results, baseline: Results | undefined): string {
  if (baseline === undefined) return "";
  const now = finder(results);
  const then = finder(baseline);
  const show = (figure: Figure, cell: CellResult | undefined, direct: CellResult | undefined) => {
    const value = cell && figure.read(cell, direct);
    return figure.digits === 0 ? int(value) : fmt(value, figure.digits);
  };
  const rows: string[][] = [];
  for (const target of ["gateway", "gateway-stored"] as const) {
    for (const figure of FIGURES) {
      if (figure.storedOnly && target === "gateway") continue;
      const before = then(figure.scenario, target);
      const after = now(figure.scenario, target);
      if (!before && !after) continue;
      const directBefore = then(figure.scenario, "direct");
      const directAfter = now(figure.scenario, "direct");
      rows.push([
        target === "gateway" ? "gateway store:false" : "gateway stored",
        `${figure.label} (${figure.scenario})`,
        show(figure, before, directBefore),
        show(figure, after, directAfter),
        figure.direct ? `${show(figure, directBefore, undefined)} → ${show(figure, directAfter, undefined)}` : "–",
      ]);
    }
  }
  return [
    "## Before and after optimisation",
    "",
    `Before: the run recorded in bench/baseline.json (${baseline.date}, gateway ${baseline.environment.gatewayCommit}), ` +
      `same machine and harness; gateway storage then in ${baseline.environment.storageDir ?? "the OS temp dir (disk)"}, ` +
      `now in ${results.environment.storageDir ?? "the OS temp dir (disk)"}. The changes in between are listed in bench/README.md. Direct's figure of each run ` +
      "is given so that a difference in the machine's state can be told from a difference in the gateway.",
    "",
    table(["target", "figure (scenario)", "before", "after", "direct before → after"], rows),
    "",
  ].join("\n");
}
