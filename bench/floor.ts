// The platform floor: a Worker that only forwards each request to the mock and returns the mock's
// body untouched, run by Miniflare's API exactly like the gateway. What workerd itself costs on this
// machine, so the gateway's figures can be read against it. Used by bench/run.ts.

import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { own } from "#bench/children";
import { descendants } from "#bench/proc-stats";

const WORKER = "workerd-proxy";

const SCRIPT = `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const upstream = await fetch(env.UPSTREAM + url.pathname.replace(/^\\/v1/, "") + url.search, {
      method: request.method,
      headers: { "content-type": "application/json", authorization: request.headers.get("authorization") ?? "" },
      body: request.body,
    });
    return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
  },
};`;

export interface Floor {
  baseUrl: string;
  pids: number[];
  stop(): Promise<void>;
}

export async function startFloor(upstreamBaseUrl: string): Promise<Floor> {
  const before = new Set(descendants(process.pid, "workerd"));
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      name: WORKER,
      modules: true,
      script: SCRIPT,
      compatibilityDate: "2026-11-01",
      bindings: { UPSTREAM: upstreamBaseUrl },
      unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    }),
  );
  const stop = own(WORKER, () => mf.dispose());
  await mf.ready;
  const url = await mf.unsafeGetDirectURL(WORKER);
  return {
    baseUrl: new URL("/v1", url).href,
    pids: descendants(process.pid, "workerd").filter((pid) => !before.has(pid)),
    stop,
  };
}
