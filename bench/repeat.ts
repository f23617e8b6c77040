// Judges issue 12's three speed targets on repeated, interleaved cells, where one full run cannot: its
// single ~5 s cell per target drifts with the machine (two full runs of the same create path gave the
// stored response 1.24× and 1.57× store:false's CPU). One gateway, N rounds; each round runs a store:false
// and a stored cell (their order alternating) of 100-event streams at concurrency 20 (workerd CPU per
// response, events/s) and at concurrency 1 (time to first event, p50), then empties D1 (as a full run does
// after each cell); at the end it reports every round's ratios, their median and range, and the verdicts.
// The mock runs in this process, beside the client. Not part of `npm run bench`:
//   node bench/repeat.ts [--rounds=7] [--seconds=5] [--d1-apart] [--out=bench/repeat/RESULTS.md]

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startGatewayOnMock } from "#bench/gateway";
import { newAgent, runLoad, type LoadSpec } from "#bench/load-client";
import { cpuMs, settle } from "#bench/proc-stats";

const arg = (name: string, fallback: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;

const root = join(import.meta.dirname, "..");
const rounds = Number(arg("rounds", "7"));
const seconds = Number(arg("seconds", "5"));
const out = join(root, arg("out", "bench/repeat/RESULTS.md"));
const d1Apart = process.argv.includes("--d1-apart");
const EVENTS = 100;

const work = mkdtempSync(join(tmpdir(), "gw-repeat-"));
const { mock, gateway } = await startGatewayOnMock(work, { d1Apart });
const pids = [...gateway.pids, ...gateway.d1Pids];

const spec = (store: boolean, concurrency: number, cellSeconds: number): LoadSpec => ({
  baseUrl: gateway.baseUrl.replace(/\/$/, ""),
  path: "/responses",
  headers: { authorization: "Bearer bench-key", "content-type": "application/json" },
  body: JSON.stringify({ model: `bench:events=${EVENTS}`, input: "Say something.", stream: true, store }),
  mode: "responses-sse",
  expect: { deltas: EVENTS, size: 8 },
  concurrency,
  requests: 1_000_000,
  minSeconds: cellSeconds,
  maxSeconds: cellSeconds,
  rampMs: 0,
  timeoutMs: 60_000,
});

interface Cell {
  cpuMs: number;
  eventsPerSecond: number;
  ttfeP50: number;
}

/** One cell: the load, then the gateway's work after the last byte (its final writes) counted in. */
async function cell(store: boolean, concurrency: number, cellSeconds: number): Promise<Cell> {
  const before = cpuMs(pids);
  const load = await runLoad(spec(store, concurrency, cellSeconds), newAgent(concurrency));
  await settle(pids);
  const ok = load.results.filter((r) => r.ok);
  if (ok.length < load.results.length) throw new Error(`${load.results.length - ok.length} responses failed`);
  const events = ok.reduce((sum, r) => sum + r.events, 0);
  const ttfe = ok.map((r) => r.ttfeMs).sort((a, b) => a - b);
  return {
    cpuMs: (cpuMs(pids) - before) / ok.length,
    eventsPerSecond: events / (load.wallMs / 1000),
    ttfeP50: ttfe[Math.floor(ttfe.length / 2)] ?? Number.NaN,
  };
}

/** Deletes the round's stored responses, as `npm run bench` empties D1 after each cell: every round starts alike. */
async function emptyD1(): Promise<void> {
  const db = await gateway.d1("DB");
  await db.exec("DELETE FROM response_event_batches; DELETE FROM blobs; DELETE FROM responses;");
  await settle(pids);
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

interface Round {
  plain20: Cell;
  stored20: Cell;
  plain1: Cell;
  stored1: Cell;
}

const rows: Round[] = [];
try {
  // Warm-up (JIT, connection pools, D1's first pages): not measured.
  await cell(false, 20, 1);
  await cell(true, 20, 1);
  await emptyD1();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? [false, true] : [true, false];
    const c20 = new Map<boolean, Cell>();
    const c1 = new Map<boolean, Cell>();
    for (const store of order) c20.set(store, await cell(store, 20, seconds));
    for (const store of order) c1.set(store, await cell(store, 1, Math.max(2, seconds / 2)));
    const row = { plain20: c20.get(false)!, stored20: c20.get(true)!, plain1: c1.get(false)!, stored1: c1.get(true)! };
    rows.push(row);
    await emptyD1();
    console.log(
      `round ${round + 1}: CPU ${row.stored20.cpuMs.toFixed(2)} / ${row.plain20.cpuMs.toFixed(2)} ms = ` +
        `${(row.stored20.cpuMs / row.plain20.cpuMs).toFixed(2)}×, events/s ` +
        `${(row.stored20.eventsPerSecond / row.plain20.eventsPerSecond).toFixed(2)}×, TTFE ` +
        `${row.stored1.ttfeP50.toFixed(1)} − ${row.plain1.ttfeP50.toFixed(1)} ms`,
    );
  }
} finally {
  await gateway.stop();
  await mock.close();
  rmSync(work, { recursive: true, force: true });
}

const cpuRatios = rows.map((r) => r.stored20.cpuMs / r.plain20.cpuMs);
const rateRatios = rows.map((r) => r.stored20.eventsPerSecond / r.plain20.eventsPerSecond);
const ttfeGaps = rows.map((r) => r.stored1.ttfeP50 - r.plain1.ttfeP50);
const range = (values: number[], digits: number, unit = "") =>
  `${median(values).toFixed(digits)}${unit} (${Math.min(...values).toFixed(digits)} to ${Math.max(...values).toFixed(digits)})`;
const verdict = (met: boolean) => (met ? "met" : "**missed**");
const commit = execFileSync("git", ["log", "-1", "--format=%h %s"], { cwd: root, encoding: "utf8" }).trim();

const report = `# Issue 12's speed targets on repeated cells

Written by \`node bench/repeat.ts\` (see its header): ${rows.length} rounds of ${seconds} s cells at concurrency 20 and
${Math.max(2, seconds / 2)} s cells at concurrency 1, store:false and stored interleaved in one gateway${d1Apart ? " (local D1 in its own process)" : " (local D1 in its process)"}.
${new Date().toISOString()}, gateway at ${commit}; CPU is the gateway's workerd process${d1Apart ? "es, D1's included" : ""} over each cell and its settling.

| target | median (range) over the rounds | goal | verdict |
| --- | --- | --- | --- |
| CPU per stored 100-event response, c20, × store:false | ${range(cpuRatios, 2, "×")} | ≤ 1.2× | ${verdict(median(cpuRatios) <= 1.2)} |
| events/s, stored, c20, × store:false | ${range(rateRatios, 2, "×")} | ≥ 0.9× | ${verdict(median(rateRatios) >= 0.9)} |
| TTFE p50, stored − store:false, c1 | ${range(ttfeGaps, 1, " ms")} | ≤ 1 ms | ${verdict(median(ttfeGaps) <= 1)} |

| round | CPU ms stored / store:false (c20) | events/s stored / store:false (c20) | TTFE p50 ms stored / store:false (c1) |
| --- | --- | --- | --- |
${rows
  .map(
    (r, i) =>
      `| ${i + 1} | ${r.stored20.cpuMs.toFixed(2)} / ${r.plain20.cpuMs.toFixed(2)} | ` +
      `${Math.round(r.stored20.eventsPerSecond)} / ${Math.round(r.plain20.eventsPerSecond)} | ` +
      `${r.stored1.ttfeP50.toFixed(1)} / ${r.plain1.ttfeP50.toFixed(1)} |`,
  )
  .join("\n")}
`;
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, report);
console.log(report);
process.exit(0);
