// An on-CPU profile of the gateway's whole workerd process under one load shape, by Linux `perf`: where
// the CPU per response goes, native code included (zlib, D1's local simulator, streams, the HTTP stack,
// GC), which the V8 profile of bench/profile.ts shows only as the JavaScript that called it. perf samples
// the process only while it runs on a core, so a busy machine does not charge preempted time to whatever
// function was on the stack, as the inspector's sampler does. JIT-compiled JavaScript has no symbols here:
// it is one row ("JavaScript (JIT)"), unless `--js` asks V8 for a perf map (`--perf-basic-prof`, written
// to /tmp/perf-<pid>.map and removed at the end): then samples are also counted by the nearest JavaScript
// function on their stack, with the native work it called. Not part of runs:
//   node bench/perf-profile.ts [--store] [--chat] [--js] [--events=100] [--concurrency=20] [--seconds=8]
// Needs `perf` (linux-perf); it sees kernel time (page faults, system calls) as root or with
// kernel.perf_event_paranoid <= 1, only user space otherwise.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGatewayOnMock } from "#bench/gateway";
import { newAgent, runLoad } from "#bench/load-client";
import { cpuMs, settle } from "#bench/proc-stats";

const arg = (name: string, fallback: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

/**
 * What a sample is counted as: the first category any frame of its stack matches, in this order (so
 * zlib's page faults are zlib's, and a JSON.parse inside a D1 call is D1's).
 */
const CATEGORIES: [string, RegExp][] = [
  ["zlib (deflate of stored values)", /ZlibUtil|ZlibContext/],
  ["D1's local simulator (SQLite)", /sqlite3|SqliteDatabase|SqlStorage|DurableObjectStorage|ActorSqlite|ActorCache/],
  ["page faults (fresh memory)", /exc_page_fault/],
  ["garbage collection", /CollectGarbage|Scavenge|MinorGC|MarkCompact|ConcurrentMarking|IncrementalMarking/],
  ["subrequests: service-binding calls (D1, rate limiter)", /Fetcher::fetch/],
  ["subrequests: global fetch() calls (the upstream)", /ServiceWorkerGlobalScope::fetch/],
  ["subrequests: their answers arriving (any)", /fetchImpl/],
  ["HTTP server and client", /kj_hyper|HttpService|HttpClient|hyper::|WorkerEntrypoint::request/],
  ["streams (body reads and writes)", /api::(Readable|Writable|IdentityTransform)Stream|streams::/],
  ["JSON.parse", /JsonParser/],
  ["JSON.stringify", /JsonStringifier/],
  ["console.log (local formatting)", /api::console|Console::|logMessage|handleLog/],
  ["TextEncoder / TextDecoder", /TextEncoder|TextDecoder/],
  ["structuredClone", /ValueSerializer|ValueDeserializer/],
  ["timers", /setTimeout|clearTimeout|setInterval|TimeoutManager/],
  ["other system calls", /do_syscall_64/],
];

/** The category of a sample's leaf frame that matched nothing above. */
function leafCategory(frame: string): string {
  // Unnamed without `--js`; `JS:<name>` with it.
  if (frame === "[unknown]" || frame.startsWith("JS:")) return "JavaScript (JIT)";
  if (frame.startsWith("Builtins_")) return "V8 builtins (promises, property access...)";
  if (/^(v8::|cppgc::)/.test(frame)) return "V8 runtime";
  if (/^(workerd::|kj::)/.test(frame)) return "workerd and kj (I/O, promises, wrappers)";
  if (/tcmalloc|TCMalloc|^__mem/.test(frame)) return "memory allocation and copies";
  return "other";
}

const events = Number(arg("events", "100"));
const concurrency = Number(arg("concurrency", "20"));
const seconds = Number(arg("seconds", "8"));
const chat = flag("chat");
const js = flag("js");
// Read by Miniflare when it starts workerd.
if (js) process.env.MINIFLARE_WORKERD_V8_FLAGS = "--perf-basic-prof --interpreted-frames-native-stack";
if (spawnSync("perf", ["--version"]).status !== 0) throw new Error("perf-profile needs Linux `perf` on the PATH");

const work = mkdtempSync(join(tmpdir(), "gw-perf-"));
// D1's files where the bench keeps them (bench/run.ts): on tmpfs, so no disk write is in the profile.
const storage = process.env.BENCH_STORAGE_DIR ?? (existsSync("/dev/shm") ? "/dev/shm" : tmpdir());
const persistDir = join(storage, `gw-perf-${process.pid}`);
const { mock, gateway } = await startGatewayOnMock(work, {
  persistDir,
  protocol: chat ? "chat_completions" : "responses",
});
const gatewayPids = [...gateway.pids];
// Printed once everything is stopped: a reader that closes early (`| head`) cannot cut the cleanup short.
const report: string[] = [];
try {
  const spec = {
    baseUrl: gateway.baseUrl.replace(/\/$/, ""),
    path: "/responses" as const,
    headers: { authorization: "Bearer bench-key", "content-type": "application/json" },
    body: JSON.stringify({ model: `bench:events=${events}`, input: "hi", stream: true, store: flag("store") }),
    mode: "responses-sse" as const,
    expect: { deltas: events, size: 8 },
    concurrency,
    requests: 1_000_000,
    minSeconds: seconds,
    maxSeconds: seconds,
    rampMs: 0,
    timeoutMs: 120_000,
  };
  await runLoad({ ...spec, minSeconds: 1, maxSeconds: 1 }); // warm up
  const pids = gatewayPids;
  const data = join(work, "perf.data");
  const perf = spawn(
    "perf",
    ["record", "-q", "-e", "cpu-clock", "-F", "2000", "-g", "-o", data, "-p", pids.join(",")],
    {
      stdio: "inherit",
    },
  );
  await new Promise((resolve) => setTimeout(resolve, 300)); // perf attaches
  const before = cpuMs(pids);
  const load = await runLoad(spec, newAgent(concurrency));
  await settle(pids);
  const cpu = cpuMs(pids) - before;
  const exited = new Promise((resolve) => perf.once("exit", resolve));
  perf.kill("SIGINT");
  await exited;

  const script = spawnSync("perf", ["script", "-i", data, "-F", "ip,sym"], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  const stacks = script.stdout
    .split("\n\n")
    .map((sample) =>
      sample
        .split("\n")
        .map((line) => line.trim().replace(/^[0-9a-f]+ /, ""))
        .filter((frame) => frame !== ""),
    )
    .filter((stack) => stack.length > 0);
  const byCategory = new Map<string, number>();
  const byLeaf = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const stack of stacks) {
    const category = CATEGORIES.find(([, pattern]) => stack.some((frame) => pattern.test(frame)))?.[0];
    const name = category ?? leafCategory(stack[0]!);
    byCategory.set(name, (byCategory.get(name) ?? 0) + 1);
    const leaf = stack[0]!.slice(0, 100);
    byLeaf.set(leaf, (byLeaf.get(leaf) ?? 0) + 1);
    // V8's map names a function `JS:<tier mark><name> <file>:<line>:<column>`.
    const nearest = stack.find((frame) => frame.startsWith("JS:"))?.replace(/^JS:[~^*+']*/, "") ?? "(no JavaScript)";
    byFunction.set(nearest, (byFunction.get(nearest) ?? 0) + 1);
  }

  const ok = load.results.filter((r) => r.ok).length;
  const perResponse = cpu / Math.max(1, ok);
  report.push(
    `${ok}/${load.results.length} responses ok (${chat ? "chat_completions" : "responses"} upstream, ` +
      `${flag("store") ? "stored" : "store:false"}, ${events} events, c${concurrency}); ` +
      `workerd CPU ${perResponse.toFixed(2)} ms per response; ${stacks.length} samples`,
  );
  const addRows = (rows: Map<string, number>, count: number) => {
    for (const [name, samples] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, count)) {
      const share = samples / stacks.length;
      report.push(
        `${(100 * share).toFixed(1).padStart(6)}%  ${(share * perResponse * 1000).toFixed(0).padStart(5)} µs  ${name}`,
      );
    }
  };
  report.push("by category (µs per response: its share of the process's CPU):");
  addRows(byCategory, CATEGORIES.length + 6);
  report.push("by leaf function:");
  addRows(byLeaf, 25);
  if (js) {
    report.push("by nearest JavaScript function on the stack (its own time and the native work it called):");
    addRows(byFunction, 40);
  }
} finally {
  await gateway.stop();
  await mock.close();
  rmSync(work, { recursive: true, force: true });
  rmSync(persistDir, { recursive: true, force: true });
  if (js) for (const pid of gatewayPids) rmSync(`/tmp/perf-${pid}.map`, { force: true });
}
console.log(report.join("\n"));
