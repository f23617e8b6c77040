// Issue 12's targets (stored responses at the speed and price of a pass-through) judged on a run, with the
// "before" beside them: the `--before` gateway of the same run when it ran, else the recorded bench/before.json.
// Used by bench/report.ts; bench/comparison.ts judges the earlier benchmark targets.

import { d1RowsWrittenInAll } from "#bench/cost";
import { findCell, ratio, type CellResult } from "#bench/figures";
import { dollars, int, num, table } from "#bench/format";
import type { Results } from "#bench/report";
import type { TargetName } from "#bench/scenarios";

/** The roles a target plays in the judgements; the "before" view fills the stored ones from the old build. */
type Role = "store:false" | "stored" | "background" | "portkey" | "portkey-workerd" | "direct";

interface View {
  /** Where the figures come from, for the table's header. */
  source: string;
  cell(scenario: string, role: Role): CellResult | undefined;
}

const NOW: Record<Role, TargetName> = {
  "store:false": "gateway",
  stored: "gateway-stored",
  background: "gateway-background",
  portkey: "portkey",
  "portkey-workerd": "portkey-workerd",
  direct: "direct",
};
/** The same run's `--before` build; store:false, Portkey and direct are this run's own. */
const SAME_RUN_BEFORE: Record<Role, TargetName> = {
  ...NOW,
  stored: "gateway-before",
  background: "gateway-before-background",
};

const view = (cells: CellResult[], roles: Record<Role, TargetName>, source: string): View => ({
  source,
  cell: (scenario, role) => findCell(cells, scenario, roles[role]),
});

/** The "before" to show: this run's `--before` targets, else a recorded run (bench/before.json). */
export function beforeView(results: Results, recorded: Results | undefined): View | undefined {
  if (results.cells.some((c) => c.target === "gateway-before" && c.status === "ok"))
    return view(results.cells, SAME_RUN_BEFORE, `this run's --before gateway (${results.environment.beforeCommit})`);
  if (recorded !== undefined)
    return view(
      recorded.cells,
      NOW,
      `bench/before.json (${recorded.date.slice(0, 10)}, gateway ${recorded.environment.gatewaySource ?? recorded.environment.gatewayCommit.split(" ")[0]})`,
    );
  return undefined;
}

interface Judged {
  text: string;
  met: boolean | undefined;
}

interface Target {
  goal: string;
  judge(v: View): Judged;
}

/** Bytes the issue measured per stored 100-event response on main (484ef69), after a WAL checkpoint. */
const ISSUE_D1_BYTES = 29_901;

const costTarget = (role: Role, events: number, limit: number): Target => ({
  goal: `${role === "stored" ? "stored foreground" : "background"}, 10 s stream of ${int(events)} events: ≤ $${limit} per million responses`,
  judge(v) {
    const cell = v.cell(`stream10s-e${events}`, role);
    const cost = cell?.cost?.price.total;
    const stream = cell?.totalMs?.p50;
    return {
      text: `${dollars(cost)} (stream p50 ${num(stream === undefined ? undefined : stream / 1000, 1)} s)`,
      met: cost === undefined ? undefined : cost <= limit,
    };
  },
});

