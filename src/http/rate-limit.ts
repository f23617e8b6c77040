// Request rate limits through the Workers rate-limiting bindings (limits and periods in
// wrangler.toml). Two counts: per client address (`ADDRESS_RATE_LIMITER`, else `RATE_LIMITER`),
// checked first, before a key is looked up, so invented keys cost nothing past it; and per gateway
// key id (keys mode) or tenant (pass-through) through `RATE_LIMITER`. Without a binding there is
// no limit; a limiter that fails lets requests through (logged). Used by `identify`, so every /v1
// route counts, and by the router for the `x-ratelimit-*` headers. The limits the headers name are
// settings (src/config.ts): a binding cannot be asked for its own.

import { readConfig } from "../config";
import { ApiError } from "../errors";
import { parseIpv4, parseIpv6 } from "../ip-address";
import { logFailure } from "../observe/problems";

export interface RateLimitSubject {
  tenantId: string;
  apiKeyId: string | null;
}

/** Seconds until the limiter's current window ends (windows are aligned to the clock). */
export function secondsToNextWindow(periodSeconds: number, nowMs = Date.now()): number {
  const now = Math.floor(nowMs / 1000);
  return periodSeconds - (now % periodSeconds);
}

export interface RateLimitPolicy {
  limit: number;
  periodSeconds: number;
}

/** The per-key limiter's policy, or null without the binding (no limit, no headers). */
export function rateLimitPolicy(env: Env, periodSeconds: number): RateLimitPolicy | null {
  if ((env as { RATE_LIMITER?: RateLimit }).RATE_LIMITER === undefined) return null;
  return { limit: readConfig(env).rateLimitRequests, periodSeconds };
}

/**
 * What the limiter honestly knows on every answer: the limit and its window. The binding says only
 * whether a request passed, so the remaining count and reset time are sent only with a 429.
 */
export const policyHeaders = ({ limit, periodSeconds }: RateLimitPolicy): Record<string, string> => ({
  "x-ratelimit-limit-requests": String(limit),
  "ratelimit-policy": `${limit};w=${periodSeconds}`,
});

/** A 429's headers: the policy of the limiter that refused, and what it knows then: none left until the reset. */
const refusedHeaders = (retryAfter: number, policy?: RateLimitPolicy): Record<string, string> => ({
  ...(policy === undefined ? {} : policyHeaders(policy)),
  "retry-after": String(retryAfter),
  "x-ratelimit-remaining-requests": "0",
  "x-ratelimit-reset-requests": `${retryAfter}s`,
});

export const rateLimited = (retryAfter: number, policy?: RateLimitPolicy): ApiError =>
  new ApiError(429, `Rate limit reached for requests on this API key. Please try again in ${retryAfter}s.`, {
    type: "requests",
    code: "rate_limit_exceeded",
    headers: refusedHeaders(retryAfter, policy),
  });

const addressLimited = (retryAfter: number, policy: RateLimitPolicy): ApiError =>
  new ApiError(429, `Rate limit reached for requests from this address. Please try again in ${retryAfter}s.`, {
    type: "requests",
    code: "rate_limit_exceeded",
    headers: refusedHeaders(retryAfter, policy),
  });

export async function enforceRateLimit(env: Env, subject: RateLimitSubject, periodSeconds: number): Promise<void> {
  const limiter = (env as { RATE_LIMITER?: RateLimit }).RATE_LIMITER;
  if (limiter === undefined) return;
  const key = subject.apiKeyId !== null ? `key:${subject.apiKeyId}` : `tenant:${subject.tenantId}`;
  if (!(await admits(limiter, key)))
    throw rateLimited(secondsToNextWindow(periodSeconds), rateLimitPolicy(env, periodSeconds) ?? undefined);
}

/**
 * Counts the request against its client address (`cf-connecting-ip`, which Cloudflare sets on
 * every request from the internet). A request without one (a service binding, local tests) is
 * counted only by its key or tenant.
 */
export async function enforceAddressLimit(env: Env, request: Request, periodSeconds: number): Promise<void> {
  const limits = env as { ADDRESS_RATE_LIMITER?: RateLimit; RATE_LIMITER?: RateLimit };
  const limiter = limits.ADDRESS_RATE_LIMITER ?? limits.RATE_LIMITER;
  const address = addressBucket(request.headers.get("cf-connecting-ip"));
  if (limiter === undefined || address === null) return;
  if (await admits(limiter, `addr:${address}`)) return;
  // Its own limit: the address limiter's, or the per-key one's when that binding counts addresses too.
  const config = readConfig(env);
  const limit = limits.ADDRESS_RATE_LIMITER === undefined ? config.rateLimitRequests : config.addressRateLimitRequests;
  throw addressLimited(secondsToNextWindow(periodSeconds), { limit, periodSeconds });
}

/**
 * What one client's address counts as: an IPv4 address whole, an IPv6 address by its /64 (what one
 * subscriber is usually given, so rotating addresses inside it gains nothing). Null when absent.
 */
function addressBucket(header: string | null): string | null {
  const text = header?.trim() ?? "";
  if (text === "") return null;
  if (parseIpv4(text) !== null) return text;
  const groups = parseIpv6(text);
  if (groups === null) return text.slice(0, 64);
  const [, , , , , g5, g6 = 0, g7 = 0] = groups;
  // IPv4-mapped (::ffff:a.b.c.d): that IPv4 client.
  if (groups.slice(0, 5).every((group) => group === 0) && g5 === 0xffff)
    return [g6 >> 8, g6 & 0xff, g7 >> 8, g7 & 0xff].join(".");
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(":")}::/64`;
}

/**
 * Whether the limiter lets one more request with `key` through. A limiter that errs lets it through,
 * with a log line: an outage of the limiter must not become an outage of every /v1 route.
 */
async function admits(limiter: RateLimit, key: string): Promise<boolean> {
  try {
    return (await limiter.limit({ key })).success;
  } catch (error) {
    logFailure("the rate limiter failed; letting the request through", error);
    return true;
  }
}
