// One webhook attempt over HTTP: the signed POST (the same `webhook-id` and body every time, a fresh
// timestamp and signature), a timeout, and no redirect followed: only a 2xx counts as delivered,
// a 3xx is a failure like a 4xx, 5xx or timeout (as OpenAI's webhooks). Used by the dispatcher.

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
});

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
    return {
      startedAt,
      durationMs: Date.now() - startedAt,
      statusCode: response.status,
      error: delivered ? null : `HTTP ${response.status}${redirect ? " (redirects are not followed)" : ""}`,
      delivered,
      permanent: false,
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
    };
  } finally {
    clearTimeout(timer);
  }
}
