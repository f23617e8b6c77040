// One webhook attempt over HTTP: the signed POST (the same `webhook-id` and body every time, a fresh
// timestamp and signature), a timeout, and no redirect followed: only a 2xx counts as delivered,
// a 3xx is a failure like a 4xx, 5xx or timeout (as OpenAI's webhooks), a 410 Gone one not to retry
// (Standard Webhooks), and a failed answer's `Retry-After` is passed on for the dispatcher to
// schedule the next attempt by. Used by the dispatcher.

import { ATTEMPT_TIMEOUT_MS } from "./backoff";
import { signedHeaders } from "./sign";
import { refusalOf } from "./target";

export const WEBHOOK_USER_AGENT = "responses-gateway/1.0 (webhooks; Standard Webhooks)";

export interface AttemptOutcome {
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  delivered: boolean;
  /** Trying again cannot help (the target is refused, the endpoint or its secret is gone). */
  permanent: boolean;
  /** The wait a failed answer's `Retry-After` asked for (ms, 0 for a date past); null without one. */
  retryAfterMs: number | null;
}

export interface AttemptOptions {
  allowLoopback: boolean;
  timeoutMs?: number;
}

/** An attempt that was not made, with why. */
export const notAttempted = (error: string, permanent: boolean): AttemptOutcome => ({
  startedAt: Date.now(),
  durationMs: 0,
  statusCode: null,
  error,
  delivered: false,
  permanent,
  retryAfterMs: null,
});

const MAX_RETRY_AFTER_SECONDS = 365 * 86_400;

/** `Retry-After` as delay-seconds or an HTTP date (RFC 9110), in ms from `now`; null when absent or unreadable. */
export function retryAfterMs(value: string | null, now: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  // A year stands for any longer wait (the delivery is given up past its 72 hours either way), so a
  // value of hundreds of digits is not Infinity in the attempt's error text.
  if (/^\d+$/.test(text)) return Math.min(Number(text), MAX_RETRY_AFTER_SECONDS) * 1000;
  const at = /[a-z]/i.test(text) ? Date.parse(text) : NaN;
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export async function sendWebhook(
  delivery: { id: string; url: string; payload: string },
  secret: string,
  options: AttemptOptions,
): Promise<AttemptOutcome> {
  // Checked again at send time: configuration (WEBHOOK_ALLOW_LOOPBACK) may have changed since.
  const refusal = refusalOf(delivery.url, options.allowLoopback);
  if (refusal !== null) return notAttempted(`The target was refused: ${refusal}.`, true);
  const timeoutMs = options.timeoutMs ?? ATTEMPT_TIMEOUT_MS;
  const startedAt = Date.now();
  const headers = {
    "content-type": "application/json",
    "user-agent": WEBHOOK_USER_AGENT,
    ...(await signedHeaders(secret, delivery.id, delivery.payload)),
  };
  // A timer cleared when the attempt ends, not AbortSignal.timeout(): a pending timer keeps a
  // Durable Object in memory (and busy for a graceful eviction) long after the attempt.
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new DOMException("timed out", "TimeoutError")), timeoutMs);
  try {
    const response = await fetch(delivery.url, {
      method: "POST",
      headers,
      body: delivery.payload,
      redirect: "manual",
      signal: timeout.signal,
    });
    await response.body?.cancel();
    const delivered = response.status >= 200 && response.status < 300;
    const redirect = response.status >= 300 && response.status < 400;
    // 410 Gone: the receiver says it wants no more of these (Standard Webhooks): retrying cannot help.
    const gone = response.status === 410;
    const wait = delivered ? null : retryAfterMs(response.headers.get("retry-after"), Date.now());
    const asked = wait === null ? "" : ` (Retry-After: ${Math.ceil(wait / 1000)} s)`;
    return {
      startedAt,
      durationMs: Date.now() - startedAt,
      statusCode: response.status,
      error: delivered
        ? null
        : `HTTP ${response.status}${redirect ? " (redirects are not followed)" : ""}${gone ? " (Gone: not retried)" : ""}${asked}`,
      delivered,
      permanent: gone,
      retryAfterMs: wait,
    };
  } catch {
    const timedOut = timeout.signal.aborted;
    return {
      startedAt,
      durationMs: Date.now() - startedAt,
      statusCode: null,
      error: timedOut ? `No answer within ${timeoutMs / 1000} seconds.` : "The connection failed.",
      delivered: false,
      permanent: false,
      retryAfterMs: null,
    };
  } finally {
    clearTimeout(timer);
  }
}
