// This project's Worker as a benchmark target: bundled by `wrangler deploy --dry-run`, run by Miniflare's
// API (workerd, a local D1 persisted in a temp dir with migrations/ applied, the SQLite-backed ResponseRun
// Durable Object), pointed at the mock upstream, optionally with the cost meter (bench/meter-shim.ts) in
// front of the bundle. Used by bench/run.ts and bench/load-check.ts.

import { execFile } from "node:child_process";
import { createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { convertV4MiniflareOptions, Miniflare, type RemoteProxyConnectionString } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } from "wrangler";
import { descendants } from "#bench/proc-stats";
import { own } from "#bench/children";
import { startD1Apart, type D1Apart } from "#bench/d1-apart";
import { startMockUpstream, type MockUpstream } from "#bench/mock-upstream";
import type { MeterSnapshot } from "#bench/meter-shim";

const run = promisify(execFile);

/** Bundles the Worker exactly as a deploy would (same esbuild, same config), without uploading. */
export async function bundleGateway(root: string, outDir: string): Promise<void> {
  await run("npx", ["wrangler", "deploy", "--dry-run", "--outdir", outDir], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
    maxBuffer: 16 * 1024 * 1024,
  });
}

type ModuleType = "ESModule" | "Text" | "Data" | "CompiledWasm";

/** The meter's entry module: the bundle's exports, with the handlers and each Durable Object class metered. */
const METER_ENTRY = "meter-entry.js";

/**
 * Writes the meter (bench/meter-shim.ts compiled to JavaScript) and an entry module in front of the bundle:
 * the same exports, each Durable Object class replaced by a metered subclass of the same name.
 */
