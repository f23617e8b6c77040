// Who is calling: the tenant a request acts for and the key sent upstream. In pass-through mode
// the client's bearer key goes upstream and the tenant is a hash of it, so each key sees only
// its own history; in keys mode (`AUTH_MODE=keys`) the client presents a gateway key and the
// upstream key comes from the Worker's secrets. Every request is rate limited by its client address
// (before a gateway key is looked up) and by its key or tenant. Used by every /v1 route.

import { readConfig, refuseIfMisconfigured, type AuthMode } from "../config";
import { ApiError, internalError } from "../errors";
import { noteCaller } from "../observe/request-log";
import { hashGatewayKey, sameDigest, sha256Hex } from "../tenancy/gateway-keys";
import { incorrectKey, managedCaller, type ManagedCaller } from "./managed-keys";
import { enforceAddressLimit, enforceRateLimit } from "./rate-limit";
import { RecentKeys } from "./recent-keys";

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
  const addressAdmitted = enforceAddressLimit(env, request, config.rateLimitPeriodSeconds);
  // Awaited below or by the route; until then a refusal must not count as unhandled.
  addressAdmitted.catch(() => undefined);
  let caller: Caller;
  if (config.authMode === "keys") {
    // Before the D1 lookup: invented keys from one address stop costing lookups at its limit.
    await addressAdmitted;
    caller = { ...(await knownManagedCaller(key, env, ctx)), upstreamKey: null };
  } else {
    // Pass-through forwards the caller's key upstream: the operator's admin token must never go there.
    if (config.adminToken !== null && (await isAdminToken(key, config.adminToken))) throw adminTokenOnV1();
    caller = await passthroughCaller(key);
  }
  const admitted = Promise.all([addressAdmitted, enforceRateLimit(env, caller, config.rateLimitPeriodSeconds)]).then(
    () => undefined,
  );
  admitted.catch(() => undefined);
  noteCaller(request, caller);
  return { caller, admitted };
}

/** The admin token's digest, made once per isolate (per token: a new deployment may change it). */
let adminDigest: { token: string; digest: Promise<string> } | undefined;

/** Compared as digests, as the admin API compares it: the time says nothing of the token. */
async function isAdminToken(key: string, adminToken: string): Promise<boolean> {
  if (adminDigest?.token !== adminToken) adminDigest = { token: adminToken, digest: hashGatewayKey(adminToken) };
  return sameDigest(await hashGatewayKey(key), await adminDigest.digest);
}

/** OpenAI's 401 for a wrong key, saying where the admin token belongs instead. */
const adminTokenOnV1 = (): ApiError =>
  new ApiError(
    401,
    "The admin token is not an API key: /v1 sends the caller's key to the model server, which must never see it. Use it on /admin/ (or the console's admin sign-in), and your model server's key on /v1.",
    { type: "invalid_request_error", code: "invalid_api_key" },
  );

/**
 * Gateway keys D1 did not know (or knew revoked), remembered for a minute so the same wrong key
 * again costs no lookup. A key is 256 random bits: one presented before it was issued cannot become
 * valid meanwhile; and a revoked key stays revoked.
 */
const unknownGatewayKeys = new RecentKeys(60_000, 10_000);

async function knownManagedCaller(key: string, env: Env, ctx: ExecutionContext | undefined): Promise<ManagedCaller> {
  const hash = await hashGatewayKey(key);
  if (unknownGatewayKeys.has(hash)) throw incorrectKey(key);
  try {
    return await managedCaller(key, env, ctx);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) unknownGatewayKeys.add(hash, true);
    throw error;
  }
}

/** The pass-through caller of `key`: its tenant is a hash of the key. */
export async function passthroughCaller(key: string): Promise<Caller> {
  return { tenantId: `t_${(await sha256Hex(`tenant:${key}`)).slice(0, 32)}`, apiKeyId: null, upstreamKey: key };
}
