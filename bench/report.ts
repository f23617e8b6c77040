// Writes a run's results: bench/results.json (everything, machine-readable) and bench/RESULTS.md (the
// environment, the summary per target, a table per scenario with ratios to direct, how it was measured).
// Used by bench/run.ts.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { beforeAfterSection, targetsSection } from "#bench/comparison";
import { costSections } from "#bench/cost-report";
import { storageTargetsSection } from "#bench/cost-targets";
import { findCell, type CellResult, type ReferenceCells, type TargetSummary } from "#bench/figures";
import { int, num, signed, table, times } from "#bench/format";
import type { Scenario, TargetName } from "#bench/scenarios";

export interface Environment {
  node: string;
  workerd: string;
  miniflare: string;
  wrangler: string;
  portkey: string;
  cores: number;
  cpuModel: string;
  memoryGb: number;
  kernel: string;
  gatewayCommit: string;
  /** The last commit that changed the gateway itself (src/, migrations/, wrangler.toml). */
  gatewaySource?: string;
  /** The commit of the `--before` gateway, when one ran. */
  beforeCommit?: string;
  /** Directory of the gateway's local D1 and Durable Object storage (tmpfs or disk). */
  storageDir?: string;
  /** The local D1 and rate limiter ran in a workerd process of its own (`--d1-apart`). */
  d1Apart?: boolean;
}

export interface StartupNote {
  phase: string;
  target: TargetName;
  ok: boolean;
  error?: string;
  /** Whether the official `openai` SDK's `responses.stream()` helper accepted this target's stream. */
  sdkCheck?: string;
}

export interface Results {
  date: string;
  mode: "full" | "quick";
  durationSeconds: number;
  interrupted: boolean;
  fatal?: string;
  environment: Environment;
  reference: ReferenceCells;
  startup: StartupNote[];
  scenarios: Scenario[];
  cells: CellResult[];
  summary: TargetSummary[];
  /** Requests the mock upstream served per path, and the last body a gateway sent it. */
  upstream: unknown;
}

const CORES = cpus().length;
/** Other processes using more than this share of the cores during a cell make its figures suspect. */
const NOISY_PERCENT = 15;

const LABEL: Record<TargetName, string> = {
  direct: "direct (mock)",
  "workerd-proxy": "workerd pass-through (floor)",
  "workerd-do-log": "workerd DO log per request (floor)",
  gateway: "gateway store:false",
  "gateway-stored": "gateway stored",
  "gateway-background": "gateway background",
  "gateway-before": "gateway before, stored",
  "gateway-before-background": "gateway before, background",
  portkey: "portkey (Node, npm)",
  "portkey-workerd": "portkey (Workers build, workerd)",
};

function summaryTable(results: Results): string {
  const directTtfe = findCell(results.cells, results.reference.ttfe, "direct")?.ttfeMs;
  const rows = results.summary.map((s) => [
    LABEL[s.target],
    s.target === "direct"
      ? `${num(directTtfe?.p50)} / ${num(directTtfe?.p99)} (itself)`
      : `${signed(s.ttfeAddedP50Ms)} / ${signed(s.ttfeAddedP99Ms)}`,
    `${int(s.saturatedEventsPerSecond)} (${times(s.saturatedRatio)})`,
    num(s.cpuPerResponseMs, 2),
    num(s.cpuPerEventUs, 1),
    times(s.totalCpuRatio),
    `${num(s.peakRssMb, 0)} (${times(s.peakRssRatio)})`,
    num(s.d1RowsPerResponse, 2),
    `${s.correct.ok}/${s.correct.requests}${s.correct.cellsFailed > 0 ? `, ${s.correct.cellsFailed} cells failed` : ""}`,
  ]);
  return table(
    [
      `target`,
      `added TTFE p50 / p99, ms (${results.reference.ttfe})`,
      "events/s at saturation (× direct)",
      "CPU ms per response",
      "CPU µs per event",
      `machine CPU per response × direct (${results.reference.cost})`,
      "peak RSS MB (× direct)",
      `D1 rows per response (${results.reference.cost})`,
      "correct responses",
    ],
    rows,
  );
}

