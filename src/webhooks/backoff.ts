// When a failed webhook delivery is tried again: exponential backoff with jitter from a
// configurable base, capped at an hour, for up to 72 hours after the event (as OpenAI promises); a
// receiver's `Retry-After` lengthens a wait up to that cap (as Standard Webhooks asks), never shortens it.
// Used by the webhook dispatcher of the ResponseRun DO and by each attempt (its timeout).

/** Longest wait between two attempts. */
export const MAX_RETRY_DELAY_MS = 60 * 60 * 1000;
/** How long a delivery is retried before it is given up as failed. */
export const DELIVERY_WINDOW_MS = 72 * 60 * 60 * 1000;
/**
 * Time one attempt may take: the low end of Standard Webhooks' 15-30 s, as Svix waits. OpenAI asks
 * receivers to answer "within a few seconds"; a slower one still counts, rather than being sent again.
 */
export const ATTEMPT_TIMEOUT_MS = 15_000;

/**
 * The wait after the `failures`-th failed attempt (1, 2, ...): `base * 2^(failures-1)`, capped,
 * then jittered into its upper half so retries of many deliveries do not arrive in step.
 */
export function retryDelayMs(failures: number, baseMs: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 40);
  const delay = Math.min(Math.max(baseMs, 1) * 2 ** exponent, MAX_RETRY_DELAY_MS);
  return Math.round(delay / 2 + (delay / 2) * random());
}

export interface NextStep {
  status: "pending" | "delivered" | "failed";
  nextAttemptAt: number | null;
}

/**
 * What follows an attempt: delivered, another try after the backoff (or after the receiver's
 * `Retry-After`, when longer, up to the one-hour cap), or given up (permanent, or past `giveUpAt`).
 */
export function afterAttempt(
  failures: number,
  outcome: { delivered: boolean; permanent: boolean; retryAfterMs?: number | null },
  now: number,
  giveUpAt: number,
  baseMs: number,
  random: () => number = Math.random,
): NextStep {
  if (outcome.delivered) return { status: "delivered", nextAttemptAt: null };
  const asked = Math.min(outcome.retryAfterMs ?? 0, MAX_RETRY_DELAY_MS);
  const next = now + Math.max(retryDelayMs(failures, baseMs, random), asked);
  if (outcome.permanent || next > giveUpAt) return { status: "failed", nextAttemptAt: null };
  return { status: "pending", nextAttemptAt: next };
}
