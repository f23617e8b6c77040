// A local D1 and rate limiter in a workerd process of its own for a benchmark target (`--d1-apart`):
// bench/d1-server.ts run by a second Miniflare, which the gateway's D1 bindings reach through Miniflare's
// remote binding proxy and its rate limiter by a plain request (bench/gateway.ts). The gateway's process then
// spends CPU on the Worker's work only, as production bills it (D1 and the rate limiter run elsewhere; D1
// bills by rows), and their SQLite work no longer shares the Worker's thread. Used by bench/gateway.ts.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { convertV4MiniflareOptions, Miniflare, type RemoteProxyConnectionString } from "miniflare";
import { descendants } from "#bench/proc-stats";

export interface D1Apart {
  /** Where the gateway's D1 bindings send their requests (through Miniflare's remote binding proxy). */
  url: RemoteProxyConnectionString;
  /** Where the gateway's rate limiter sends its `limit` calls (`POST`, JSON `{ key, limit, period }`). */
  limiterUrl: string;
  /** The D1 process (its CPU is reported apart from the gateway's). */
  pids: number[];
  stop(): Promise<void>;
}

export async function startD1Apart(dir: string, persistDir: string): Promise<D1Apart> {
  const { default: ts } = await import("typescript");
  const source = readFileSync(join(import.meta.dirname, "d1-server.ts"), "utf8");
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const script = join(dir, "d1-server.js");
  writeFileSync(script, outputText);
  const before = new Set(descendants(process.pid, "workerd"));
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      name: "d1-apart",
      modules: true,
      scriptPath: script,
      modulesRoot: dir,
      compatibilityDate: "2026-11-01",
      durableObjects: {
        DATABASE: { className: "Database", useSQLite: true },
        LIMITER: { className: "Limiter", useSQLite: true },
      },
      resourcePersistencePath: persistDir,
      unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    }),
  );
  await mf.ready;
  const url = await mf.unsafeGetDirectURL("d1-apart");
  const pids = descendants(process.pid, "workerd").filter((pid) => !before.has(pid));
  return {
    url: url as RemoteProxyConnectionString,
    limiterUrl: new URL("/limit", url).href,
    pids,
    stop: () => mf.dispose(),
  };
}
