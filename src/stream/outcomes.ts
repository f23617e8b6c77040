// What a stored run answers when it cannot go on as asked: an upstream that refused (kept as a failed
// response, as OpenAI keeps them, unless it refused the caller's key), a create whose row D1 would not
// take, and an end D1 would not take (the client is told instead of getting the terminal event).
// Used by src/stream/foreground.ts and the background run.

import type { Db } from "../db/client";
import { deleteResponse } from "../db/responses";
import { isNotMigrated, storageRefused } from "../db/failures";
import { ApiError, storageNotMigrated } from "../errors";
import { logFailure } from "../observe/problems";
import { failedByOf } from "../observe/failed-by";
import { recordedOf, runIds, type Recorded } from "../observe/response-end";
import { StreamNormalizer } from "../responses/normalizer";
import { echoOf } from "../responses/response-object";
import type { JsonObject, ResponseError, ResponseObject } from "../responses/types";
import { responseError } from "../responses/types";
import type { RunSpec } from "../run/spec";
import { encodeFrame } from "../sse";
import { framesOf, type FinishOutcome, type ResponseRecorder } from "./recorder";

/**
 * A create whose response's row D1 refused: safe to retry (nothing of it was kept), unless D1
 * refused it for want of a migration (`cause`), which no retry mends.
 */
export const notRecorded = (cause?: unknown): ApiError =>
  storageRefused("The gateway could not record the response because its storage is unavailable; try again.", cause);

/**
 * The error a refused response is kept with: the upstream's code (or one that fits its type), type and
 * param. Anything but an `ApiError` is the gateway's own failure (a failed read, a crash): the client
 * never sees it as the upstream's (an upstream that could not be reached is an `ApiError` naming it).
 */
export function refusalOf(error: unknown): ResponseError {
  if (!(error instanceof ApiError))
    return responseError("server_error", "The gateway failed while running the response.");
  return responseError(error.code ?? codeOfType(error), error.message, error);
}

/**
 * A code for a refusal that came without one, of the spec's codes for a failed response and agreeing
 * with its type: a request the upstream (or the gateway, before its call) found invalid is
 * `invalid_prompt` (`invalid_request_error`), never `server_error` beside a type that blames the request.
 */
function codeOfType(error: ApiError): string {
  if (error.status === 429 || error.type === "rate_limit_error") return "rate_limit_exceeded";
  if (error.type === "invalid_request_error") return "invalid_prompt";
  return "server_error";
}

/**
 * The upstream refused the request or could not be reached: the response is kept as `failed` with
 * the error, except when the upstream refused the caller's key (401/403): then nothing is kept for
 * a key nobody accepted. Never throws (the client gets the upstream's error either way); says what
 * D1 holds of it, for its response line.
 */
export async function recordRefusal(
  db: Db,
  recorder: ResponseRecorder,
  spec: RunSpec,
  base: ResponseObject,
  error: unknown,
  /** What the response spent before the refused call (create-time compaction's summary). */
  spent?: JsonObject,
): Promise<Recorded> {
  const status = error instanceof ApiError ? error.status : 502;
  try {
    if (status === 401 || status === 403) {
      await recorder.stop();
      await deleteResponse(db, spec.tenantId, spec.responseId);
      return "not_kept";
    }
    const normalizer = new StreamNormalizer({
      echo: echoOf(spec.request, { id: spec.responseId, createdAt: spec.createdAt }),
      initial: base,
      background: false,
    });
    normalizer.spend(spent);
    recorder.record(framesOf(normalizer.fail(refusalOf(error), failedByOf(error))));
    const outcome = await recorder.finish({
      responseId: spec.responseId,
      tenantId: spec.tenantId,
      snapshot: normalizer.snapshot,
      turn: null,
    });
    return recordedOf(outcome);
  } catch (failure) {
    logFailure("the refused response could not be recorded", failure, runIds(spec));
    return "storage_failed";
  }
}

/**
 * How a response whose end D1 refused is stored. `rowless`: D1 never had its row (it ended within
 * its first second), so only the Worker's late record (about 19 s of tries) can keep it; a row D1
 * has is ended failed by the late record or, failing that, the sweep.
 */
const storedFailed = (rowless: boolean): string =>
  rowless
    ? "it is stored as failed, with its output, if the storage takes it within 20 seconds, else not at all"
    : "it is stored as failed, with its output, once the storage takes it";

/**
 * A JSON create whose run ended but whose end D1 refused: the response exists (its row, or the row
 * recorded late), so the answer names it; a retry makes another. A missing migration is said as such.
 * `rowless`: see `storedFailed`.
 */
export const endNotRecorded = (responseId: string, cause?: unknown, rowless = false): ApiError =>
  storageRefused(
    `The gateway could not record the end of response '${responseId}' because its storage is unavailable; ${storedFailed(rowless)}. Try again to make another response.`,
    cause,
  );

/**
 * The error a foreground response whose end D1 refused is recorded with, if D1 takes it later:
 * `streamed`, its client had the output (a stream); else it was answered `endNotRecorded`.
 */
export const refusedEndMessage = (streamed: boolean): string =>
  `The response's end could not be recorded: the gateway's storage was unavailable. ${streamed ? "Its output was streamed." : "Its create was answered with a 503 storage_unavailable."}`;

/** An `error` event frame numbered `seq`. */
export function errorFrame(seq: number, code: string, message: string): string {
  const error = { type: "server_error", code, message, param: null };
  return encodeFrame(
    "error",
    JSON.stringify({ type: "error", sequence_number: seq, code, message, param: null, error }),
  );
}

/**
 * The frame a client gets instead of the terminal event when the end could not be recorded; `cause`:
 * the error D1 refused the write with (a missing migration is said as such, not as a passing fault).
 * `failed`: nothing of the response is kept; `end_refused`: its end was refused, and the stored
 * response ends `failed` (src/stream/foreground.ts `recordRefusedEnd`, or the sweep).
 */
export function unrecordedEnd(
  outcome: Exclude<FinishOutcome, "written"> | "end_refused",
  seq: number,
  cause?: unknown,
  /** For `end_refused`: D1 never had the row (see `storedFailed`). */
  rowless = false,
): string {
  const refused = outcome !== "ended_elsewhere";
  const unmigrated = refused && isNotMigrated(cause);
  const message = unmigrated
    ? `The response was streamed but could not be recorded. ${storageNotMigrated().message}`
    : outcome === "failed"
      ? "The response could not be recorded: the gateway's storage is unavailable. Its output was streamed but is not stored."
      : outcome === "end_refused"
        ? `The response's end could not be recorded: the gateway's storage is unavailable. Its output was streamed; the stored response ends failed${rowless ? " if the storage takes it within 20 seconds, else it is not stored" : ""}.`
        : "The response was deleted or ended by the gateway before its end could be recorded.";
  const code = unmigrated ? "database_not_migrated" : refused ? "storage_unavailable" : "response_not_recorded";
  return errorFrame(seq, code, message);
}
