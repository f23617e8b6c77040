// GET /health: whether the gateway can reach its D1 databases (every shard), for load balancers and
// uptime checks. No authentication, so it says nothing but the check's outcome: no version, no
// configuration (not even how many shards there are). Each check is a query on every shard, so it is
// counted against the client's address like a /v1 request (no key to count it by).

import { pingShards } from "../db/shards";
import { enforceAddressLimit } from "../http/rate-limit";
import { logD1Problem } from "../observe/problems";
import { json, type RouteContext } from "./context";

export async function health({ request, env, config, requestId }: RouteContext): Promise<Response> {
  await enforceAddressLimit(env, request, config.rateLimitPeriodSeconds);
  const started = Date.now();
  try {
    await pingShards(env);
  } catch (error) {
    logD1Problem({ request_id: requestId }, "D1 failed the health check (unreachable, or not migrated)", error, {
      attempt: 1,
      of: 1,
    });
    return withNoStore(json({ status: "error", checks: { d1: { status: "error" } } }, 503));
  }
  return withNoStore(json({ status: "ok", checks: { d1: { status: "ok", latency_ms: Date.now() - started } } }));
}

/** A health answer is never cached: a stale "ok" would hide an outage. */
function withNoStore(response: Response): Response {
  response.headers.set("cache-control", "no-store");
  return response;
}
