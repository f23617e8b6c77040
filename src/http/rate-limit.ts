// Per-key request rate limits through the Workers rate-limiting binding `RATE_LIMITER` (limit and
// period set in wrangler.toml): keyed by gateway key id in keys mode, by tenant in pass-through
// mode. Without the binding there is no limit; a limiter that fails lets requests through (logged).
// Used by `authenticate`, so every /v1 route counts.

import { ApiError } from "../errors";

export interface RateLimitSubject {
  tenantId: string;
  apiKeyId: string | null;
}

/** Seconds until the limiter's current window ends (windows are aligned to the clock). */
export function secondsToNextWindow(periodSeconds: number, nowMs = Date.now()): number {
  const now = Math.floor(nowMs / 1000);
  return periodSeconds - (now % periodSeconds);
}

export const rateLimited = (retryAfter: number): ApiError =>
  new ApiError(429, `Rate limit reached for requests on this API key. Please try again in ${retryAfter}s.`, {
    type: "requests",
    code: "rate_limit_exceeded",
    headers: { "retry-after": String(retryAfter) },
  });

export async function enforceRateLimit(env: Env, subject: RateLimitSubject, periodSeconds: number): Promise<void> {
  const limiter = (env as { RATE_LIMITER?: RateLimit }).RATE_LIMITER;
  if (limiter === undefined) return;
  const key = subject.apiKeyId !== null ? `key:${subject.apiKeyId}` : `tenant:${subject.tenantId}`;
  if (!(await admits(limiter, key))) throw rateLimited(secondsToNextWindow(periodSeconds));
}

/**
 * Whether the limiter lets one more request with `key` through. A limiter that errs lets it through,
 * with a log line: an outage of the limiter must not become an outage of every /v1 route.
 */
async function admits(limiter: RateLimit, key: string): Promise<boolean> {
  try {
    return (await limiter.limit({ key })).success;
  } catch (error) {
    console.error(
      `the rate limiter failed (${error instanceof Error ? error.message : String(error)}); letting the request through`,
    );
    return true;
  }
}
