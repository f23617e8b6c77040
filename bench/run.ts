// The benchmark: starts the mock upstream, this repository's gateway (Miniflare, with the cost meter) and
// Portkey, runs every scenario against each, stops everything (also on failure or Ctrl-C) and writes
// bench/RESULTS.md and bench/results.json. `npm run bench` from the repository root; `npm run bench -- --quick`
// for a short run; `--before=<git ref>` adds that commit's gateway as two more targets.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { firstJsonLine, spawnOwned, stopAll } from "#bench/children";
import { priceOf, unitsPerResponse } from "#bench/cost";
import { cpuFigures, d1Rows, summarize, summarizeLoad, type CellResult, type ReferenceCells } from "#bench/figures";
import type { Gateway } from "#bench/gateway";
import type { LoadSpec } from "#bench/load-client";
import { quiesce, statementsPerResponse, sweepCost } from "#bench/metering";
import { cpuMs, foreignLoad, machineBusyMs, MemorySampler, settle } from "#bench/proc-stats";
import { recordBefore, writeReport, type Environment, type Results, type StartupNote } from "#bench/report";
import {
  BEFORE_TARGETS,
  gatewayMode,
  isBefore,
  isFloor,
  modelFor,
  requestFor,
  runsOn,
  scenarios,
  TARGETS,
  type Protocol,
  type Scenario,
  type TargetName,
} from "#bench/scenarios";

/**
 * Where the gateway's local D1 and Durable Object SQLite files live. tmpfs when the machine has one: on this
 * VM's disk every Durable Object commit waits for an fsync, which measures the disk, not the gateway (Cloudflare
 * commits DO storage without a local fsync on the request path). BENCH_STORAGE_DIR=/tmp measures on disk.
 */
const STORAGE_DIR = process.env.BENCH_STORAGE_DIR ?? (existsSync("/dev/shm") ? "/dev/shm" : tmpdir());

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH);
const WORK = join(BENCH, ".work");
const API_KEY = "bench-key";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const onlyTargets = args
  .find((a) => a.startsWith("--targets="))
  ?.slice("--targets=".length)
  .split(",");
const onlyScenarios = args
  .find((a) => a.startsWith("--scenarios="))
  ?.slice("--scenarios=".length)
  .split(",");
/** A git ref whose gateway runs beside this checkout's, as `gateway-before` and `gateway-before-background`. */
const beforeRef = args.find((a) => a.startsWith("--before="))?.slice("--before=".length);
/** Records this run as the "before" of issue 12's targets (bench/before.json). */
const recordAsBefore = args.includes("--record-before");
/** Overrides the run's time limit (a busy machine may need longer to finish the matrix). */
const limitMinutes = Number(args.find((a) => a.startsWith("--minutes="))?.slice("--minutes=".length));
/** Runs each gateway's local D1 and rate limiter in a workerd process of its own (bench/d1-apart.ts), as production runs them apart. */
const d1Apart = args.includes("--d1-apart");
/** A partial run (filtered targets or scenarios) must not replace the recorded results; a D1-apart run has its own. */
const OUT = onlyTargets || onlyScenarios ? WORK : d1Apart ? join(BENCH, "d1-apart") : BENCH;
/** Other work on the machine (another session's tests) skews a cell: wait for it to pass, within a budget. */
const QUIET_BELOW_CORES = 0.2;
const QUIET_WAIT_PER_CELL_MS = 10_000;
let quietBudgetMs = (quick ? 20 : 90) * 1000;
/**
 * A hard stop for the whole run: a hung target (or a machine busy with other work) cannot keep it going. A quick
 * run takes 4 to 7 minutes (7 on this 2-core machine shared with other sessions); `--before` targets get more time.
 */
const RUN_LIMIT_MS =
  (limitMinutes > 0 ? limitMinutes : (quick ? 8 : 20) + (beforeRef === undefined ? 0 : quick ? 5 : 10)) * 60_000;
/**
 * The gateway before issue 12 (the "before", 484ef69) kept a finished run's Durable Object log for
 * RUN_LOG_RETENTION_SECONDS (600 by default) before its alarm deleted it; the bench shortens that to 1 s so the
 * deletion (an alarm, its rows, its wall-clock) happens inside the cell that caused it and is metered. Today's
 * gateway has no such setting (it removes a run's storage when the run is done) and ignores the var.
 */