const TARGETS: Target[] = [
  {
    goal: "events/s, stored foreground, 100 events, concurrency 20: ≥ 0.9 × store:false, and above Portkey",
    judge(v) {
      const stored = v.cell("max-e100-c20", "stored")?.eventsPerSecond;
      const plain = v.cell("max-e100-c20", "store:false")?.eventsPerSecond;
      const portkey = v.cell("max-e100-c20", "portkey")?.eventsPerSecond;
      const onWorkerd = v.cell("max-e100-c20", "portkey-workerd")?.eventsPerSecond;
      const r = ratio(stored, plain);
      return {
        text: `${int(stored)} = ${num(r, 2)} × store:false (${int(plain)}); Portkey ${int(portkey)} (its Workers build in workerd: ${int(onWorkerd)})`,
        met: r === undefined || portkey === undefined ? undefined : r >= 0.9 && stored! > portkey,
      };
    },
  },
  {
    goal: "CPU per 100-event stored foreground response: ≤ 1.2 × store:false, and below Portkey",
    judge(v) {
      const stored = v.cell("max-e100-c20", "stored")?.cpu?.perResponseMs;
      const plain = v.cell("max-e100-c20", "store:false")?.cpu?.perResponseMs;
      const portkey = v.cell("max-e100-c20", "portkey")?.cpu?.perResponseMs;
      const onWorkerd = v.cell("max-e100-c20", "portkey-workerd")?.cpu?.perResponseMs;
      const r = ratio(stored, plain);
      return {
        text: `${num(stored, 2)} ms = ${num(r, 2)} × store:false (${num(plain, 2)} ms); Portkey ${num(portkey, 2)} ms (its Workers build in workerd: ${num(onWorkerd, 2)} ms)`,
        met: r === undefined || portkey === undefined ? undefined : r <= 1.2 && stored! < portkey,
      };
    },
  },
  {
    goal: "added time to first event, stored foreground, concurrency 1: ≤ store:false + 1 ms",
    judge(v) {
      const direct = v.cell("max-e100-c1", "direct")?.ttfeMs?.p50;
      const added = (role: Role) => {
        const p50 = v.cell("max-e100-c1", role)?.ttfeMs?.p50;
        return p50 === undefined || direct === undefined ? undefined : p50 - direct;
      };
      const stored = added("stored");
      const plain = added("store:false");
      return {
        text: `+${num(stored)} ms (store:false +${num(plain)} ms)`,
        met: stored === undefined || plain === undefined ? undefined : stored <= plain + 1,
      };
    },
  },
  costTarget("stored", 100, 10),
  costTarget("stored", 1000, 25),
  costTarget("background", 100, 40),
  costTarget("background", 1000, 80),
  {
    goal: `D1 bytes per stored 100-event response: ≤ 25% of ${int(ISSUE_D1_BYTES)} (${int(ISSUE_D1_BYTES / 4)})`,
    judge(v) {
      const bytes = v.cell("max-e100-c20", "stored")?.cost?.units.d1Bytes;
      const tenSeconds = v.cell("stream10s-e100", "stored")?.cost?.units.d1Bytes;
      return {
        text: `${int(bytes)} (10 s stream: ${int(tenSeconds)})`,
        met: bytes === undefined || !Number.isFinite(bytes) ? undefined : bytes <= ISSUE_D1_BYTES / 4,
      };
    },
  },
  {
    goal:
      "D1 rows written per stored response (retention delete included): constant in events " +
      "(1,000 events within 10% or 1 row of 100 events)",
    judge(v) {
      const rows = (scenario: string) => {
        const units = v.cell(scenario, "stored")?.cost?.units;
        return units === undefined ? undefined : d1RowsWrittenInAll(units);
      };
      const pairs = [
        [rows("max-e100-c20"), rows("max-e1000-c20")],
        [rows("stream10s-e100"), rows("stream10s-e1000")],
      ] as const;
      const judged = pairs.filter(([a, b]) => a !== undefined && b !== undefined) as unknown as [number, number][];
      return {
        text: `${num(pairs[0][0], 1)} → ${num(pairs[0][1], 1)} (max speed, 100 → 1,000 events); ${num(pairs[1][0], 1)} → ${num(pairs[1][1], 1)} (10 s streams)`,
        met: judged.length === 0 ? undefined : judged.every(([a, b]) => b <= Math.max(a * 1.1, a + 1)),
      };
    },
  },
];

const verdict = (met: boolean | undefined): string => (met === undefined ? "not measured" : met ? "met" : "**missed**");

/** RESULTS.md's table of issue 12's targets: the before, this run, and this run's verdict. */
export function storageTargetsSection(results: Results, recordedBefore: Results | undefined): string {
  const now = view(results.cells, NOW, "this run");
  const before = beforeView(results, recordedBefore);
  const rows = TARGETS.map((target) => {
    const judged = target.judge(now);
    const old = before === undefined ? undefined : target.judge(before);
    return [
      target.goal,
      old === undefined ? "–" : `${old.text} (${verdict(old.met)})`,
      judged.text,
      verdict(judged.met),
    ];
  });
  return [
    "## Issue 12 targets: stored responses at the speed and price of a pass-through",
    "",
    `Speed figures are same-run ratios; costs are the meter's ("Cost per response" below). Before: ${
      before?.source ?? "none (run with --before=<ref>, or record one with --record-before)"
    }.`,
    "",
    table(["target", "before", "this run", "verdict"], rows),
    "",
  ].join("\n");
}
