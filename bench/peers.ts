// Peer gateways run against the same mock upstream, for comparison: Portkey's open-source gateway
// (`@portkey-ai/gateway`, installed in bench/node_modules only) on Node. Used by bench/run.ts.

import { createWriteStream, readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, spawnOwned, waitForHttp } from "#bench/children";

export interface Peer {
  baseUrl: string;
  pids: number[];
  version: string;
  /** Headers that route a request to the mock upstream. */
  headers: Record<string, string>;
  stop(): Promise<void>;
}

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
    // Portkey's "custom host" sends an `openai` provider request to any base URL (loopback is allowed by default).
    headers: { "x-portkey-provider": "openai", "x-portkey-custom-host": upstreamBaseUrl },
    stop,
  };
}