/** Share of all cores that other processes used during the cell; flagged when it can skew the figures. */
/**
 * With `--d1-apart`: each gateway cell's CPU per response split into the Worker's process (what Cloudflare
 * bills as CPU) and the process simulating D1 and the rate limiter (which it does not), and their sum.
 */
function simulatorsTable(cells: CellResult[]): string[] | undefined {
  const apart = cells.filter((c) => c.simulatorsCpuPerResponseMs !== undefined && c.cpu !== undefined);
  if (apart.length === 0) return undefined;
  const rows = apart.map((c) => {
    const worker = c.cpu!.perResponseMs;
    const simulators = c.simulatorsCpuPerResponseMs!;
    return [c.scenario, LABEL[c.target], num(worker + simulators, 2), num(worker, 2), num(simulators, 2)];
  });
  return [
    "## CPU without the local simulators",
    "",
    "CPU per response (ms) of each gateway cell. **Worker's process**: the gateway's workerd process alone, the " +
      "Worker's own CPU as Cloudflare bills it, plus the local requests that reach the simulators (production's " +
      "bindings make such calls too). **Simulators**: the workerd process apart that answers D1 and the rate " +
      "limiter (SQLite, their objects, D1's JSON), which production runs elsewhere and does not bill as the " +
      "Worker's CPU. **All local work**: the two summed, the conservative figure; a run without `--d1-apart` " +
      "measures that in one process (with cheaper in-process hops), and issue 12's verdict is judged on it.",
    "",
    table(["cell", "target", "all local work", "Worker's process", "simulators"], rows),
  ];
}

function otherLoad(c: CellResult): string {
  if (!c.cpu || c.cpu.windowMs <= 0) return "–";
  const share = (100 * c.cpu.otherMs) / (c.cpu.windowMs * CORES);
  return `${num(share, 0)}%${share > NOISY_PERCENT ? " ⚠" : ""}`;
}

function scenarioTable(cells: CellResult[]): string {
  const direct = cells.find((c) => c.target === "direct" && c.status === "ok");
  const rows = cells.map((c) => {
    if (c.status === "failed") return [LABEL[c.target], `failed: ${c.error ?? "?"}`, "", "", "", "", "", "", ""];
    const ttfe = c.ttfeMs;
    const ratioOf = (a: number | undefined, b: number | undefined): string =>
      a !== undefined && b !== undefined && b > 0 ? times(a / b) : "–";
    const correctness = [
      `${c.ok}/${c.requests}`,
      c.stored ? `; GET ${c.stored.completed}/${c.stored.checked} completed` : "",
      c.failures.length > 0 ? `; ${c.failures[0]}` : "",
    ].join("");
    return [
      LABEL[c.target],
      ttfe ? `${num(ttfe.p50)} / ${num(ttfe.p99)}` : "–",
      c.target === "direct" || !ttfe || !direct?.ttfeMs
        ? "–"
        : `${signed(ttfe.p50 - direct.ttfeMs.p50)} / ${signed(ttfe.p99 - direct.ttfeMs.p99)}`,
      c.totalMs ? `${num(c.totalMs.p50)} / ${num(c.totalMs.p99)}` : "–",
      `${int(c.eventsPerSecond)} (${ratioOf(c.eventsPerSecond, direct?.eventsPerSecond)})`,
      c.cpu ? `${num(c.cpu.perResponseMs, 2)} / ${num(c.cpu.perEventUs, 1)}` : "–",
      c.cpu ? ratioOf(c.cpu.totalPerResponseMs, direct?.cpu?.totalPerResponseMs) : "–",
      `${num(c.peakRssMb, 0)}`,
      otherLoad(c),
      correctness,
    ];
  });
  return table(
    [
      "target",
      "TTFE p50 / p99 ms",
      "added vs direct",
      "total p50 / p99 ms",
      "events/s (× direct)",
      "server CPU ms/resp / µs/event",
      "machine CPU/resp × direct",
      "peak RSS MB",
      "other load",
      "ok / requests",
    ],
    rows,
  );
}

