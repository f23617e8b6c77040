// Lanes of one connection: requests on a lane run one at a time in arrival order, lanes run side by
// side, and at most MAX_IN_FLIGHT run at once, holding at most MAX_RUNNING_BYTES of frames (one alone
// always runs); the rest wait (never refused for a busy lane). The queue's bytes are bounded
// (MAX_QUEUED_BYTES). Used by the socket session.

import type { ApiError } from "../errors";
import { logFailure } from "../observe/problems";
import { MAX_IN_FLIGHT, MAX_QUEUED_BYTES, MAX_RUNNING_BYTES } from "./limits";

export interface QueuedJob {
  lane: string;
  /** Frame size, counted against the queue's budget while the job waits. */
  bytes: number;
  run: () => Promise<void>;
  /** The job will never run (the connection closed, hit its time limit, or `reason`). */
  drop: (reason?: ApiError) => void;
}

export class LaneScheduler {
  readonly #onIdle: () => void;
  readonly #waiting: QueuedJob[] = [];
  readonly #busy = new Set<string>();
  /** Per busy lane: what to run once its request ends (a refusal sent sooner would land among its events). */
  readonly #afterRunning = new Map<string, Array<() => void>>();
  #queuedBytes = 0;
  #runningBytes = 0;

  /** `onIdle` is called each time the last running job ends with nothing waiting. */
  constructor(onIdle: () => void) {
    this.#onIdle = onIdle;
  }

  /** Lanes with a request waiting or running. */
  get activeLanes(): ReadonlySet<string> {
    const lanes = new Set(this.#busy);
    for (const job of this.#waiting) lanes.add(job.lane);
    return lanes;
  }

  get idle(): boolean {
    return this.#busy.size === 0 && this.#waiting.length === 0;
  }

  /** Queues a job; false when the queue is over its byte budget (an empty queue takes any one job). */
  enqueue(job: QueuedJob): boolean {
    if (this.#waiting.length > 0 && this.#queuedBytes + job.bytes > MAX_QUEUED_BYTES) return false;
    this.#waiting.push(job);
    this.#queuedBytes += job.bytes;
    this.#startReady();
    return true;
  }

  /**
   * Drops every job not yet started; running ones finish. Each dropped job's `drop` is called (with
   * `reason` when given) once its lane's running request has ended: a client reads a lane's events
   * in request order, so an error sent amid the running request's events would be taken as its end.
   * `now`: call them at once (the connection is closing, the running requests ended first).
   */
  dropWaiting(reason?: ApiError, now = false): void {
    const dropped = this.#waiting.splice(0);
    this.#queuedBytes = 0;
    for (const job of dropped) {
      if (now) job.drop(reason);
      else this.whenLaneFree(job.lane, () => job.drop(reason));
    }
  }

  /** Calls `notify` now, or once the lane's running request has ended (see dropWaiting). */
  whenLaneFree(lane: string, notify: () => void): void {
    if (!this.#busy.has(lane)) return notify();
    const after = this.#afterRunning.get(lane);
    if (after === undefined) this.#afterRunning.set(lane, [notify]);
    else after.push(notify);
  }

  /**
   * Starts, in arrival order, every waiting job whose lane is free, while slots and running bytes
   * remain; a job over the bytes left waits, and so do the jobs after it (a big frame is not passed over).
   */
  #startReady(): void {
    for (let index = 0; index < this.#waiting.length && this.#busy.size < MAX_IN_FLIGHT;) {
      const job = this.#waiting[index] as QueuedJob;
      if (this.#busy.has(job.lane)) {
        index++;
        continue;
      }
      if (this.#busy.size > 0 && this.#runningBytes + job.bytes > MAX_RUNNING_BYTES) break;
      this.#waiting.splice(index, 1);
      this.#queuedBytes -= job.bytes;
      this.#runningBytes += job.bytes;
      this.#busy.add(job.lane);
      void job
        .run()
        .catch((error: unknown) => logFailure("a websocket job failed", error))
        .finally(() => {
          this.#busy.delete(job.lane);
          this.#runningBytes -= job.bytes;
          const after = this.#afterRunning.get(job.lane) ?? [];
          this.#afterRunning.delete(job.lane);
          for (const notify of after) notify();
          this.#startReady();
          if (this.idle) this.#onIdle();
        });
    }
  }
}
