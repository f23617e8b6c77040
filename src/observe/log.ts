// The shape of every log line the gateway writes: one JSON object per console call, which Workers Logs
// indexes field by field and `wrangler tail --format json` shows whole. Used by src/observe/*.

import { isQueryError } from "../db/failures";
import { urlHost } from "../url-host";

/** What a line is about; a stable value to filter on (the `msg` says the particular cause). */
export type LogEvent =
  | "request"
  | "response_end"
  | "upstream_failure"
  | "upstream_anomaly"
  | "webhook_failure"
  | "webhook_recovered"
  | "d1_retry"
  | "d1_failure"
  | "d1_recovered"
  | "sweep"
  | "retention"
  | "usage_rollup"
  | "tenant_move"
  | "config"
  | "config_problem"
  | "failure";

export type LogFields = Record<string, string | number | boolean | null | undefined>;

type Level = "log" | "warn" | "error";

/** Writes one line: `{event, msg, ...fields}`. Fields are ids, names and numbers, never a key or a body. */
export function emit(level: Level, event: LogEvent, msg: string, fields: LogFields = {}): void {
  console[level]({ event, msg, ...fields });
}

/** Longest cause kept in a line: enough for any error message, short of a body someone pasted in one. */
const MAX_CAUSE_CHARS = 300;

/** `scheme://[user:pass@]host/...` anywhere in a text: reduced to its host, so no credential or path leaks. */
const URL_PATTERN = /\b[a-z][a-z0-9+.-]*:\/\/(?:[^\s/@'"]*@)?([^\s/?#'"]+)[^\s'"]*/gi;

/** An error as a short text for a line: its message with any URL cut to its host; never its stack. */
export function causeOf(error: unknown): string {
  // A failed query's message is its SQL and parameters (a request's content): its cause says why.
  if (isQueryError(error)) return `query failed: ${error.cause === undefined ? "no cause" : causeOf(error.cause)}`;
  return clean(error instanceof Error ? `${error.name}: ${error.message}` : String(error), MAX_CAUSE_CHARS);
}

/** Longest stack kept: the frames that matter are the first ones. */
const MAX_STACK_CHARS = 2_000;

/** A crash's stack (source-mapped by Workers Logs when `upload_source_maps` is on), cleaned as a cause is. */
export function stackOf(error: unknown): string | null {
  return error instanceof Error && error.stack !== undefined ? clean(error.stack, MAX_STACK_CHARS) : null;
}

function clean(text: string, max: number): string {
  const bare = text.replace(URL_PATTERN, "$1");
  return bare.length > max ? `${bare.slice(0, max)}…` : bare;
}

/** The host (and port) of a URL, without its credentials or path; the text itself when it is not one. */
export const hostOf = (url: string): string => urlHost(url) ?? "(invalid url)";
