// Who is calling: the tenant a request acts for and the key sent upstream. In pass-through mode
// the client's bearer key goes upstream and the tenant is a hash of it, so each key sees only
// its own history; in keys mode (`AUTH_MODE=keys`) the client presents a gateway key and the
// upstream key comes from the Worker's secrets. Every caller is then rate limited. Used by every
// /v1 route.

import { readConfig, refuseIfMisconfigured, type AuthMode } from "../config";
import { ApiError, internalError } from "../errors";
import { sha256Hex } from "../tenancy/gateway-keys";
import { managedCaller } from "./managed-keys";
import { enforceRateLimit } from "./rate-limit";

export interface Caller {
  tenantId: string;
  /** Managed key id (keys mode); null in pass-through mode. */
  apiKeyId: string | null;
  /** Key for the upstream: the client's own in pass-through mode. */
  upstreamKey: string | null;
}

/**
 * OpenAI's 401 for a request without a key (same type and code), saying what a key is here instead
 * of OpenAI's: no Basic auth "password field", which the gateway refuses, and no platform.openai.com link.
 */
export function missingKey(mode: AuthMode): ApiError {
  const which =
    mode === "keys"
      ? "This gateway issues its own keys (sk-gw-...): ask its operator for one."
      : "This gateway forwards your key to its model server and keeps your history under it; any key will do if that server needs none.";
  return new ApiError(
    401,
    `You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). ${which}`,
  );
}

/** The bearer token of a request, or null. */
export function bearerToken(request: Request): string | null {
  const header = request.headers.get("authorization");
  if (header === null) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

/**
 * The caller of a /v1 request, refused with OpenAI's 401 (no or wrong key) or 429 (rate limited).
 * `ctx` lets keys mode record the key's last use after the response.
 */
export async function authenticate(request: Request, env: Env, ctx?: ExecutionContext): Promise<Caller> {
  const { caller, admitted } = await identify(request, env, ctx);
  await admitted;
  return caller;
}

/**
 * The caller, and its rate-limit check still under way: a route may do pure work (read and
 * validate its body) while the limiter answers, and must await `admitted` before any side effect.
 * If the route fails first, it still awaits `admitted`, so a 429 wins over its own 4xx.
 */
export async function identify(
  request: Request,
  env: Env,
  ctx?: ExecutionContext,
): Promise<{ caller: Caller; admitted: Promise<void> }> {
  const config = readConfig(env);
  refuseIfMisconfigured(config, "every request");
  const key = bearerToken(request);
  // Unreachable: a wrong AUTH_MODE is a problem refused above. Never let a request through on a guess.
  if (config.authMode === null) throw internalError();
  if (key === null) throw missingKey(config.authMode);
  const caller: Caller =
    config.authMode === "keys"
      ? { ...(await managedCaller(key, env, ctx)), upstreamKey: null }
      : await passthroughCaller(key);
  const admitted = enforceRateLimit(env, caller, config.rateLimitPeriodSeconds);
  // Awaited by the route; until then a refusal must not count as unhandled.
  admitted.catch(() => undefined);
  return { caller, admitted };
}

async function passthroughCaller(key: string): Promise<Caller> {
  return { tenantId: `t_${(await sha256Hex(`tenant:${key}`)).slice(0, 32)}`, apiKeyId: null, upstreamKey: key };
}