function storedTable(cells: CellResult[]): string {
  const stored = cells.filter((c) => c.stored !== undefined);
  if (stored.length === 0) return "No stored cell ran.";
  const tables = [...new Set(stored.flatMap((c) => Object.keys(c.stored!.d1RowsPerResponse)))].sort();
  return table(
    [
      "scenario",
      "target",
      "responses",
      "GET completed",
      "D1 rows/response",
      ...tables,
      "D1 bytes/response",
      "DO instances/response",
    ],
    stored.map((c) => [
      c.scenario,
      LABEL[c.target],
      String(c.ok),
      `${c.stored!.completed}/${c.stored!.checked}`,
      num(c.stored!.d1RowsPerResponseTotal, 2),
      ...tables.map((t) => num(c.stored!.d1RowsPerResponse[t], 2)),
      int(c.cost?.units.d1Bytes),
      num(c.stored!.durableObjectsPerResponse, 2),
    ]),
  );
}

const HOW_MEASURED = `## How measured

- **Targets, side by side, same mock upstream.** *direct*: the client hits the mock upstream
  (\`bench/mock-upstream.ts\`, a Node HTTP server serving pre-serialized SSE) with no gateway: the machine's limit.
  *gateway*: this repository's Worker bundled by \`wrangler deploy --dry-run\` and run by Miniflare's API in workerd,
  with a local D1 (temp dir, \`migrations/\` applied) and the SQLite-backed \`ResponseRun\` Durable Object; the client
  talks to the Worker's own socket (\`unsafeGetDirectURL\`), not through Miniflare's entry worker, and the Worker runs
  without its console's static assets (with them, Miniflare's assets proxy and router would sit in front). *store:false*
  and *stored* are the same instance with \`store:false\` / \`store:true\` in the request. *portkey*:
  \`@portkey-ai/gateway\` from npm on Node (\`NODE_ENV=production\`), routed to the mock with
  \`x-portkey-provider: openai\` + \`x-portkey-custom-host\`. *portkey (Workers build)*: the same Portkey version built
  for Workers as Portkey deploys it (\`bench/peers/portkey-workerd/\`, provenance in its README), run by Miniflare's
  API in workerd like the gateway, routed the same way: Portkey on the gateway's runtime. Portkey records nothing:
  it is a pure proxy here, so its figures are the cost of proxying only, and it has no stored column.
- **Cells run interleaved** (each scenario runs on every target before the next scenario), each after one short
  unmeasured request of the same kind, and each bounded in time: requests keep starting for at least the minimum
  (so a fast target still burns enough CPU ticks, 10 ms each, to measure) and none starts after the maximum.
- **Time to first event (TTFE)**: from sending the request to the first complete SSE \`data:\` frame, seen by the
  client (non-streaming: to the response headers). *Added* = target percentile − direct percentile in the same
  scenario. **Total**: to the end of the body. Percentiles are nearest-rank over successful requests.
- **Events/s**: SSE frames received by all streams ÷ wall time of the cell. *At saturation* = the highest over the
  max-speed cells.
- **CPU**: utime+stime from \`/proc/<pid>/stat\` before and after the cell (after waiting for the process to go
  quiet, so work done after the last byte, such as a final D1 flush, counts). Server = the workerd process(es)
  Miniflare spawned (found in the process tree), Portkey's Node process or its workerd process, or for direct the mock. *Per response* /
  *per event* in scenario tables: server CPU ÷ completed responses / ÷ events received. In the summary the split
  comes from a least-squares fit over the max-speed cells: CPU per response ≈ fixed part + per-event part × events.
  *Machine CPU* = server + mock upstream + this benchmark process (client), per completed response, over the same
  figure for direct: what putting the target in the path costs the whole machine.
- **Memory**: peak RSS of the server process(es) during the cell: VmHWM from \`/proc/<pid>/status\` after resetting
  it through \`/proc/<pid>/clear_refs\`, or else the peak of VmRSS sampled every 100 ms. For direct it is the mock
  upstream's, so "× direct" reads as "× a minimal Node HTTP server".
- **D1 rows per response**: \`count(*)\` of every D1 table (\`mf.getD1Database("DB")\`) before and after a stored
  cell, difference ÷ responses stored in it. This counts net new rows; updates of existing rows and rows deleted
  again are not visible (the cost meter's rows written are the billed ones). D1 bytes: the database's size
  (\`meta.size_after\`: page count × page size) before and after, ÷ responses. DO instances: the meter's count of
  Durable Object constructor runs.
- **Cost**: the cost meter (\`bench/meter-shim.ts\` in front of the bundle) counts the billable units of each cell,
  read with the gateway's objects idle before and after it; bench/README.md, "The cost meter", says what is counted
  and how it is priced.
- **Correctness**, for every request: HTTP 200; SSE sequence numbers contiguous from 0 and in order; first event
  \`response.created\`; exactly one terminal event, last, and it is \`response.completed\` with usage; the number of
  text deltas and the text length as sent by the mock; the text in \`response.completed\` equal to the deltas; the
  exact frame count where the stream should pass through unchanged (not for the chat translation). For stored
  cells every response id is read back with \`GET /v1/responses/{id}\` and must be \`completed\` with the whole text.
  Each target's stream is also fed once to the official \`openai\` SDK's \`responses.stream()\` helper.
- **Other load**: CPU the whole machine spent (first line of \`/proc/stat\`) minus the server, the mock and this
  process, as a share of all cores over the cell (kernel work for loopback traffic lands here too, so a few
  percent is normal). Before each cell the run waits, within a budget, until other processes use less than a
  fifth of a core; a cell marked ⚠ (over ${NOISY_PERCENT}%) still had company (another session's tests, a build),
  and its figures are noisier.
- **Caveats**: 2 cores shared by the client, the mock upstream and the target; everything on loopback (no network
  latency, no TLS); workerd runs JavaScript on one thread; Miniflare is a simulator (local D1 and Durable Objects
  are SQLite files on this disk), so absolute numbers are not Cloudflare's. Ratios between targets measured in the
  same run are the meaningful figures.`;

