// A Worker the benchmark runs by Miniflare's API in a workerd process of its own, on its own loopback
// socket (`unsafeGetDirectURL`), stopped with the run: the floors (floor.ts) and Portkey's Workers build
// (peers.ts). The gateway has its own, metered start (gateway.ts).

import { rmSync } from "node:fs";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { own } from "#bench/children";
import { descendants } from "#bench/proc-stats";

type WorkerOptions = Parameters<typeof convertV4MiniflareOptions>[0];

export interface OwnWorker {
  /** The Worker's own socket. */
  url: URL;
  /** The workerd processes it started (for CPU and memory). */
  pids: number[];
  stop: () => Promise<void>;
}

/** Starts the Worker `options.name` with its storage in `persistDir` (removed when it stops). */
export async function startOwnWorker(
  options: WorkerOptions & { name: string },
  persistDir: string,
): Promise<OwnWorker> {
  const before = new Set(descendants(process.pid, "workerd"));
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      ...options,
      resourcePersistencePath: persistDir,
      unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    }),
  );
  const stop = own(options.name, async () => {
    await mf.dispose();
    rmSync(persistDir, { recursive: true, force: true });
  });
  await mf.ready;
  return {
    url: await mf.unsafeGetDirectURL(options.name),
    pids: descendants(process.pid, "workerd").filter((pid) => !before.has(pid)),
    stop,
  };
}