const METERED_VARS = { RUN_LOG_RETENTION_SECONDS: "1" };
/** How long a cell waits for the gateway's objects to go idle and their due alarms to fire. */
const QUIESCE_AFTER_PROBE_MS = 5_000;
const QUIESCE_AFTER_LOAD_MS = 15_000;

const abort = new AbortController();
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) {
      // Second signal: stop now.
      void stopAll().finally(() => process.exit(130));
      return;
    }
    interrupted = true;
    console.error(`\nbench: ${signal}: stopping after the current cell (again to stop now)`);
    abort.abort();
  });
}
const runTimer = setTimeout(() => {
  console.error(`bench: run limit of ${RUN_LIMIT_MS / 60_000} min reached, stopping`);
  interrupted = true;
  abort.abort();
}, RUN_LIMIT_MS);
runTimer.unref();

function log(message: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error)).slice(0, 500);

/** bench/ has its own dependencies (the peers, undici); install them on first use. */
function ensureBenchDependencies(): void {
  const needed = ["undici", "@portkey-ai/gateway"].filter((name) => !existsSync(join(BENCH, "node_modules", name)));
  if (needed.length === 0) return;
  log(`installing bench dependencies (${needed.join(", ")} missing)`);
  execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: BENCH, stdio: "inherit" });
}

function version(path: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, path), "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

function environment(): Environment {
  const git = (...command: string[]): string => {
    try {
      return execFileSync("git", command, { cwd: ROOT, encoding: "utf8" }).trim();
    } catch {
      return "?";
    }
  };
  let workerd = "?";
  try {
    workerd = execFileSync(join(ROOT, "node_modules/.bin/workerd"), ["--version"], { encoding: "utf8" })
      .trim()
      .replace(/^workerd /, "");
  } catch {
    // reported as "?"
  }
  const dirty =
    git("status", "--porcelain", "--", "src", "migrations", "wrangler.toml") === "" ? "" : " (uncommitted changes)";
  return {
    node: process.version,
    workerd,
    miniflare: version("node_modules/miniflare/package.json"),
    wrangler: version("node_modules/wrangler/package.json"),
    portkey: version("bench/node_modules/@portkey-ai/gateway/package.json"),
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? "?",
    memoryGb: Math.round(totalmem() / 2 ** 30),
    kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
    gatewayCommit: `${git("rev-parse", "--short", "HEAD")} ${git("log", "-1", "--format=%s")}${dirty}`,
    gatewaySource: git("log", "-1", "--format=%h", "--", "src", "migrations", "wrangler.toml"),
    storageDir: STORAGE_DIR,
    d1Apart,
  };
}

/** A server a cell can be pointed at. */
interface Server {
  baseUrl: string;
  pids: number[];
  headers: Record<string, string>;
  gateway?: Gateway;
}