/** The recorded run that "before and after" compares with (see bench/README.md). */
const BASELINE = join(import.meta.dirname, "baseline.json");
/** The recorded "before" of issue 12's targets (`--record-before`), used when a run has no `--before` targets. */
export const RECORDED_BEFORE = join(import.meta.dirname, "before.json");

const readRun = (path: string): Results | undefined =>
  existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Results) : undefined;

/** Formatted as the repository's `prettier --check` expects (prettier is a root dev dependency). */
async function formatJson(value: unknown, path: string): Promise<string> {
  const json = `${JSON.stringify(value, null, 2)}\n`;
  try {
    const prettier = await import("prettier");
    return await prettier.format(json, { ...(await prettier.resolveConfig(path)), filepath: path });
  } catch {
    return json;
  }
}

/** The targets a recorded "before" keeps: the gateway's, and the references its ratios need. */
const RECORDED_TARGETS = new Set<TargetName>([
  "direct",
  "gateway",
  "gateway-stored",
  "gateway-background",
  "portkey",
  "portkey-workerd",
]);

/** Records this run as the "before" of issue 12's targets (bench/before.json): its cells without the floors. */
export async function recordBefore(results: Results): Promise<void> {
  const kept: Results = {
    ...results,
    cells: results.cells.filter((c) => RECORDED_TARGETS.has(c.target)),
    summary: results.summary.filter((s) => RECORDED_TARGETS.has(s.target)),
    upstream: undefined,
  };
  writeFileSync(RECORDED_BEFORE, await formatJson(kept, RECORDED_BEFORE));
}

