// Writes a run to D1 in batches: the response row when it starts, packed event rows by size,
// and the terminal write. D1 may lag the stream; it never loses what the DO's log recorded:
// a failed batch is retried from the log, and the DO keeps its log until D1 has everything.

import type { Db } from "../db/client";
import { eventStatements, finalStatements, progressStatement, type FinalState, type Statement } from "../db/responses";
import type { EventLog } from "./event-log";

/** Pending event characters that trigger a flush before the end (D1 rows stay far below 2 MB). */
export const FLUSH_CHARS = 256 * 1024;
/** A long, slow run still shows progress in D1 this often. */
export const FLUSH_INTERVAL_MS = 10_000;
/** Attempts of the terminal write before the run hands it to the alarm. */
const FINAL_ATTEMPTS = 4;
/** Longest pause between refused progress flushes (the next event after it tries again). */
const MAX_FLUSH_BACKOFF_MS = 30_000;

export interface RecorderOptions {
  db: Db;
  responseId: string;
  log: EventLog;
  /** Last sequence number already in D1 (-1: none). */
  flushedUpTo: number;
  /** Events are flushed only once the response row exists. */
  canFlush: () => boolean;
  /** Persists progress so a restarted object resumes where D1 is. */
  onFlushed: (upTo: number) => void;
  onError: (error: unknown) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class D1Recorder {
  readonly #options: RecorderOptions;
  #flushedUpTo: number;
  #recordedUpTo: number;
  #pendingChars = 0;
  #lastFlushAt = Date.now();
  #inflight: Promise<void> | undefined;
  #status = "in_progress";
  #failures = 0;
  /** No progress flush before this time (D1 refused the last one). */
  #retryAt = 0;
  #stopped = false;

  constructor(options: RecorderOptions) {
    this.#options = options;
    this.#flushedUpTo = options.flushedUpTo;
    this.#recordedUpTo = options.flushedUpTo;
  }

  get flushedUpTo(): number {
    return this.#flushedUpTo;
  }

  /** Runs `statements` as one batch, retrying a few times; throws if they keep failing. */
  async write(statements: Statement[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#options.db.batch(statements as [Statement, ...Statement[]]);
        return;
      } catch (error) {
        this.#options.onError(error);
        if (attempt + 1 >= FINAL_ATTEMPTS) throw error;
        await sleep(100 * 2 ** attempt);
      }
    }
  }

  /** Notes a recorded event; starts a flush when enough is pending. */
  recorded(seq: number, chars: number, status: string): void {
    this.#recordedUpTo = seq;
    this.#pendingChars += chars;
    this.#status = status;
    if (this.#pendingChars >= FLUSH_CHARS || Date.now() - this.#lastFlushAt >= FLUSH_INTERVAL_MS) this.#flushSoon();
  }

  #flushSoon(): void {
    if (this.#inflight !== undefined || this.#stopped || !this.#options.canFlush()) return;
    // Backing off is skipping flushes, not sleeping in one: the terminal write never waits for a pause.
    if (Date.now() < this.#retryAt) return;
    this.#inflight = this.#flush()
      .catch((error: unknown) => {
        this.#failures += 1;
        this.#retryAt = Date.now() + Math.min(250 * 2 ** this.#failures, MAX_FLUSH_BACKOFF_MS);
        this.#options.onError(error);
      })
      .finally(() => {
        this.#inflight = undefined;
      });
  }

  async #flush(): Promise<void> {
    const from = this.#flushedUpTo + 1;
    const to = this.#recordedUpTo;
    if (to < from) return;
    const { db, responseId, log } = this.#options;
    const chars = this.#pendingChars;
    await db.batch([
      progressStatement(db, responseId, this.#status, to + 1),
      ...eventStatements(db, responseId, from, log.read(from, to)),
    ]);
    this.#failures = 0;
    this.#flushedUpTo = to;
    this.#pendingChars = Math.max(0, this.#pendingChars - chars);
    this.#lastFlushAt = Date.now();
    this.#options.onFlushed(to);
  }

  /** Stops further flushes (the response was deleted) and waits for one in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#inflight;
  }

  /** The terminal write: remaining events and the final state in one batch. False if D1 kept failing. */
  async finalize(final: FinalState, lastSeq: number): Promise<boolean> {
    await this.#inflight;
    if (this.#stopped) return true;
    const { db, responseId, log } = this.#options;
    const from = this.#flushedUpTo + 1;
    try {
      await this.write([
        ...(lastSeq >= from ? eventStatements(db, responseId, from, log.read(from, lastSeq)) : []),
        ...finalStatements(db, final),
      ]);
    } catch {
      return false;
    }
    this.#flushedUpTo = lastSeq;
    this.#options.onFlushed(lastSeq);
    return true;
  }
}