async function main(): Promise<void> {
  const started = performance.now();
  ensureBenchDependencies();
  // Loaded after the install above: they import bench/node_modules.
  const { runLoad, newAgent, checkStored } = await import("#bench/load-client");
  const { startPortkey, startPortkeyWorkerd } = await import("#bench/peers");
  const { bundleGateway, startGateway } = await import("#bench/gateway");
  const { buildBefore } = await import("#bench/before");

  mkdirSync(WORK, { recursive: true });
  mkdirSync(OUT, { recursive: true });
  /** Every process this run started: CPU outside them (and this one) is other work on the machine. */
  const ownedPids = new Set<number>();
  const targets = [...TARGETS, ...(beforeRef === undefined ? [] : BEFORE_TARGETS)].filter(
    (t) => !onlyTargets || onlyTargets.includes(t),
  );
  const plan = scenarios(quick).filter((s) => !onlyScenarios || onlyScenarios.some((id) => s.id.startsWith(id)));
  const reference: ReferenceCells = { ttfe: "max-e100-c1", cost: "max-e100-c20" };
  const results: Results = {
    date: new Date().toISOString(),
    mode: quick ? "quick" : "full",
    durationSeconds: 0,
    interrupted: false,
    environment: environment(),
    reference,
    startup: [],
    scenarios: plan,
    cells: [],
    summary: [],
    upstream: undefined,
  };
  const finish = async (): Promise<void> => {
    results.durationSeconds = (performance.now() - started) / 1000;
    results.interrupted = interrupted;
    results.summary = summarize(results.cells, reference, targets);
    await writeReport(results, OUT);
  };

  try {
    log(`${results.mode} run: ${plan.length} scenarios × ${targets.join(", ")}`);
    const { child: mock } = spawnOwned("mock upstream", process.execPath, [
      join(BENCH, "mock-upstream.ts"),
      "--port=0",
      "--exit-with-parent",
    ]);
    mock.stderr!.pipe(process.stderr);
    const { port } = await firstJsonLine<{ port: number }>(mock, "mock upstream");
    const upstream = `http://127.0.0.1:${port}/v1`;
    const mockPid = mock.pid!;
    ownedPids.add(mockPid);
    log(`mock upstream on ${upstream}`);

    /** This checkout's gateway and the `--before` one: where each is bundled from, and why it cannot run. */
    const builds = {
      current: { root: ROOT, bundleDir: join(WORK, "bundle"), error: undefined as string | undefined },
      before: { root: ROOT, bundleDir: join(WORK, "bundle-before"), error: undefined as string | undefined },
    };
    if (targets.some((t) => gatewayMode(t) !== undefined && !isBefore(t))) {
      rmSync(builds.current.bundleDir, { recursive: true, force: true });
      try {
        await bundleGateway(ROOT, builds.current.bundleDir);
        log("gateway bundled");
      } catch (error) {
        builds.current.error = `bundle failed: ${errorText(error)}`;
        log(builds.current.error);
      }
    }
    if (beforeRef !== undefined && targets.some(isBefore)) {
      rmSync(builds.before.bundleDir, { recursive: true, force: true });
      try {
        const before = await buildBefore(ROOT, beforeRef, builds.before.bundleDir);
        builds.before.root = before.root;
        results.environment.beforeCommit = before.commit;
        log(`gateway before (${before.commit}) bundled`);
      } catch (error) {
        builds.before.error = `--before=${beforeRef}: ${errorText(error)}`;
        log(builds.before.error);
      }
    }

    let portkey: Server | undefined;
    let portkeyError: string | undefined;
    if (targets.includes("portkey")) {
      try {
        const peer = await startPortkey(BENCH, upstream, join(WORK, "portkey.log"));
        portkey = { baseUrl: peer.baseUrl, pids: peer.pids, headers: peer.headers };
        peer.pids.forEach((pid) => ownedPids.add(pid));
        log(`portkey ${peer.version} on ${peer.baseUrl}`);
      } catch (error) {
        portkeyError = errorText(error);
        log(`portkey failed to start: ${portkeyError}`);
      }
    }

    let portkeyWorkerd: Server | undefined;
    let portkeyWorkerdError: string | undefined;
    if (targets.includes("portkey-workerd")) {
      try {
        const peer = await startPortkeyWorkerd(BENCH, upstream, mkdtempSync(join(STORAGE_DIR, "bench-portkey-")));
        portkeyWorkerd = { baseUrl: peer.baseUrl, pids: peer.pids, headers: peer.headers };
        peer.pids.forEach((pid) => ownedPids.add(pid));
        log(`portkey ${peer.version} (Workers build) on ${peer.baseUrl}, workerd pid ${peer.pids.join(",")}`);
      } catch (error) {
        portkeyWorkerdError = errorText(error);
        log(`portkey's Workers build failed to start: ${portkeyWorkerdError}`);
      }
    }

    const floors = new Map<TargetName, Server>();
    let floorError: string | undefined;
    if (targets.some(isFloor)) {
      try {
        const { startFloor } = await import("#bench/floor");
        const proxy = await startFloor(upstream, mkdtempSync(join(STORAGE_DIR, "bench-floor-")));
        floors.set("workerd-proxy", { baseUrl: proxy.baseUrl, pids: proxy.pids, headers: {} });
        floors.set("workerd-do-log", { baseUrl: proxy.loggedBaseUrl, pids: proxy.pids, headers: {} });
        proxy.pids.forEach((pid) => ownedPids.add(pid));
        log(`workerd floors on ${proxy.baseUrl} and ${proxy.loggedBaseUrl}, workerd pid ${proxy.pids.join(",")}`);
      } catch (error) {
        floorError = errorText(error);
        log(`workerd pass-through failed to start: ${floorError}`);
      }
    }

    const direct: Server = { baseUrl: upstream, pids: [mockPid], headers: {} };

    async function sdkCheck(server: Server, target: TargetName): Promise<string> {
      const mode = gatewayMode(target);
      try {
        const { default: OpenAI } = await import("openai");
        const client = new OpenAI({
          baseURL: server.baseUrl,
          apiKey: API_KEY,
          defaultHeaders: server.headers,
          maxRetries: 0,
          timeout: 15_000,
        });
        const knobs = { events: 20, pace: 0, ttft: 0, size: 8 };
        const stream = client.responses.stream({
          model: modelFor(knobs),
          input: "Say something.",
          store: mode === "stored" || mode === "background",
          ...(mode === "background" ? { background: true } : {}),
        });
        const final = await stream.finalResponse();
        const chars = final.output_text.length;
        return final.status === "completed" && chars === knobs.events * knobs.size
          ? "ok"
          : `final response ${final.status} with ${chars} characters`;
      } catch (error) {
        return `failed: ${errorText(error)}`;
      }
    }

    async function runCell(scenario: Scenario, target: TargetName, server: Server): Promise<CellResult> {
      const shape = requestFor(scenario, target);
      const spec: LoadSpec = {
        baseUrl: server.baseUrl,
        path: shape.path,
        headers: { authorization: `Bearer ${API_KEY}`, ...server.headers },
        body: shape.body,
        mode: shape.mode,
        expect: shape.expect,
        concurrency: scenario.concurrency,
        requests: scenario.requests,
        minSeconds: scenario.minSeconds,
        maxSeconds: scenario.maxSeconds,
        rampMs: scenario.rampMs,
        timeoutMs: shape.timeoutMs,
        signal: abort.signal,
      };
      const agent = newAgent(scenario.concurrency);
      server.gateway?.takeLastError();
      let waitedMs = 0;
      try {
        // One short unmeasured request of the same kind: fails fast on a broken target, warms the path.
        const probe = requestFor({ ...scenario, knobs: { ...scenario.knobs, events: 10, pace: 0, ttft: 0 } }, target);
        const first = (
          await runLoad(
            { ...spec, ...probe, concurrency: 1, requests: 1, minSeconds: 0, rampMs: 0, timeoutMs: 30_000 },
            agent,
          )
        ).results[0];
        if (!first?.ok) {
          // The Worker's log lines arrive through a pipe, a moment after its response.
          if (server.gateway) await new Promise((resolve) => setTimeout(resolve, 250));
          const logged = server.gateway?.takeLastError();
          return {
            scenario: scenario.id,
            target,
            status: "failed",
            error: `first request: ${first?.error ?? "no result"}${logged ? ` (Worker log: ${logged})` : ""}`,
            requests: 0,
            ok: 0,
            failures: [],
            events: 0,
            wallMs: 0,
            eventsPerSecond: 0,
            responsesPerSecond: 0,
          };
        }
        // Other work on the machine passes (the probe's own work, such as an alarm, overlaps the wait).
        while (quietBudgetMs > 0 && waitedMs < QUIET_WAIT_PER_CELL_MS && !abort.signal.aborted) {
          const from = performance.now();
          if ((await foreignLoad([...ownedPids])) <= QUIET_BELOW_CORES) break;
          const spent = performance.now() - from;
          waitedMs += spent;
          quietBudgetMs -= spent;
        }
        const gateway = server.gateway;
        const mode = gatewayMode(target);
        const stored = gateway !== undefined && (mode === "stored" || mode === "background");
        // The meter is read with the gateway's objects idle: the probe's own alarms have fired.
        const meterBefore = gateway ? await quiesce(gateway, QUIESCE_AFTER_PROBE_MS) : undefined;
        const d1BytesBefore = gateway ? await gateway.d1Bytes() : undefined;
        const rowsBefore = stored ? await gateway.tableCounts() : {};
        const serverIsUpstream = target === "direct";
        const d1Pids = gateway?.d1Pids ?? [];
        const cpuBefore = {
          server: cpuMs(server.pids),
          d1: cpuMs(d1Pids),
          upstream: cpuMs([mockPid]),
          client: process.cpuUsage(),
          machine: machineBusyMs(),
          at: performance.now(),
        };
        const memory = new MemorySampler(server.pids);
        const load = await runLoad(spec, agent);
        // Work after the last byte (the final D1 write, a cleanup alarm) belongs to this cell: wait for it.
        const meterAfter = gateway ? await quiesce(gateway, QUIESCE_AFTER_LOAD_MS) : undefined;
        await settle(serverIsUpstream ? server.pids : [...server.pids, ...d1Pids, mockPid]);
        const peakRssMb = memory.stop();
        const client = process.cpuUsage(cpuBefore.client);
        const serverMs = cpuMs(server.pids) - cpuBefore.server;
        const d1Ms = cpuMs(d1Pids) - cpuBefore.d1;
        const upstreamMs = serverIsUpstream ? 0 : cpuMs([mockPid]) - cpuBefore.upstream;
        const summary = summarizeLoad(scenario, target, load);
        const result: CellResult = {
          ...summary,
          quietWaitMs: waitedMs,
          cpu: cpuFigures(
            serverMs,
            upstreamMs,
            (client.user + client.system) / 1000,
            machineBusyMs() - cpuBefore.machine,
            performance.now() - cpuBefore.at,
            summary.ok,
            summary.events,
            d1Ms,
          ),
          peakRssMb,
          ...(d1Pids.length > 0 && summary.ok > 0 ? { simulatorsCpuPerResponseMs: d1Ms / summary.ok } : {}),
        };
        const units =
          gateway && meterBefore && meterAfter
            ? unitsPerResponse(meterBefore.snapshot, meterAfter.snapshot, {
                responses: summary.ok,
                cpuMs: serverMs,
                d1BytesBefore,
                d1BytesAfter: await gateway.d1Bytes(),
              })
            : undefined;
        if (stored) {
          const ids = load.results.filter((r) => r.ok && r.responseId !== undefined).map((r) => r.responseId!);
          const check = await checkStored(
            server.baseUrl,
            { authorization: `Bearer ${API_KEY}` },
            ids,
            scenario.knobs.events * scenario.knobs.size,
          );
          result.stored = { ...check, ...d1Rows(rowsBefore, await gateway.tableCounts(), ids.length) };
          if (units !== undefined) {
            result.stored.durableObjectsPerResponse = units.doInstances;
            // What deleting them after RETENTION_DAYS costs (it also leaves the next cell an empty D1).
            const sweep = await sweepCost(gateway, gateway.retentionDays);
            if (sweep !== undefined) units.sweep = sweep;
          }
        }
        if (units !== undefined && meterBefore && meterAfter) {
          const n = units.responses;
          result.cost = {
            units,
            price: priceOf(units),
            quiet: meterBefore.quiet && meterAfter.quiet,
            d1Statements: statementsPerResponse(meterBefore.snapshot.d1Statements, meterAfter.snapshot.d1Statements, n),
            sqlStatements: statementsPerResponse(
              meterBefore.snapshot.sqlStatements,
              meterAfter.snapshot.sqlStatements,
              n,
            ),
          };
        }
        return result;
      } finally {
        await agent.close();
      }
    }

    const phases: Protocol[] = ["responses", "chat_completions"];
    for (const protocol of phases) {
      const cells = plan.filter((s) => s.protocol === protocol);
      if (cells.length === 0 || abort.signal.aborted) continue;
      const servers = new Map<TargetName, Server>();
      const errors = new Map<TargetName, string>();
      const note = (target: TargetName, error?: string): void => {
        const entry: StartupNote = { phase: protocol, target, ok: error === undefined };
        if (error !== undefined) entry.error = error;
        results.startup.push(entry);
      };

      for (const target of targets) {
        if (target === "direct") servers.set(target, direct);
        if (isFloor(target)) {
          const floor = floors.get(target);
          if (floor) servers.set(target, floor);
          else errors.set(target, floorError ?? "not started");
        }
        if (target === "portkey") {
          if (portkey) servers.set(target, portkey);
          else errors.set(target, portkeyError ?? "not started");
        }
        if (target === "portkey-workerd") {
          if (portkeyWorkerd) servers.set(target, portkeyWorkerd);
          else errors.set(target, portkeyWorkerdError ?? "not started");
        }
      }
      const gateways: Gateway[] = [];
      for (const which of ["current", "before"] as const) {
        const served = targets.filter((t) => gatewayMode(t) !== undefined && isBefore(t) === (which === "before"));
        if (served.length === 0) continue;
        const build = builds[which];
        let error = build.error;
        let gateway: Gateway | undefined;
        if (error === undefined) {
          const name = which === "current" ? "gateway" : "gateway-before";
          try {
            gateway = await startGateway({
              root: build.root,
              bundleDir: build.bundleDir,
              persistDir: mkdtempSync(join(STORAGE_DIR, `bench-d1-${which}-${protocol}-`)),
              upstreamBaseUrl: upstream,
              protocol,
              logFile: join(WORK, `${name}-${protocol}.log`),
              meter: true,
              vars: METERED_VARS,
              d1Apart,
            });
            gateways.push(gateway);
            [...gateway.pids, ...gateway.d1Pids].forEach((pid) => ownedPids.add(pid));
            log(`${name} (UPSTREAM_PROTOCOL=${protocol}) on ${gateway.baseUrl}, workerd pid ${gateway.pids.join(",")}`);
          } catch (startError) {
            error = `start failed: ${errorText(startError)}`;
            log(`${name} ${error}`);
          }
        }
        for (const target of served) {
          if (gateway) servers.set(target, { baseUrl: gateway.baseUrl, pids: gateway.pids, headers: {}, gateway });
          else errors.set(target, error ?? "not started");
        }
      }

      for (const target of targets) {
        const server = servers.get(target);
        note(target, errors.get(target));
        if (!server) continue;
        // The SDK check speaks Responses: it applies where the target answers in Responses.
        const speaksResponses = protocol === "responses" || gatewayMode(target) !== undefined;
        if (speaksResponses) {
          const outcome = await sdkCheck(server, target);
          results.startup[results.startup.length - 1]!.sdkCheck = outcome;
          log(`${target}: openai SDK responses.stream(): ${outcome}`);
        }
        // Warm-up (JIT, connection pools, first Durable Object): not measured.
        const warm: Scenario = {
          ...cells[0]!,
          knobs: { ...cells[0]!.knobs, events: 100, pace: 0, ttft: 0 },
          stream: true,
          background: true,
        };
        const shape = requestFor(warm, target);
        await runLoad({
          baseUrl: server.baseUrl,
          path: shape.path,
          headers: { authorization: `Bearer ${API_KEY}`, ...server.headers },
          body: shape.body,
          mode: shape.mode,
          expect: shape.expect,
          concurrency: 4,
          requests: 40,
          minSeconds: 0,
          maxSeconds: 5,
          rampMs: 0,
          timeoutMs: 30_000,
          signal: abort.signal,
        });
      }

      for (const scenario of cells) {
        for (const target of targets.filter((t) => runsOn(scenario, t))) {
          if (abort.signal.aborted) break;
          const server = servers.get(target);
          let result: CellResult;
          if (!server) {
            result = {
              scenario: scenario.id,
              target,
              status: "failed",
              error: errors.get(target) ?? "not started",
              requests: 0,
              ok: 0,
              failures: [],
              events: 0,
              wallMs: 0,
              eventsPerSecond: 0,
              responsesPerSecond: 0,
            };
          } else {
            result = await runCell(scenario, target, server);
          }
          results.cells.push(result);
          const shown =
            result.status === "failed"
              ? `FAILED ${result.error}`
              : `${result.ok}/${result.requests} ok, ttfe p50 ${result.ttfeMs?.p50.toFixed(1) ?? "–"} ms, ` +
                `${Math.round(result.eventsPerSecond)} ev/s, cpu ${result.cpu?.perResponseMs.toFixed(2)} ms/resp` +
                `${result.stored ? `, GET ${result.stored.completed}/${result.stored.checked}, D1 rows/resp ${result.stored.d1RowsPerResponseTotal.toFixed(2)}` : ""}` +
                `${result.cost ? `, $${result.cost.price.total.toFixed(2)}/M responses${result.cost.quiet ? "" : " (not quiet)"}` : ""}` +
                `${result.failures.length > 0 ? `; ${result.failures[0]}` : ""}`;
          log(`${scenario.id} ${target}: ${shown}`);
        }
      }
      for (const gateway of gateways) await gateway.stop();
    }
    try {
      results.upstream = await (await fetch(`http://127.0.0.1:${port}/stats`)).json();
    } catch {
      // optional
    }
  } catch (error) {
    results.fatal = errorText(error);
    log(`fatal: ${results.fatal}`);
    process.exitCode = 1;
  } finally {
    await stopAll();
    // Miniflare read the bundles into memory; a stray index.js under bench/ would only trip `eslint .`.
    rmSync(join(WORK, "bundle"), { recursive: true, force: true });
    rmSync(join(WORK, "bundle-before"), { recursive: true, force: true });
    await finish();
    log(`wrote ${relative(ROOT, join(OUT, "RESULTS.md"))} and results.json (${Math.round(results.durationSeconds)} s)`);
    if (recordAsBefore && !interrupted && results.fatal === undefined) {
      await recordBefore(results);
      log("recorded this run as the before: bench/before.json");
    }
  }
}

await main();
if (interrupted) process.exitCode = 130;
