// The processes and servers a benchmark run owns, and the one place that stops them: on success,
// failure, SIGINT or SIGTERM, so a run leaves nothing behind. Used by bench/run.ts and its targets.

import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { createServer } from "node:net";
import { createInterface } from "node:readline";

type Stopper = () => Promise<void>;
const stoppers = new Map<string, Stopper>();

/** Registers something to stop at the end of the run; returns a function that stops it now. */
export function own(label: string, stop: Stopper): Stopper {
  const once = async (): Promise<void> => {
    if (!stoppers.delete(label)) return;
    await stop().catch((error: unknown) => console.error(`bench: stopping ${label}:`, error));
  };
  stoppers.set(label, once);
  return once;
}

/** Stops everything still running, newest first. */
export async function stopAll(): Promise<void> {
  for (const stop of [...stoppers.values()].reverse()) await stop();
}

/** A child Node process with a pipe on stdin: children that watch it exit when this process dies. */
export function spawnOwned(
  label: string,
  command: string,
  args: string[],
  options: SpawnOptions = {},
): { child: ChildProcess; stop: Stopper } {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], ...options });
  const stop = own(label, async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
    await exited;
    clearTimeout(timer);
  });
  return { child, stop };
}

/** The first stdout line of a child that announces itself as JSON (e.g. `{"port":1234}`). */
export function firstJsonLine<T>(child: ChildProcess, label: string, timeoutMs = 15_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`${label} did not start within ${timeoutMs} ms`)), timeoutMs);
    lines.once("line", (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line) as T);
      } catch {
        reject(new Error(`${label} printed ${line}`));
      }
    });
    child.once("exit", (code) => reject(new Error(`${label} exited with ${code}`)));
  });
}

/** A port free right now on 127.0.0.1 (for servers that must be told their port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls a URL until it answers at all (any status). */
export async function waitForHttp(url: string, timeoutMs = 20_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  let last: unknown;
  while (performance.now() < end) {
    try {
      await (await fetch(url, { signal: AbortSignal.timeout(1000) })).arrayBuffer();
      return;
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms: ${String(last)}`);
}
