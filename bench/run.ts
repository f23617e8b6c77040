// The benchmark: starts the mock upstream, this repository's gateway (Miniflare) and Portkey, runs every
// scenario against each, stops everything (also on failure or Ctrl-C) and writes bench/RESULTS.md and
// bench/results.json. `npm run bench` from the repository root; `npm run bench -- --quick` for a short run.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { firstJsonLine, spawnOwned, stopAll } from "#bench/children";
import { cpuFigures, d1Rows, summarize, summarizeLoad, type CellResult, type ReferenceCells } from "#bench/figures";
import type { Gateway } from "#bench/gateway";
import type { LoadSpec } from "#bench/load-client";
import { cpuMs, foreignLoad, machineBusyMs, MemorySampler, settle } from "#bench/proc-stats";
import { writeReport, type Environment, type Results, type StartupNote } from "#bench/report";
import {
  modelFor,
  requestFor,
  isFloor,
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
/** A partial run (filtered targets or scenarios) must not replace the recorded results. */
const OUT = onlyTargets || onlyScenarios ? WORK : BENCH;
/** Other work on the machine (another session's tests) skews a cell: wait for it to pass, within a budget. */
const QUIET_BELOW_CORES = 0.2;
const QUIET_WAIT_PER_CELL_MS = 10_000;
let quietBudgetMs = (quick ? 20 : 90) * 1000;
/** A hard stop for the whole run: a hung target cannot keep it going. */
const RUN_LIMIT_MS = (quick ? 4 : 15) * 60_000;

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
    storageDir: STORAGE_DIR,
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
  const { startPortkey } = await import("#bench/peers");
  const { bundleGateway, startGateway } = await import("#bench/gateway");

  mkdirSync(WORK, { recursive: true });
  /** Every process this run started: CPU outside them (and this one) is other work on the machine. */
  const ownedPids = new Set<number>();
  const targets = TARGETS.filter((t) => !onlyTargets || onlyTargets.includes(t));
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

    let bundleError: string | undefined;
    if (targets.some((t) => t.startsWith("gateway"))) {
      const outDir = join(WORK, "bundle");
      rmSync(outDir, { recursive: true, force: true });
      try {
        await bundleGateway(ROOT, outDir);
        log("gateway bundled");
      } catch (error) {
        bundleError = `bundle failed: ${errorText(error)}`;
        log(bundleError);
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

    async function sdkCheck(server: Server, store: boolean): Promise<string> {
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
        const stream = client.responses.stream({ model: modelFor(knobs), input: "Say something.", store });
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
      while (quietBudgetMs > 0 && waitedMs < QUIET_WAIT_PER_CELL_MS && !abort.signal.aborted) {
        const from = performance.now();
        if ((await foreignLoad([...ownedPids])) <= QUIET_BELOW_CORES) break;
        const spent = performance.now() - from;
        waitedMs += spent;
        quietBudgetMs -= spent;
      }
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
        const stored = target === "gateway-stored" && server.gateway !== undefined;
        const rowsBefore = stored ? await server.gateway!.tableCounts() : {};
        const objectsBefore = stored ? await server.gateway!.durableObjects() : undefined;
        const serverIsUpstream = target === "direct";
        const cpuBefore = {
          server: cpuMs(server.pids),
          upstream: cpuMs([mockPid]),
          client: process.cpuUsage(),
          machine: machineBusyMs(),
          at: performance.now(),
        };
        const memory = new MemorySampler(server.pids);
        const load = await runLoad(spec, agent);
        await settle(serverIsUpstream ? server.pids : [...server.pids, mockPid]);
        const peakRssMb = memory.stop();
        const client = process.cpuUsage(cpuBefore.client);
        const serverMs = cpuMs(server.pids) - cpuBefore.server;
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
          ),
          peakRssMb,
        };
        if (stored) {
          const ids = load.results.filter((r) => r.ok && r.responseId !== undefined).map((r) => r.responseId!);
          const check = await checkStored(
            server.baseUrl,
            { authorization: `Bearer ${API_KEY}` },
            ids,
            scenario.knobs.events * scenario.knobs.size,
          );
          const objectsAfter = await server.gateway!.durableObjects();
          result.stored = { ...check, ...d1Rows(rowsBefore, await server.gateway!.tableCounts(), ids.length) };
          if (objectsBefore !== undefined && objectsAfter !== undefined && ids.length > 0) {
            result.stored.durableObjectsPerResponse = (objectsAfter - objectsBefore) / ids.length;
          }
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
      }
      let gateway: Gateway | undefined;
      if (targets.some((t) => t.startsWith("gateway"))) {
        let error = bundleError;
        if (error === undefined) {
          try {
            gateway = await startGateway({
              root: ROOT,
              bundleDir: join(WORK, "bundle"),
              persistDir: mkdtempSync(join(STORAGE_DIR, `bench-d1-${protocol}-`)),
              upstreamBaseUrl: upstream,
              protocol,
              logFile: join(WORK, `gateway-${protocol}.log`),
            });
            gateway.pids.forEach((pid) => ownedPids.add(pid));
            log(`gateway (UPSTREAM_PROTOCOL=${protocol}) on ${gateway.baseUrl}, workerd pid ${gateway.pids.join(",")}`);
          } catch (startError) {
            error = `start failed: ${errorText(startError)}`;
            log(`gateway ${error}`);
          }
        }
        for (const target of targets.filter((t) => t.startsWith("gateway"))) {
          if (gateway) servers.set(target, { baseUrl: gateway.baseUrl, pids: gateway.pids, headers: {}, gateway });
          else errors.set(target, error ?? "not started");
        }
      }

      for (const target of targets) {
        const server = servers.get(target);
        note(target, errors.get(target));
        if (!server) continue;
        // The SDK check speaks Responses: it applies where the target answers in Responses.
        const speaksResponses = protocol === "responses" || target.startsWith("gateway");
        if (speaksResponses) {
          const outcome = await sdkCheck(server, target === "gateway-stored");
          results.startup[results.startup.length - 1]!.sdkCheck = outcome;
          log(`${target}: openai SDK responses.stream(): ${outcome}`);
        }
        // Warm-up (JIT, connection pools, first Durable Object): not measured.
        const warm: Scenario = {
          ...cells[0]!,
          knobs: { ...cells[0]!.knobs, events: 100, pace: 0, ttft: 0 },
          stream: true,
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
        for (const target of targets) {
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
                `${result.failures.length > 0 ? `; ${result.failures[0]}` : ""}`;
          log(`${scenario.id} ${target}: ${shown}`);
        }
      }
      if (gateway) await gateway.stop();
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
    // Miniflare read the bundle into memory; a stray index.js under bench/ would only trip `eslint .`.
    rmSync(join(WORK, "bundle"), { recursive: true, force: true });
    await finish();
    log(`wrote ${relative(ROOT, join(OUT, "RESULTS.md"))} and results.json (${Math.round(results.durationSeconds)} s)`);
  }
}

await main();
if (interrupted) process.exitCode = 130;
