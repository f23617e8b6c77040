// What a run's upstream calls did, for the response line (attempts, when its headers came) and a line per
// failed attempt naming the host and the cause. Used by src/upstream/client.ts; a run hands it an
// `UpstreamCall` to fill for its own call and another for its compaction's summary calls; other calls
// (input_tokens, compact) only get the failure lines.

import { causeOf, emit, hostOf, type LogFields } from "./log";

/** A run's record of its upstream call, or of its summary calls. */
export class UpstreamCall {
  /** Calls made (a run's own, or its compaction's summary calls). */
  calls = 0;
  /** Attempts made over all its calls (each call's first, and its retries). */
  attempts = 0;
  /** When the upstream answered 2xx with its headers (ms), or null. */
  answeredAt: number | null = null;

  /** Ids the failure lines carry (response, tenant). */
  constructor(readonly fields: LogFields) {}

  /** Attempts beyond each call's first. */
  get retries(): number {
    return Math.max(0, this.attempts - this.calls);
  }
}

/** The watcher `callUpstream` reports each attempt to. */
export interface CallWatch {
  attempt(): void;
  answered(response: Response): Response;
  /** An attempt failed: the connection (an error), the first-byte timeout, or an HTTP status. */
  failed(attempt: number, cause: unknown): void;
}

export function watchCall(
  baseUrl: string,
  options: { requestId: string; retries: number; observer?: UpstreamCall },
): CallWatch {
  const call = options.observer ?? new UpstreamCall({});
  call.calls += 1;
  return {
    attempt: () => void (call.attempts += 1),
    answered: (response) => {
      call.answeredAt = Date.now();
      return response;
    },
    failed: (attempt, cause) =>
      logUpstreamFailure(baseUrl, cause, {
        request_id: options.requestId,
        ...call.fields,
        attempt: attempt + 1,
        max_attempts: options.retries + 1,
      }),
  };
}

/**
 * A line for an upstream call that failed: `cause` is the connection's error, "first_byte_timeout",
 * or the HTTP status it answered. Also used for calls outside a run (the /v1/models listing).
 */
export function logUpstreamFailure(baseUrl: string, cause: unknown, fields: LogFields): void {
  const status = typeof cause === "number" ? cause : null;
  const why =
    cause === "first_byte_timeout"
      ? "no headers within the first-byte timeout"
      : status !== null
        ? `HTTP ${status}`
        : causeOf(cause);
  const host = hostOf(baseUrl);
  emit("warn", "upstream_failure", `upstream ${host} failed: ${why}`, {
    ...fields,
    upstream: host,
    upstream_status: status,
    cause: why,
  });
}
