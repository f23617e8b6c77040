// Peer gateways run against the same mock upstream, for comparison: Portkey's open-source gateway on Node
// (`@portkey-ai/gateway`, installed in bench/node_modules only), and its Workers build in workerd
// (bench/peers/portkey-workerd/, run by Miniflare's API as the gateway is). Used by bench/run.ts.

import { createWriteStream, readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, spawnOwned, waitForHttp } from "#bench/children";
import { startOwnWorker } from "#bench/own-worker";

export interface Peer {
  baseUrl: string;
  pids: number[];
  version: string;
  /** Headers that route a request to the mock upstream. */
  headers: Record<string, string>;
  stop(): Promise<void>;
}

/** Portkey's "custom host": an `openai` provider request sent to any base URL (loopback is allowed by default). */
const portkeyRoute = (upstreamBaseUrl: string): Record<string, string> => ({
  "x-portkey-provider": "openai",
  "x-portkey-custom-host": upstreamBaseUrl,
});

export async function startPortkey(benchDir: string, upstreamBaseUrl: string, logFile: string): Promise<Peer> {
  const pkg = JSON.parse(readFileSync(join(benchDir, "node_modules/@portkey-ai/gateway/package.json"), "utf8")) as {
    version: string;
  };
  const port = await freePort();
  // NODE_ENV=production: Portkey's documented production mode (no log-streaming UI routes).
  const { child, stop } = spawnOwned(
    "portkey",
    process.execPath,
    [join(benchDir, "portkey-server.ts"), `--port=${port}`],
    {
      cwd: benchDir,
      env: { ...process.env, NODE_ENV: "production" },
    },
  );
  const log = createWriteStream(logFile, { flags: "a" });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  await waitForHttp(`http://127.0.0.1:${port}/`);
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    pids: [child.pid!],
    version: pkg.version,
    headers: portkeyRoute(upstreamBaseUrl),
    stop,
  };
}

const PORTKEY_WORKER = "portkey-workerd";
/** The version the vendored build was made from (its README). */
const PORTKEY_WORKERD_VERSION = "1.15.2";

/** Portkey's Workers build in workerd, with its wrangler.toml's production settings (see its README). */
export async function startPortkeyWorkerd(
  benchDir: string,
  upstreamBaseUrl: string,
  persistDir: string,
): Promise<Peer> {
  const dir = join(benchDir, "peers", "portkey-workerd");
  const worker = await startOwnWorker(
    {
      name: PORTKEY_WORKER,
      modules: true,
      modulesRoot: dir,
      scriptPath: join(dir, "index.js"),
      compatibilityDate: "2024-12-05",
      compatibilityFlags: ["nodejs_compat"],
      bindings: { ENVIRONMENT: "production", CUSTOM_HEADERS_TO_IGNORE: [] },
    },
    persistDir,
  );
  return {
    baseUrl: new URL("/v1", worker.url).href,
    pids: worker.pids,
    version: PORTKEY_WORKERD_VERSION,
    headers: portkeyRoute(upstreamBaseUrl),
    stop: worker.stop,
  };
}