async function addMeter(dir: string, durableObjectClasses: string[]): Promise<void> {
  // Loaded here: only metered instances need the compiler (a root dev dependency).
  const { default: ts } = await import("typescript");
  const shim = readFileSync(join(import.meta.dirname, "meter-shim.ts"), "utf8");
  const { outputText } = ts.transpileModule(shim, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  writeFileSync(join(dir, "meter-shim.js"), outputText);
  const entry = [
    'import * as gateway from "./index.js";',
    'import { meterDurableObject, meterWorker } from "./meter-shim.js";',
    'export * from "./index.js";',
    "export default meterWorker(gateway.default);",
    ...durableObjectClasses.map((name) => `export const ${name} = meterDurableObject(gateway.${name});`),
  ];
  writeFileSync(join(dir, METER_ENTRY), `${entry.join("\n")}\n`);
}

/** The entry module that gives the Worker the rate limiter apart (`--d1-apart`). */
const LIMITER_ENTRY = "limiter-entry.js";

/**
 * Writes an entry module in front of `inner` (the bundle's or the meter's) that gives the Worker a
 * `RATE_LIMITER` whose `limit` asks the process apart, as Miniflare's own simulated binding asks its
 * object: one request and its JSON answer per call. The same env object for the same env, as the
 * runtime's (the gateway keeps caches per binding). Scheduled runs ask no limiter.
 */
function addLimiterApart(dir: string, inner: string, url: string, limit: number, period: number): void {
  const entry = [
    `import handler from "./${inner}";`,
    `export * from "./${inner}";`,
    "const limiter = {",
    "  async limit({ key }) {",
    `    const answer = await fetch(${JSON.stringify(url)}, { method: "POST", body: JSON.stringify({ key, limit: ${limit}, period: ${period} }) });`,
    "    return answer.json();",
    "  },",
    "};",
    "const envs = new WeakMap();",
    "function withLimiter(env) {",
    "  let apart = envs.get(env);",
    "  if (apart === undefined) envs.set(env, (apart = { ...env, RATE_LIMITER: limiter }));",
    "  return apart;",
    "}",
    "export default { ...handler, fetch: (request, env, ctx) => handler.fetch(request, withLimiter(env), ctx) };",
  ];
  writeFileSync(join(dir, LIMITER_ENTRY), `${entry.join("\n")}\n`);
}

/** The bundle's files as Miniflare modules (wrangler may emit extra modules next to index.js). */
function bundleModules(
  dir: string,
  entryName = "index.js",
): { type: ModuleType; path: string; contents: string | Uint8Array }[] {
  const typeOf = (name: string): ModuleType | undefined => {
    if (/\.m?js$/.test(name)) return "ESModule";
    if (/\.(txt|html|sql)$/.test(name)) return "Text";
    if (/\.bin$/.test(name)) return "Data";
    if (/\.wasm$/.test(name)) return "CompiledWasm";
    return undefined;
  };
  const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((name) => typeOf(name) !== undefined);
  // The entry module must come first.
  files.sort((a, b) => (a === entryName ? -1 : b === entryName ? 1 : a.localeCompare(b)));
  if (files[0] !== entryName) throw new Error(`no ${entryName} in ${dir}`);
  return files.map((name) => {
    const type = typeOf(name)!;
    const path = join(dir, name);
    return {
      type,
      path,
      contents: type === "ESModule" || type === "Text" ? readFileSync(path, "utf8") : readFileSync(path),
    };
  });
}

export interface GatewayOptions {
  root: string;
  bundleDir: string;
  /** Where D1 and Durable Object storage live for this instance (a fresh temp dir, removed on stop). */
  persistDir: string;
  upstreamBaseUrl: string;
  protocol: "responses" | "chat_completions";
  logFile: string;
  /** Opens workerd's V8 inspector on this port (bench/profile.ts takes CPU profiles through it). */
  inspectorPort?: number;
  /** Puts the cost meter in front of the bundle (`Gateway.meter()` reads it). */
  meter?: boolean;
  /** Variables set over wrangler.toml's. */
  vars?: Record<string, string>;
  /** More D1 bindings beside `DB` (each migrated), for runs over shards (bench/shard-sim.ts sets D1_SHARDS). */
  extraD1?: string[];
  /** Runs the local D1 and rate limiter in a workerd process of its own (bench/d1-apart.ts); `d1Pids` names it. */
  d1Apart?: boolean;
}

export interface Gateway {
  /** Base URL ending in `/v1`. */
  baseUrl: string;
  /** The workerd process(es) Miniflare spawned: the gateway's whole CPU and memory. */
  pids: number[];
  /** The process of the local D1 and rate limiter when they run apart (`d1Apart`), else none: their CPU is in `pids`. */
  d1Pids: number[];
  /** Rows in every D1 table (Miniflare's and wrangler's own bookkeeping tables left out) of `DB` or another binding. */
  tableCounts(binding?: string): Promise<Record<string, number>>;
  /** The first line of the last error the Worker logged since the previous call (explains a failed cell). */
  takeLastError(): string | undefined;
  /** Days a stored response is kept (RETENTION_DAYS; 0 keeps them). */
  retentionDays: number;
  /** The cost meter's running totals (only with `meter: true`). */
  meter(): Promise<MeterSnapshot>;
  /** D1's size in bytes (`DB` or another binding): its page count times page size, as the database reports it after a query. */
  d1Bytes(binding?: string): Promise<number | undefined>;
  /** A D1 binding of the instance, for checks of what it holds. */
  d1(binding: string): ReturnType<Miniflare["getD1Database"]>;
  /** Runs the Worker's scheduled (cron) handler as if it fired at `time`. */
  scheduled(time: Date): Promise<void>;
  stop(): Promise<void>;
}

const WORKER_NAME = "responses-gateway";

/** Applies every `migrations/*.sql` in order, as `wrangler d1 migrations apply --local` would. */
async function migrate(mf: Miniflare, dir: string, binding = "DB"): Promise<void> {
  const db = await mf.getD1Database(binding);
  const files = readdirSync(dir)
    .filter((name) => name.endsWith(".sql"))
    .sort();
  for (const file of files) {
    const statements = unstable_splitSqlQuery(readFileSync(join(dir, file), "utf8"));
    if (statements.length > 0) await db.batch(statements.map((sql) => db.prepare(sql)));
  }
}

/** wrangler.toml's D1 bindings (as Miniflare options: a list or a map) with more beside them. */
function withExtraD1(fromConfig: unknown, extra: string[]): Record<string, string | { id: string }> {
  const known: Record<string, string | { id: string }> = Array.isArray(fromConfig)
    ? Object.fromEntries(
        (fromConfig as { binding: string; database_id?: string }[]).map((d) => [d.binding, d.database_id ?? d.binding]),
      )
    : { ...(fromConfig as Record<string, string | { id: string }> | undefined) };
  for (const binding of extra) known[binding] = `bench-${binding.toLowerCase()}`;
  return known;
}

/** D1 bindings as Miniflare options: local, or every one sent to the D1 process apart. */
function d1Options(
  databases: Record<string, string | { id: string }>,
  apart: D1Apart | undefined,
): Record<string, string | { id: string; remoteProxyConnectionString?: RemoteProxyConnectionString }> {
  if (apart === undefined) return databases;
  return Object.fromEntries(
    Object.entries(databases).map(([binding, value]) => [
      binding,
      { id: typeof value === "string" ? value : value.id, remoteProxyConnectionString: apart.url },
    ]),
  );
}

/**
 * The bench's mock upstream in this process and a gateway bundled from this checkout in front of it, its
 * bundle, storage and log under `work`: the setup of the one-off tools (load check, profile, repeated
 * cells, shard simulation). `options` override those defaults.
 */
export async function startGatewayOnMock(
  work: string,
  options: Partial<Omit<GatewayOptions, "upstreamBaseUrl">> = {},
): Promise<{ mock: MockUpstream; gateway: Gateway }> {
  const root = options.root ?? join(import.meta.dirname, "..");
  const bundleDir = options.bundleDir ?? join(work, "bundle");
  const mock = await startMockUpstream();
  await bundleGateway(root, bundleDir);
  const gateway = await startGateway({
    persistDir: join(work, "persist"),
    protocol: "responses",
    logFile: join(work, "gateway.log"),
    ...options,
    root,
    bundleDir,
    upstreamBaseUrl: `http://127.0.0.1:${mock.port}/v1`,
  });
  return { mock, gateway };
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  mkdirSync(options.persistDir, { recursive: true });
  let d1Apart: D1Apart | undefined;
  if (options.d1Apart === true) {
    const dir = join(options.persistDir, "d1-apart");
    mkdirSync(dir, { recursive: true });
    d1Apart = await startD1Apart(dir, join(dir, "state"));
  }
  const log = createWriteStream(options.logFile, { flags: "a" });
  let lastError: string | undefined;
  // wrangler's own reading of wrangler.toml (bindings, D1, the SQLite-backed Durable Object); its types
  // come from wrangler's copy of Miniflare, so they are taken as plain data here.
  const fromConfig = {
    ...unstable_getMiniflareWorkerOptions(join(options.root, "wrangler.toml")).workerOptions,
  } as Record<string, unknown> & { bindings?: Record<string, unknown> };
  // Module rules are for wrangler's bundler (and cannot be converted to Miniflare 5 options); the bundle's
  // modules are listed explicitly below.
  delete fromConfig.modulesRules;
  // The console's static assets are left out: with them, Miniflare points even the Worker's own socket at
  // its assets proxy and router, two more Workers that each request and its streamed body pass through
  // (about 8% of the process's CPU for a stored 100-event response). On Cloudflare that routing is the
  // platform's, not the Worker's CPU time. The bench calls only the API, which never reads `ASSETS`.
  delete fromConfig.assets;
  let entry: string | undefined;
  if (options.meter === true) {
    const objects = (fromConfig.durableObjects ?? {}) as Record<string, string | { className: string }>;
    const classes = Object.values(objects).map((value) => (typeof value === "string" ? value : value.className));
    await addMeter(options.bundleDir, [...new Set(classes)]);
    entry = METER_ENTRY;
  }
  // The bench measures the gateway's cost, not its per-key rate limit (600 a minute in wrangler.toml).
  const limit = { limit: 1_000_000_000, period: 60 as const };
  // Apart, the entry module gives the Worker its rate limiter instead of Miniflare's simulation.
  const ratelimits: Record<string, { namespace_id: string; simple: typeof limit }> = {};
  if (d1Apart === undefined) ratelimits.RATE_LIMITER = { namespace_id: "1001", simple: limit };
  else {
    addLimiterApart(options.bundleDir, entry ?? "index.js", d1Apart.limiterUrl, limit.limit, limit.period);
    entry = LIMITER_ENTRY;
  }
  const v4 = {
    ...fromConfig,
    name: WORKER_NAME,
    modules: bundleModules(options.bundleDir, entry),
    modulesRoot: options.bundleDir,
    ...(options.extraD1 === undefined && d1Apart === undefined
      ? {}
      : { d1Databases: d1Options(withExtraD1(fromConfig.d1Databases, options.extraD1 ?? []), d1Apart) }),
    ratelimits,
    bindings: {
      ...fromConfig.bindings,
      UPSTREAM_BASE_URL: options.upstreamBaseUrl,
      UPSTREAM_PROTOCOL: options.protocol,
      ...options.vars,
    },
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    ...(options.inspectorPort === undefined ? {} : { inspectorPort: options.inspectorPort }),
    resourcePersistencePath: options.persistDir,
    logRequests: false,
    handleStructuredLogs: ({ level, message }: { level: string; message: string }) => {
      log.write(`${level}: ${message}\n`);
      if (level === "error") lastError = message.split("\n", 1)[0];
    },
  };
  const before = new Set(descendants(process.pid, "workerd"));
  const signals = ["SIGINT", "SIGTERM"] as const;
  const listeners = signals.map((signal) => new Set(process.listeners(signal)));
  const mf = new Miniflare(convertV4MiniflareOptions(v4));
  // Miniflare exits the process on SIGINT/SIGTERM; bench/run.ts handles those itself (it stops every
  // target, this one included, then still writes its report). Its exit hook that kills workerd stays.
  signals.forEach((signal, i) => {
    for (const listener of process.listeners(signal)) {
      if (!listeners[i]!.has(listener)) process.removeListener(signal, listener);
    }
  });
  // One stopper per instance (two instances run side by side with --before).
  const stop = own(`gateway (${options.protocol}, ${options.persistDir})`, async () => {
    await mf.dispose();
    await d1Apart?.stop();
    log.end();
    rmSync(options.persistDir, { recursive: true, force: true });
  });
  try {
    const entry = await mf.ready;
    for (const binding of ["DB", ...(options.extraD1 ?? [])])
      await migrate(mf, join(options.root, "migrations"), binding);
    // The worker's own socket skips Miniflare's entry worker (an extra hop that production does not have).
    let url: URL;
    try {
      url = await mf.unsafeGetDirectURL(WORKER_NAME);
    } catch {
      url = entry;
    }
    const pids = descendants(process.pid, "workerd").filter((pid) => !before.has(pid));
    if (pids.length === 0) throw new Error("no workerd process found under this process");
    const retention = Number((v4.bindings as Record<string, unknown>).RETENTION_DAYS ?? 30);
    return {
      baseUrl: new URL("/v1", url).href,
      pids,
      d1Pids: d1Apart?.pids ?? [],
      retentionDays: Number.isFinite(retention) && retention >= 0 ? retention : 30,
      stop,
      async tableCounts(binding = "DB") {
        const db = await mf.getD1Database(binding);
        const tables = await db
          .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%' ORDER BY name",
          )
          .all<{ name: string }>();
        const names = tables.results.map((row) => row.name);
        if (names.length === 0) return {};
        const counts = await db.batch<{ n: number }>(
          names.map((name) => db.prepare(`SELECT count(*) AS n FROM "${name.replaceAll('"', '""')}"`)),
        );
        return Object.fromEntries(names.map((name, i) => [name, counts[i]?.results[0]?.n ?? 0]));
      },
      takeLastError() {
        const taken = lastError;
        lastError = undefined;
        return taken;
      },
      async meter() {
        const response = await fetch(new URL("/__meter", url));
        if (!response.ok) throw new Error(`meter: HTTP ${response.status}`);
        return (await response.json()) as MeterSnapshot;
      },
      d1: (binding) => mf.getD1Database(binding),
      async d1Bytes(binding = "DB") {
        const db = await mf.getD1Database(binding);
        const { meta } = await db.prepare("SELECT 1").run();
        const size = (meta as { size_after?: unknown }).size_after;
        return typeof size === "number" ? size : undefined;
      },
      async scheduled(time: Date) {
        const worker = await mf.getWorker(WORKER_NAME);
        await worker.scheduled({ scheduledTime: time, cron: "*/10 * * * *" });
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