export async function writeReport(results: Results, dir: string): Promise<void> {
  const jsonPath = join(dir, "results.json");
  writeFileSync(jsonPath, await formatJson(results, jsonPath));
  const env = results.environment;
  const lines: string[] = [
    "# Benchmark results",
    "",
    `Written by \`npm run bench${results.mode === "quick" ? " -- --quick" : ""}\` (bench/run.ts); see bench/README.md. Machine-readable: bench/results.json.`,
    "",
    `- Date: ${results.date} (${results.mode} run, ${Math.round(results.durationSeconds)} s${results.interrupted ? ", **interrupted**" : ""})`,
    `- Gateway: ${env.gatewayCommit}${env.gatewaySource === undefined ? "" : ` (its src/, migrations/ and wrangler.toml as of ${env.gatewaySource})`}`,
    ...(env.beforeCommit === undefined ? [] : [`- Gateway before (\`--before\`): ${env.beforeCommit}`]),
    `- Node ${env.node}; workerd ${env.workerd}; Miniflare ${env.miniflare}; wrangler ${env.wrangler}; Portkey gateway ${env.portkey}`,
    `- ${env.cores} cores, ${env.cpuModel}, ${env.memoryGb} GB RAM, Linux ${env.kernel}`,
    `- Gateway storage (local D1 and Durable Objects) in ${env.storageDir ?? "the OS temp dir (disk)"}`,
    env.d1Apart === true
      ? '- **Local D1 and rate limiter in a workerd process of their own** (`--d1-apart`, bench/d1-apart.ts), as production runs them apart from the Worker: the gateway\'s CPU figures exclude them ("CPU without the local simulators" below)'
      : "- Local D1 and rate limiter simulated in the gateway's workerd process: the gateway's CPU figures include them (`--d1-apart` runs them apart)",
    "",
  ];
  if (results.fatal) lines.push(`**The run stopped early:** ${results.fatal}`, "");
  const failedStarts = results.startup.filter((s) => !s.ok || (s.sdkCheck !== undefined && s.sdkCheck !== "ok"));
  lines.push("## Summary", "", summaryTable(results), "");
  const apart = simulatorsTable(results.cells);
  if (apart !== undefined) lines.push(...apart, "");
  lines.push(
    "Added TTFE is against direct in the unloaded reference cell; events/s, CPU and memory are explained under " +
      '"How measured". A dash means the target produced no figure (it failed or does not apply).',
    "",
  );
  lines.push(
    storageTargetsSection(results, readRun(RECORDED_BEFORE)),
    costSections(results.scenarios, results.cells, LABEL),
    targetsSection(results),
    beforeAfterSection(results, readRun(BASELINE)),
  );
  lines.push("## Targets started", "");
  lines.push(
    table(
      ["phase", "target", "started", "openai SDK `responses.stream()`"],
      results.startup.map((s) => [s.phase, LABEL[s.target], s.ok ? "yes" : `no: ${s.error ?? "?"}`, s.sdkCheck ?? "–"]),
    ),
    "",
  );
  if (failedStarts.length > 0) lines.push("Failures are recorded, not fatal: the other targets ran.", "");
  for (const scenario of results.scenarios) {
    const cells = results.cells.filter((c) => c.scenario === scenario.id);
    if (cells.length === 0) continue;
    const k = scenario.knobs;
    lines.push(
      `## ${scenario.title}`,
      "",
      `\`${scenario.id}\`: ${scenario.stream ? "stream:true" : "stream:false"}, ${k.events} deltas of ${k.size} characters` +
        `${k.pace > 0 ? `, ${k.pace} ms apart` : ", back to back"}${k.ttft > 0 ? `, first byte after ${k.ttft} ms` : ""}` +
        `; ${scenario.concurrency} concurrent; ${scenario.minSeconds > 0 ? `requests for ${scenario.minSeconds} to ${scenario.maxSeconds} s` : `${scenario.requests} requests (at most ${scenario.maxSeconds} s)`}` +
        `${scenario.protocol === "chat_completions" ? "; upstream speaks Chat Completions (direct and portkey call /chat/completions; the gateway translates to Responses)" : ""}.`,
      "",
      scenarioTable(cells),
      "",
    );
  }
  lines.push("## Storage per stored response", "", storedTable(results.cells), "", HOW_MEASURED, "");
  writeFileSync(join(dir, "RESULTS.md"), lines.join("\n"));
}
