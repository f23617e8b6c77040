// Per-key request rate limits through the Workers rate-limiting binding `RATE_LIMITER` (limit and
// period set in wrangler.toml): keyed by gateway key id in keys mode, by tenant in pass-through
// mode. Without the binding there is no limit. Used by `authenticate`, so every /v1 route counts, and
// by the router for the `x-ratelimit-*` headers.

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

/** The binding's `simple.limit` in wrangler.toml; `RATE_LIMIT_REQUESTS` must repeat it (a binding cannot be asked). */
const DEFAULT_LIMIT = 600;

export interface RateLimitPolicy {
  limit: number;
  periodSeconds: number;
}

/** The limiter's configured policy, or null without the binding (no limit, no headers). */
export function rateLimitPolicy(env: Env, periodSeconds: number): RateLimitPolicy | null {
  if ((env as { RATE_LIMITER?: RateLimit }).RATE_LIMITER === undefined) return null;
  const raw = (env as unknown as Record<string, unknown>).RATE_LIMIT_REQUESTS;
  const limit = typeof raw === "string" && /^\d{1,9}$/.test(raw.trim()) ? Number(raw) : DEFAULT_LIMIT;
  return { limit, periodSeconds };
}

/**
 * What the limiter honestly knows on every answer: the limit and its window. The binding says only
 * whether a request passed, so the remaining count and reset time are sent only with a 429.
 */
export const policyHeaders = ({ limit, periodSeconds }: RateLimitPolicy): Record<string, string> => ({
  "x-ratelimit-limit-requests": String(limit),
  "ratelimit-policy": `${limit};w=${periodSeconds}`,
});

export const rateLimited = (retryAfter: number, policy?: RateLimitPolicy): ApiError =>
  new ApiError(429, `Rate limit reached for requests on this API key. Please try again in ${retryAfter}s.`, {
    type: "requests",
    code: "rate_limit_exceeded",
    headers: {
      ...(policy === undefined ? {} : policyHeaders(policy)),
      "retry-after": String(retryAfter),
      "x-ratelimit-remaining-requests": "0",
      "x-ratelimit-reset-requests": `${retryAfter}s`,
    },
  });

export async function enforceRateLimit(env: Env, subject: RateLimitSubject, periodSeconds: number): Promise<void> {
  const limiter = (env as { RATE_LIMITER?: RateLimit }).RATE_LIMITER;
  if (limiter === undefined) return;
  const key = subject.apiKeyId !== null ? `key:${subject.apiKeyId}` : `tenant:${subject.tenantId}`;
  const { success } = await limiter.limit({ key });
  if (!success) throw rateLimited(secondsToNextWindow(periodSeconds), rateLimitPolicy(env, periodSeconds) ?? undefined);
}
