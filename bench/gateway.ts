// This project's Worker as a benchmark target: bundled by `wrangler deploy --dry-run`, run by Miniflare's
// API (workerd, a local D1 persisted in a temp dir with migrations/ applied, the SQLite-backed ResponseRun
// Durable Object), pointed at the mock upstream. Used by bench/run.ts.

import { execFile } from "node:child_process";
import { createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } from "wrangler";
import { descendants } from "#bench/proc-stats";
import { own } from "#bench/children";

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

/** The bundle's files as Miniflare modules (wrangler may emit extra modules next to index.js). */
function bundleModules(dir: string): { type: ModuleType; path: string; contents: string | Uint8Array }[] {
  const typeOf = (name: string): ModuleType | undefined => {
    if (/\.m?js$/.test(name)) return "ESModule";
    if (/\.(txt|html|sql)$/.test(name)) return "Text";
    if (/\.bin$/.test(name)) return "Data";
    if (/\.wasm$/.test(name)) return "CompiledWasm";
    return undefined;
  };
  const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((name) => typeOf(name) !== undefined);
  // The entry module must come first.
  files.sort((a, b) => (a === "index.js" ? -1 : b === "index.js" ? 1 : a.localeCompare(b)));
  if (files[0] !== "index.js") throw new Error(`no index.js in ${dir}`);
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
}

export interface Gateway {
  /** Base URL ending in `/v1`. */
  baseUrl: string;
  /** The workerd process(es) Miniflare spawned: the gateway's whole CPU and memory. */
  pids: number[];
  /** Rows in every D1 table (Miniflare's and wrangler's own bookkeeping tables left out). */
  tableCounts(): Promise<Record<string, number>>;
  /** ResponseRun objects that exist (have storage). */
  durableObjects(): Promise<number | undefined>;
  /** The first line of the last error the Worker logged since the previous call (explains a failed cell). */
  takeLastError(): string | undefined;
  stop(): Promise<void>;
}

const WORKER_NAME = "responses-gateway";

/** Applies every `migrations/*.sql` in order, as `wrangler d1 migrations apply --local` would. */
async function migrate(mf: Miniflare, dir: string): Promise<void> {
  const db = await mf.getD1Database("DB");
  const files = readdirSync(dir)
    .filter((name) => name.endsWith(".sql"))
    .sort();
  for (const file of files) {
    const statements = unstable_splitSqlQuery(readFileSync(join(dir, file), "utf8"));
    if (statements.length > 0) await db.batch(statements.map((sql) => db.prepare(sql)));
  }
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  mkdirSync(options.persistDir, { recursive: true });
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
  const v4 = {
    ...fromConfig,
    name: WORKER_NAME,
    modules: bundleModules(options.bundleDir),
    modulesRoot: options.bundleDir,
    // The bench measures the gateway's cost, not its per-key rate limit (600 a minute in wrangler.toml).
    ratelimits: { RATE_LIMITER: { namespace_id: "1001", simple: { limit: 1_000_000_000, period: 60 as const } } },
    bindings: {
      ...fromConfig.bindings,
      UPSTREAM_BASE_URL: options.upstreamBaseUrl,
      UPSTREAM_PROTOCOL: options.protocol,
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
  const stop = own(`gateway (${options.protocol})`, async () => {
    await mf.dispose();
    log.end();
    rmSync(options.persistDir, { recursive: true, force: true });
  });
  try {
    const entry = await mf.ready;
    await migrate(mf, join(options.root, "migrations"));
    // The worker's own socket skips Miniflare's entry worker (an extra hop that production does not have).
    let url: URL;
    try {
      url = await mf.unsafeGetDirectURL(WORKER_NAME);
    } catch {
      url = entry;
    }
    const pids = descendants(process.pid, "workerd").filter((pid) => !before.has(pid));
    if (pids.length === 0) throw new Error("no workerd process found under this process");
    return {
      baseUrl: new URL("/v1", url).href,
      pids,
      stop,
      async tableCounts() {
        const db = await mf.getD1Database("DB");
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
      async durableObjects() {
        try {
          return (await mf.listDurableObjectIds("ResponseRun", WORKER_NAME)).length;
        } catch {
          return undefined;
        }
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
