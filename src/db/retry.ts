// A D1 write tried again after a refusal, with a growing pause: the recorder's start and terminal
// writes and a store:false turn's conversation append ride out an outage of a few seconds this way.
// A refusal no retry mends (a missing migration, or the gateway's own answer thrown from inside the
// write, such as a tenant move that outlasted its wait) ends the tries at once.

import type { WriteAttempt } from "../observe/problems";
import { isNotMigrated, wrappedApiError } from "./failures";

export interface RetryPlan {
  /** Tries in all (the first included). */
  attempts: number;
  /** Longest pause between two tries; the pauses double from 0.1 s up to it. */
  maxPauseMs: number;
  /**
   * A try D1 refused, and where the tries stand. Not called for the gateway's own answer, which is
   * logged as such where it is thrown.
   */
  onRefused: (error: unknown, attempt: WriteAttempt) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `attemptWrite` until it lands; rethrows the last refusal once the tries are spent or hopeless. */
export async function retryWrite<T>(attemptWrite: () => Promise<T>, plan: RetryPlan): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await attemptWrite();
    } catch (error) {
      if (wrappedApiError(error) !== undefined) throw error;
      plan.onRefused(error, { attempt: attempt + 1, of: plan.attempts });
      if (attempt + 1 >= plan.attempts || isNotMigrated(error)) throw error;
      await sleep(Math.min(100 * 2 ** attempt, plan.maxPauseMs));
    }
  }
}
