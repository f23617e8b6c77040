// What a failed D1 call looks like from the app: the binding throws `D1_ERROR: ...` (and its kin),
// which Drizzle wraps in an error that carries the query and its parameters. Used by the router, to
// answer a retryable 503 instead of a bare 500, and by the log lines, to say D1's reason without the
// query's parameters (a request's content).

import { DrizzleQueryError } from "drizzle-orm";
import { ApiError, storageNotMigrated, storageUnavailable } from "../errors";

/** The errors from an error down its `cause` chain (a few levels; a cycle stops it). */
function* chain(error: unknown): Generator<unknown> {
  let current = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    yield current;
    current = current instanceof Error ? current.cause : undefined;
  }
}

const D1_MESSAGE = /^D1_[A-Z_]*ERROR\b|^D1 DB\b|\bSQLITE_[A-Z]+\b/;

/** D1's own error in `error`'s chain, if any: the one that says why. */
export function storageFailureOf(error: unknown): Error | undefined {
  for (const link of chain(error)) if (link instanceof Error && D1_MESSAGE.test(link.message)) return link;
  return undefined;
}

/**
 * D1's error says a table or column the code uses does not exist: the database was not migrated to
 * this version (a `wrangler deploy` without `wrangler d1 migrations apply`). Retrying cannot help.
 */
const NOT_MIGRATED = /\bno such (?:table|column)\b|\bhas no column named\b/;

/** Whether `error` is D1 refusing a query for want of a migration (see `NOT_MIGRATED`). */
export const isNotMigrated = (error: unknown): boolean => NOT_MIGRATED.test(storageFailureOf(error)?.message ?? "");

/**
 * D1 refused a write with `cause`: a retryable 503 `storage_unavailable` saying `message` (what was
 * lost, and that a retry may mend it), unless it was for want of a migration, which no retry mends.
 */
export const storageRefused = (message: string, cause?: unknown): ApiError =>
  isNotMigrated(cause) ? storageNotMigrated() : storageUnavailable(message);

/** A Drizzle query error: its message is the query and its parameters, its cause the reason. */
export const isQueryError = (error: unknown): error is DrizzleQueryError => error instanceof DrizzleQueryError;

/**
 * An answer the gateway itself threw from inside a D1 call (a tenant's first write waiting for its
 * move, or a placement that raced: `storage_unavailable` with its `retry-after`), which Drizzle wraps
 * in its query error. The router answers it as thrown, not as a bare 500.
 */
export function wrappedApiError(error: unknown): ApiError | undefined {
  for (const link of chain(error)) if (link instanceof ApiError) return link;
  return undefined;
}
