// RESULTS.md's cost sections: the units the meter counted per response beside each cell's speed, the price
// of a 10-second stream line by line, and the price table with its sources. Used by bench/report.ts.

import { d1RowsWrittenInAll, doRequests, doRowsWritten, type CostLine } from "#bench/cost";
import type { CellResult } from "#bench/figures";
import { dollars, int, num, table } from "#bench/format";
import { PRICES } from "#bench/prices";
import type { Scenario, TargetName } from "#bench/scenarios";

/** Small quantities (GB-months, GB-s) with enough digits to read. */
const quantity = (value: number): string =>
  value === 0 ? "0" : value >= 100 ? int(value) : value >= 0.01 ? value.toFixed(2) : value.toExponential(2);

/** Every cell the meter priced, with its speed: one row per scenario and target. */
export function costTable(cells: CellResult[], label: Record<TargetName, string>): string {
  const priced = cells.filter((c) => c.cost !== undefined);
  if (priced.length === 0) return "No cell was metered.";
  return table(
    [
      "scenario",
      "target",
      "stream p50 s",
      "events/s",
      "CPU ms",
      "Worker req",
      "DO req (fetch+RPC / alarm)",
      "DO active s",
      "DO rows read / written",
      "D1 rows read / written (+ deletion)",
      "D1 bytes",
      "DO bytes held at end",
      "$ / M responses",
    ],
    priced.map((c) => {
      const u = c.cost!.units;
      return [
        c.scenario,
        label[c.target],
        num((c.totalMs?.p50 ?? Number.NaN) / 1000, 2),
        int(c.eventsPerSecond),
        num(u.workerCpuMs, 1),
        num(u.workerRequests, 2),
        `${num(u.doFetches + u.doRpcCalls, 2)} / ${num(u.doAlarms, 2)}`,
        num(u.doActiveSeconds, 2),
        `${int(u.doRowsRead + u.doKvRowsRead)} / ${int(doRowsWritten(u))}`,
        `${num(u.d1RowsRead, 1)} / ${num(u.d1RowsWritten, 1)}${u.sweep ? ` (+ ${num(u.sweep.d1RowsWritten, 1)})` : ""}`,
        int(u.d1Bytes),
        int(u.doBytesLeft),
        `${dollars(c.cost!.price.total)}${c.cost!.quiet ? "" : " ⚠"}`,
      ];
    }),
  );
}

const lineLabel = (line: CostLine): string => `${PRICES[line.price].label}: ${line.what}`;

/** One scenario's price, line by line, a column per metered target. */
function linesTable(cells: CellResult[], label: Record<TargetName, string>): string {
  const priced = cells.filter((c) => c.cost !== undefined);
  const lines = priced[0]!.cost!.price.lines;
  const rows = lines.map((line, i) => [
    lineLabel(line),
    ...priced.map((c) => {
      const mine = c.cost!.price.lines[i]!;
      return `${dollars(mine.dollarsPerMillion)} (${quantity(mine.quantity)})`;
    }),
  ]);
  rows.push(["**total, $ per million responses**", ...priced.map((c) => `**${dollars(c.cost!.price.total)}**`)]);
  const extra = priced.map((c) => {
    const u = c.cost!.units;
    return `${label[c.target]}: ${num(u.doDeletedRows, 0)} rows removed by deleteAll() (not billed), ${num(u.doInstances, 2)} object instances, ${num(doRequests(u), 2)} DO requests, ${num(d1RowsWrittenInAll(u), 1)} D1 rows written in all`;
  });
  return [
    table(["unit (quantity per response)", ...priced.map((c) => label[c.target])], rows),
    "",
    extra.map((line) => `- ${line}`).join("\n"),
  ].join("\n");
}

/** RESULTS.md's cost sections. */
export function costSections(scenarios: Scenario[], cells: CellResult[], label: Record<TargetName, string>): string {
  const out = [
    "## Cost per response",
    "",
    "What Cloudflare would bill per response, as the cost meter counted it in each cell (bench/README.md, " +
      '"The cost meter"), priced at the Workers Paid list prices below in dollars per million responses, 30 days ' +
      "of D1 storage included. CPU is the gateway's whole workerd process (Worker, Durable Objects, and the local D1 " +
      "unless the header says it ran apart), so an upper bound of the Worker's own. The D1 deletion column is the retention sweep deleting the response after " +
      "30 days. ⚠: the gateway's objects were not idle when the meter was read, so work may be missing.",
    "",
    costTable(cells, label),
    "",
  ];
  for (const scenario of scenarios.filter((s) => s.group === "ten-second")) {
    const mine = cells.filter((c) => c.scenario === scenario.id && c.cost !== undefined);
    if (mine.length === 0) continue;
    out.push(`### ${scenario.title}: the price line by line`, "", linesTable(mine, label), "");
  }
  out.push(
    "### Prices",
    "",
    "Workers Paid plan list prices, at the marginal rate (beyond what the plan includes each month; usage within " +
      "the inclusions costs the plan's $5 a month and nothing per response). Durable Object duration bills 128 MB " +
      "(0.128 GB, as Cloudflare's examples compute it) for every second an object is active. Storage is priced " +
      "per GB-month; a response kept 30 days costs one GB-month per GB it adds.",
    "",
    table(
      ["unit", "price", "included per month", "source (read)"],
      Object.values(PRICES).map((p) => [
        `${p.label}${p.note === undefined ? "" : ` (${p.note})`}`,
        `$${p.dollars.toFixed(p.dollars < 0.01 ? 3 : 2)} per ${p.per === 1e6 ? "million " : ""}${p.per === 1 ? p.units.replace(/s$/, "") : p.units}`,
        p.included,
        `${p.source} (${p.read})`,
      ]),
    ),
    "",
  );
  return out.join("\n");
}
