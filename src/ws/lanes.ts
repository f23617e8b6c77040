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
  /** Lane -> its running job. */
  readonly #busy = new Map<string, QueuedJob>();
  /** What to run once a job has ended or been dropped: refusals that must follow its events. */
  readonly #after = new Map<QueuedJob, Array<() => void>>();
  #queuedBytes = 0;
  #runningBytes = 0;

  /** `onIdle` is called each time the last running job ends with nothing waiting. */
  constructor(onIdle: () => void) {
    this.#onIdle = onIdle;
  }

  /** Lanes with a request waiting or running. */
  get activeLanes(): ReadonlySet<string> {
    const lanes = new Set(this.#busy.keys());
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
      const drop = () => {
        job.drop(reason);
        this.#ended(job);
      };
      const running = now ? undefined : this.#busy.get(job.lane);
      if (running === undefined) drop();
      else this.#attach(running, drop);
    }
  }

  /** Calls `notify` once every request now running or waiting on `lane` has ended, at once if none is (see dropWaiting). */
  afterLane(lane: string, notify: () => void): void {
    const last = this.#waiting.findLast((job) => job.lane === lane) ?? this.#busy.get(lane);
    if (last === undefined) notify();
    else this.#attach(last, notify);
  }

  #attach(job: QueuedJob, notify: () => void): void {
    const after = this.#after.get(job);
    if (after === undefined) this.#after.set(job, [notify]);
    else after.push(notify);
  }

  #ended(job: QueuedJob): void {
    const after = this.#after.get(job) ?? [];
    this.#after.delete(job);
    for (const notify of after) notify();
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
      this.#busy.set(job.lane, job);
      void job
        .run()
        .catch((error: unknown) => logFailure("a websocket job failed", error))
        .finally(() => {
          this.#busy.delete(job.lane);
          this.#runningBytes -= job.bytes;
          this.#ended(job);
          this.#startReady();
          if (this.idle) this.#onIdle();
        });
    }
  }
}
