// What failed a response that a refused create or run ended (nothing streamed): the upstream, or the
// gateway itself. Used by every refusal path (src/stream/, src/run/) for its response line.

import { ApiError } from "../errors";
import type { FailedBy } from "../responses/types";

/** The gateway's own errors about the upstream: it could not be reached, did not answer, refused the key. */
const ABOUT_THE_UPSTREAM: ReadonlySet<string> = new Set([
  "upstream_unreachable",
  "upstream_timeout",
  "upstream_key_refused",
]);

/**
 * An error the gateway made of an upstream answer it could not use, naming what failed it as a run's
 * stream would be named: a summary too large, unreadable or empty (`upstream_stream`), or stalled (`upstream_idle`).
 */
export class UnusableAnswer extends ApiError {
  constructor(
    readonly failedBy: "upstream_stream" | "upstream_idle",
    message: string,
    options: { status?: number; code?: string } = {},
  ) {
    super(options.status ?? 502, message, { type: "server_error", code: options.code ?? null });
  }
}

/**
 * `upstream_error` for the upstream's own HTTP error and the gateway's errors about the upstream;
 * `gateway` for the rest: a refusal the gateway made before or without a call (an unopenable
 * compaction item, a compaction with nothing to compact, a missing COMPACTION_SECRET), a D1 failure, a crash;
 * an `UnusableAnswer`'s own.
 */
export function failedByOf(error: unknown): FailedBy {
  if (error instanceof UnusableAnswer) return error.failedBy;
  if (!(error instanceof ApiError)) return "gateway";
  return error.fromUpstream || ABOUT_THE_UPSTREAM.has(error.code ?? "") ? "upstream_error" : "gateway";
}
