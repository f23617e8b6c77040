// What a failed D1 call looks like from the app: the binding throws `D1_ERROR: ...` (and its kin),
// which Drizzle wraps in an error that carries the query and its parameters. Used by the router, to
// answer a retryable 503 instead of a bare 500, and by the log lines, to say D1's reason without the
// query's parameters (a request's content).

import { DrizzleQueryError } from "drizzle-orm";

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

/** A Drizzle query error: its message is the query and its parameters, its cause the reason. */
export const isQueryError = (error: unknown): error is DrizzleQueryError => error instanceof DrizzleQueryError;
