// Wire types of the Responses domain, loose on purpose: upstream payloads are untrusted and
// pass through with fields we do not know. Used by the reducer, adapters, the run and routes.

export type JsonObject = { [key: string]: unknown };

export type ResponseStatus = "queued" | "in_progress" | "completed" | "failed" | "incomplete" | "cancelled";

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(["completed", "failed", "incomplete", "cancelled"]);

/** A Response object as OpenAI serializes it: every field present, nulls included. */
export interface ResponseObject extends JsonObject {
  id: string;
  object: "response";
  created_at: number;
  status: ResponseStatus;
  output: OutputItem[];
}

/** An output (or replayed input) item: `message`, `function_call`, `reasoning`, hosted tool calls... */
export interface OutputItem extends JsonObject {
  type: string;
  id?: string;
}

/** An input item as a client sends it (`EasyInputMessage`, `function_call_output`, ...). */
export type InputItem = JsonObject;

/** A Responses stream event. `sequence_number` is assigned by the gateway's normalizer. */
export interface StreamEvent extends JsonObject {
  type: string;
  sequence_number?: number;
}

export const LIFECYCLE_EVENTS: ReadonlySet<string> = new Set([
  "response.created",
  "response.queued",
  "response.in_progress",
  "response.completed",
  "response.failed",
  "response.incomplete",
]);

export const TERMINAL_EVENTS: ReadonlySet<string> = new Set([
  "response.completed",
  "response.failed",
  "response.incomplete",
]);

/**
 * What made a response fail, for its response line (never sent): the upstream's own error (an HTTP
 * refusal, an `error` event, its `response.failed`; or no answer at all), a stream the gateway could not
 * use (not JSON, untranslatable, against the event grammar, too large, cut off), a silent stream
 * (UPSTREAM_IDLE_TIMEOUT_MS), MAX_RUN_SECONDS, or the gateway itself (a crash, a row D1 refused, a dead run,
 * a refusal of its own: src/observe/failed-by.ts).
 */
export type FailedBy = "upstream_error" | "upstream_stream" | "upstream_idle" | "max_run_time" | "gateway";

/**
 * The `error` a failed Response carries (`ResponseError`). `type` and `param` are optional in the
 * spec, but the Vercel AI SDK rejects a non-streaming Response whose error has no `type`.
 */
export interface ResponseError {
  code: string;
  message: string;
  type: string;
  param: string | null;
}

/**
 * The `type` of a failed Response's error whose sender gave none, by its code: the spec's codes
 * that fault the request are `invalid_request_error`, a rate limit is `rate_limit_error` (as the
 * gateway's own 429s), OpenAI's `insufficient_quota` is its own type; every other code (the
 * gateway's and the upstream's failures) is `server_error`.
 */
const ERROR_TYPES: Readonly<Record<string, string>> = {
  rate_limit_exceeded: "rate_limit_error",
  insufficient_quota: "insufficient_quota",
  ...Object.fromEntries(
    [
      "invalid_prompt",
      "data_residency_mismatch",
      "bio_policy",
      "invalid_image",
      "invalid_image_format",
      "invalid_base64_image",
      "invalid_image_url",
      "image_too_large",
      "image_too_small",
      "image_parse_error",
      "image_content_policy_violation",
      "invalid_image_mode",
      "image_file_too_large",
      "unsupported_image_media_type",
      "empty_image_file",
      "failed_to_download_image",
      "image_file_not_found",
    ].map((code) => [code, "invalid_request_error"]),
  ),
};

/** The one way a Response's `error` is built: `from`'s `type` and `param` (an upstream's) when it has them. */
export function responseError(
  code: string,
  message: string,
  from: { type?: unknown; param?: unknown } = {},
): ResponseError {
  const type = textOf(from.type) || (ERROR_TYPES[code] ?? "server_error");
  return { code, message, type, param: textOf(from.param) || null };
}

/** A string field of an untrusted object, or "" when absent or not a string. */
export const textOf = (value: unknown): string => (typeof value === "string" ? value : "");
