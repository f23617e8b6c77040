// The platform floors: a Worker that only forwards each request to the mock and returns the mock's body
// untouched, and the same through a logging Durable Object per request, run by Miniflare's API exactly
// like the gateway. What workerd itself costs on this machine, so the gateway's figures can be read
// against it. Used by bench/run.ts.

import { startOwnWorker } from "#bench/own-worker";

const WORKER = "workerd-floor";

// `/v1/...`: forward and return the body untouched (workerd's own cost).
// `/logged/v1/...`: the same through a new SQLite Durable Object per request that appends every chunk to
// its storage before passing it on: the floor of the gateway's stored architecture (one object per
// response, log before output), without any of its parsing, normalizing or D1 writes.
const SCRIPT = `import { DurableObject } from "cloudflare:workers";
function forward(request, env, path) {
  return fetch(env.UPSTREAM + path, {
    method: request.method,
    headers: { "content-type": "application/json", authorization: request.headers.get("authorization") ?? "" },
    body: request.body,
  });
}
export class Run extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS chunks (seq INTEGER PRIMARY KEY, bytes BLOB NOT NULL)");
  }
  async fetch(request) {
    const upstream = await forward(request, this.env, new URL(request.url).pathname);
    if (upstream.body === null) return upstream;
    const { readable, writable } = new IdentityTransformStream();
    const sql = this.ctx.storage.sql;
    this.ctx.waitUntil((async () => {
      const reader = upstream.body.getReader();
      const writer = writable.getWriter();
      for (let seq = 0; ; seq++) {
        const { done, value } = await reader.read();
        if (done) break;
        sql.exec("INSERT INTO chunks (seq, bytes) VALUES (?, ?)", seq, value.slice().buffer);
        await writer.write(value);
      }
      await writer.close();
    })());
    return new Response(readable, { status: upstream.status, headers: upstream.headers });
  }
}
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/logged/v1/")) {
      const path = url.pathname.slice("/logged/v1".length);
      const stub = env.RUN.get(env.RUN.newUniqueId());
      return stub.fetch(new Request("http://run" + path, request));
    }
    const upstream = await forward(request, env, url.pathname.replace(/^\\/v1/, ""));
    return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
  },
};`;

export interface Floor {
  /** Plain pass-through. */
  baseUrl: string;
  /** Through a logging Durable Object per request. */
  loggedBaseUrl: string;
  pids: number[];
  stop(): Promise<void>;
}

export async function startFloor(upstreamBaseUrl: string, persistDir: string): Promise<Floor> {
  const worker = await startOwnWorker(
    {
      name: WORKER,
      modules: true,
      script: SCRIPT,
      compatibilityDate: "2026-11-01",
      bindings: { UPSTREAM: upstreamBaseUrl },
      durableObjects: { RUN: { className: "Run", useSQLite: true } },
    },
    persistDir,
  );
  return {
    baseUrl: new URL("/v1", worker.url).href,
    loggedBaseUrl: new URL("/logged/v1", worker.url).href,
    pids: worker.pids,
    stop: worker.stop,
  };
}
