// GET /health: whether the gateway can serve: its D1 databases (every shard) reachable and migrated,
// and no setting wrong that refuses requests. For load balancers and uptime checks. No
// authentication, so it says nothing but the checks' outcome: no version, no values (not even how
// many shards there are); a wrong setting only by its name, which docs/configuration.md lists anyway.
// Each check is a query on every shard, so it is counted against the client's address like a /v1
// request (no key to count it by).

import type { GatewayConfig } from "../config";
import { pingShards } from "../db/shards";
import { ApiError } from "../errors";
import { enforceAddressLimit } from "../http/rate-limit";
import { logD1Problem } from "../observe/problems";
import { readRoutes } from "../upstream/routes";
import { json, type RouteContext } from "./context";

export async function health({ request, env, config, requestId }: RouteContext): Promise<Response> {
  await enforceAddressLimit(env, request, config.rateLimitPeriodSeconds);
  const started = Date.now();
  let d1: Record<string, unknown>;
  let settings = checkConfig(config);
  try {
    await pingShards(env);
    d1 = { status: "ok", latency_ms: Date.now() - started };
  } catch (error) {
    // A D1_SHARDS entry not bound to a database is a wrong setting, found where the bindings are
    // read: named as the others are (its config_problem line says which), not logged as D1's failure.
    if (error instanceof ApiError && error.code === "d1_shards_invalid")
      settings = {
        status: "error",
        settings: [...(settings.status === "error" ? settings.settings : []), "D1_SHARDS"],
      };
    else
      logD1Problem({ request_id: requestId }, "D1 failed the health check (unreachable, or not migrated)", error, {
        attempt: 1,
        of: 1,
      });
    d1 = { status: "error" };
  }
  const healthy = d1.status === "ok" && settings.status === "ok";
  return withNoStore(json({ status: healthy ? "ok" : "error", checks: { d1, config: settings } }, healthy ? 200 : 503));
}

/**
 * The settings whose wrong values refuse requests: those of every request and of upstream calls
 * (src/config.ts), and a routing table that does not parse, which refuses every create. A wrong
 * admin, WebSocket or compaction setting leaves the API serving, so it is logged, not failed here.
 */
function checkConfig(config: GatewayConfig): { status: "ok" } | { status: "error"; settings: string[] } {
  const settings = config.problems
    .filter((problem) => problem.scope === "every request" || problem.scope === "upstream calls")
    .map((problem) => problem.setting);
  if (!readRoutes(config.routes).ok) settings.push("UPSTREAM_ROUTES");
  return settings.length === 0 ? { status: "ok" } : { status: "error", settings: [...new Set(settings)] };
}

/** A health answer is never cached: a stale "ok" would hide an outage. */
function withNoStore(response: Response): Response {
  response.headers.set("cache-control", "no-store");
  return response;
}
