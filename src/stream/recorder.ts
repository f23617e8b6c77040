// Records one response into D1 while it runs: the row when it starts (a foreground one's with its end
// when it ends within a second, else a second in or once a batch's worth of events waits:
// `deferStart`); every flush interval a heartbeat (which renews its conversation lease and tells the
// sweep it is alive) that also carries the events not yet in a batch row, compressed into the row's
// tail; a batch row once those events reach the size limit; and the terminal write, which carries the
// last of them, before the client may see the terminal event. A response shorter than the size limit
// so never writes a batch row: each interval rewrites the one row it already has. Used by the
// Worker's stored foreground streams (src/stream/foreground.ts) and the background Durable Object
// (src/run/).

import { runBatch, type Db, type Statement } from "../db/client";
import { runWrites } from "../db/prepared";
import { retryWrite } from "../db/retry";
import { holdClaimStatement, renewClaimStatement } from "../db/conversations";
import { batchStatements, compressEvents, type RecordedEvent } from "../db/event-batches";
import { MAX_INLINE_BYTES } from "../db/large-values";
import {
  encodeEnded,
  encodeFinal,
  encodeRow,
  finalStatements,
  heartbeatStatement,
  runningRow,
  insertEndedStatements,
  insertResponseStatements,
  type EventTail,
  type EncodedRow,
  type FinalState,
  type NewResponseRow,
} from "../db/responses";
import type { WriteAttempt } from "../observe/problems";
import type { NormalizedEvent } from "../responses/normalizer";
import { leaseUntil } from "../run/conversation-turn";
import { encodeFrame } from "../sse";
import { leftRuns, yieldedClaims } from "./local-stops";
import { noteLeftMark, noteRowWrite } from "./unwritten-rows";

/** An event as the client is sent it: its sequence number and SSE frame. */
export interface EventFrame {
  seq: number;
  frame: string;
  terminal: boolean;
}

/** The frames of normalized events, encoded once for the recorder and the client alike. */
export const framesOf = (events: readonly NormalizedEvent[]): EventFrame[] =>
  events.map((event) => ({ seq: event.seq, frame: encodeFrame(event.type, event.json), terminal: event.terminal }));

/** Attempts of the start and terminal writes before they are given up (each a D1 batch). */
const WRITE_ATTEMPTS = 4;
/** Longest pause between two attempts of one write. */
const MAX_WRITE_PAUSE_MS = 2_000;
/** Longest pause between refused progress flushes (the next flush tries again). */
const MAX_FLUSH_BACKOFF_MS = 30_000;

export interface RecorderOptions {
  db: Db;
  responseId: string;
  tenantId: string;
  /** A batch is written at least this often while events are pending, and the heartbeat as often. */
  flushIntervalMs: number;
  /** Pending frame characters that start a batch before the interval is up. */
  flushChars: number;
  /** The conversation the run holds a claim on, renewed by each heartbeat. */
  conversationId: string | null;
  /** Events already in D1 (a recovered run continues after them). */
  recordedUpTo?: number;
  /** Status the heartbeat writes while the run has not ended. */
  status?: () => string;
  /**
   * A heartbeat found the row gone or already ended (a delete, a sweep): nothing more of this run
   * will be kept, so it should stop. Called once.
   */
  onGone?: () => void;
  /** Another response took the conversation the run had yielded (`yieldClaim`). Called once. */
  onPreempted?: () => void;
  /** A D1 write failed; `attempt` says where a retried write stands (a progress flush has none). */
  onError: (what: string, error: unknown, attempt?: WriteAttempt) => void;
  /**
   * Attempts of the terminal write (WRITE_ATTEMPTS unless set; the pauses double from 0.1 s up to
   * 2 s): a foreground run's client waits for them, so it rides out an outage of a few seconds.
   */
  endAttempts?: number;
}

export type FinishOutcome = "written" | "ended_elsewhere" | "failed";

/** A row whose write waits (see `deferStart`), and how to settle what waits on it. */
interface DeferredRow {
  row: NewResponseRow;
  written: () => void;
  refused: (error: unknown) => void;
}

export class ResponseRecorder {
  readonly #options: RecorderOptions;
  /** Events recorded but not yet in D1, oldest first. */
  #pending: RecordedEvent[] = [];
  #pendingChars = 0;
  /** Events D1 has only in the row's tail (not in a batch row), oldest first: each flush rewrites them. */
  #rowTail: RecordedEvent[] = [];
  #rowTailChars = 0;
  /** The last sequence number D1 has. */
  #flushedUpTo: number;
  #inflight: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** While readers watch the run (`flushWhileWatched`): flushes of pending events, besides the heartbeat. */
  #watched: ReturnType<typeof setInterval> | undefined;
  /** The one early heartbeat (`heartbeatIn`), once armed. */
  #soon: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  #retryAt = 0;
  /** The error of the last write D1 kept refusing (every attempt failed), for the client's answer. */
  #refusal: unknown;
  #stopped = false;
  #started = false;
  /** The start write while it runs (a stream's events go out meanwhile); the end waits for it. */
  #starting: Promise<void> | undefined;
  /** A row not written yet (see `deferStart`): `begin` writes it, or `finish` with the end. */
  #deferred: DeferredRow | undefined;
  #beginTimer: ReturnType<typeof setTimeout> | undefined;
  /** The terminal event's number once recorded: it reaches D1 only with the end, never in a batch. */
  #terminalSeq = Number.POSITIVE_INFINITY;
  /** The conversation claim is yielded (`yieldClaim`): heartbeats keep it lapsed and check it is still held. */
  #yielded = false;
  /** The write that yielded it, while it runs. */
  #yielding: Promise<void> | undefined;
  /** Another response took the yielded claim. */
  #preempted = false;
  /** Unlists the yielded claim (src/stream/local-stops.ts). */
  #unlist: (() => void) | undefined;
  /** The client left (`markLeft`): the next flush marks the row so. */
  #left = false;
  /** D1 has the mark, with every event recorded before it. */
  #marked = false;
  /** The flush that marks the row left, once `markLeft` asked for it. */
  #marking: Promise<void> | undefined;
  /** Unlists the left run (src/stream/local-stops.ts). */
  #unlistLeft: (() => void) | undefined;
  /** A deferred row whose end D1 refused: `refinish` inserts it as it ended. */
  #refusedRow: NewResponseRow | undefined;

  constructor(options: RecorderOptions) {
    this.#options = options;
    this.#flushedUpTo = options.recordedUpTo ?? -1;
  }

  /** The last sequence number D1 has (-1: none). */
  get flushedUpTo(): number {
    return this.#flushedUpTo;
  }

  /** The error of the last write D1 kept refusing, if any (see `notRecorded`). */
  get refusal(): unknown {
    return this.#refusal;
  }

  /** D1 refused the end of a row it never had (see `deferStart`): only `refinish` can insert it. */
  get rowless(): boolean {
    return this.#refusedRow !== undefined;
  }

  /** Events recorded and not yet written to D1 (a live reader serves them from memory). */
  get pending(): readonly RecordedEvent[] {
    return this.#pending;
  }

  /** Runs `statements` as one batch, retrying a few times; throws if they keep failing (each failure logged as `what`). */
  async write(statements: Statement[], what = "D1 write failed"): Promise<void> {
    await this.#retried(what, () => runBatch(this.#options.db, statements));
  }

  /** `attemptWrite`, tried up to `attempts` times (src/db/retry.ts); each refusal is reported as `what`. */
  async #retried<T>(what: string, attemptWrite: () => Promise<T>, attempts = WRITE_ATTEMPTS): Promise<T> {
    try {
      return await retryWrite(attemptWrite, {
        attempts,
        maxPauseMs: MAX_WRITE_PAUSE_MS,
        onRefused: (error, attempt) => this.#options.onError(what, error, attempt),
      });
    } catch (error) {
      this.#refusal = error;
      throw error;
    }
  }

  /**
   * Writes the response row (and its input); rejects if D1 keeps refusing it. Starts the heartbeat.
   * Events may be recorded meanwhile: they wait in memory, and `finish` waits for this write.
   */
  start(row: EncodedRow): Promise<void> {
    // Named in its d1_ lines, as the terminal write is: the operator learns the response was never created.
    const what = "the first write (the response's row and its input) failed";
    this.#starting = this.write(insertResponseStatements(this.#options.db, row), what).then(() => {
      this.#started = true;
      this.#arm();
    });
    // Handled here for whoever reads it later (the end, or the caller once its upstream answered).
    this.#starting.catch(() => undefined);
    return this.#starting;
  }

  /**
   * Like `start`, but the write goes only after `latestMs` (or at `begin()`, or once `flushChars` of
   * events wait: they are held in memory until the row is in D1); a run that ends before then writes
   * its row with its end, in one batch (one D1 call for a short response instead of two).
   * Until the row is written, a lookup of the id in this isolate waits for it
   * (src/stream/unwritten-rows.ts). The write stays this request's own: a lookup's request does not
   * start it, as its timers and I/O would end with that request.
   */
  deferStart(row: NewResponseRow, latestMs: number): Promise<void> {
    this.#starting = new Promise<void>((written, refused) => (this.#deferred = { row, written, refused }));
    this.#starting.catch(() => undefined);
    this.#beginTimer = setTimeout(() => this.begin(), latestMs);
    noteRowWrite(this.#options.tenantId, this.#options.responseId, this.#starting);
    return this.#starting;
  }

  /** Lets a deferred start write go now (nothing if it has gone already). */
  begin(): void {
    const deferred = this.#takeDeferred();
    if (deferred === undefined) return;
    Promise.resolve()
      .then(() => this.start(encodeRow(deferred.row)))
      .then(deferred.written, deferred.refused);
  }

  #takeDeferred(): DeferredRow | undefined {
    const deferred = this.#deferred;
    this.#deferred = undefined;
    clearTimeout(this.#beginTimer);
    return deferred;
  }

  /** Starts the heartbeat of a run whose row already exists (a recovered background run). */
  resume(): void {
    this.#started = true;
    this.#arm();
  }

  /** Notes events the run emitted (terminal included) as their frames; starts a batch when enough are pending. */
  record(frames: readonly EventFrame[]): void {
    const at = Date.now();
    for (const { seq, frame, terminal } of frames) {
      this.#pending.push({ seq, frame, at });
      this.#pendingChars += frame.length;
      if (terminal) this.#terminalSeq = Math.min(this.#terminalSeq, seq);
    }
    if (this.#pendingChars + this.#rowTailChars >= this.#options.flushChars) {
      // A row still waiting to be written goes now: until it is in D1, its events wait in memory.
      this.begin();
      this.#flushSoon();
    }
  }

  /** Adds events that were recorded elsewhere (a recovered run's spilled events, or its row's tail). */
  restore(events: readonly RecordedEvent[]): void {
    for (const event of events) {
      this.#pending.push(event);
      this.#pendingChars += event.frame.length;
    }
  }

  #arm(): void {
    if (this.#stopped || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flushSoon(true);
      this.#arm();
    }, this.#options.flushIntervalMs);
  }

  /**
   * While `ms` is set, pending events are also flushed this often (a background run's readers are
   * attached: a crash then loses at most that much of what they saw); undefined stops it. The
   * heartbeat keeps its own interval, and a flush with nothing pending writes nothing.
   */
  flushWhileWatched(ms: number | undefined): void {
    if (this.#watched !== undefined) clearInterval(this.#watched);
    this.#watched = undefined;
    if (ms !== undefined && !this.#stopped) this.#watched = setInterval(() => this.#flushSoon(), ms);
  }

  #flushSoon(heartbeat = false): void {
    if (this.#inflight !== undefined || this.#stopped || !this.#started) return;
    // Backing off is skipping flushes, not sleeping in one: the terminal write never waits for a pause.
    // A heartbeat due meanwhile still goes, without the events.
    const backingOff = Date.now() < this.#retryAt;
    if (backingOff && !heartbeat) return;
    if (!heartbeat && this.#pending.length === 0) return;
    // A flush with events may be refused for their size; one without them is already a bare beat.
    const carrying = !backingOff && this.#pending.length > 0;
    this.#inflight = (backingOff ? this.#beat() : this.#flush())
      .catch(async (error: unknown) => {
        this.#failures += 1;
        this.#retryAt = Date.now() + Math.min(250 * 2 ** this.#failures, MAX_FLUSH_BACKOFF_MS);
        this.#options.onError("progress flush failed; the events stay pending", error);
        // A live run whose flushes D1 refuses must not look dead to the sweep (silent past its bound).
        if (heartbeat && carrying) await this.#beat();
      })
      .finally(() => {
        this.#inflight = undefined;
      });
  }

  /**
   * The heartbeat (and the lease) without the pending events, while flushes carrying them are refused:
   * one small write where D1 refuses the large ones, and the run stays alive in D1 either way (else
   * the sweep would end it from its last flush while it runs). Costs nothing while flushes land.
   */
  async #beat(): Promise<void> {
    await this.#flush(false).catch((error: unknown) =>
      this.#options.onError("heartbeat without the pending events failed", error),
    );
  }

  /**
   * One progress write: the heartbeat and the lease, with the events not yet in a batch row either
   * as the row's tail (rewritten by each flush) or, once they reach the size limit, as a batch row
   * (the tail then emptied in the same transaction, so a reader sees each event in one place).
   */
  async #flush(carry = true): Promise<void> {
    const { db, responseId, tenantId, conversationId } = this.#options;
    // A flush never carries the terminal event: D1 gets it with the end, or never (a sweep then appends
    // its own failure after what the flush had, and the log stays a valid stream).
    // A bare beat (`carry` false) carries no events, so it cannot mark the client left with them.
    const marking = carry && this.#left && !this.#marked;
    const fresh = carry ? this.#pending.filter((event) => event.seq < this.#terminalSeq) : [];
    let freshChars = 0;
    for (const event of fresh) freshChars += event.frame.length;
    const owner = { responseId, tenantId };
    const last = fresh.at(-1);
    const unbatched = [...this.#rowTail, ...fresh];
    const statements: Statement[] = [];
    let tail: EventTail | undefined;
    let toBatch = false;
    if (last !== undefined) {
      const data = compressEvents(unbatched);
      // Past the size limit, or too large for the row beside its other values: a batch row (in parts if need be).
      toBatch = this.#rowTailChars + freshChars >= this.#options.flushChars || data.byteLength > MAX_INLINE_BYTES;
      // Only onto a running row: a batch after an end written elsewhere would follow that end.
      if (toBatch) statements.push(...batchStatements(db, owner, unbatched[0]!.seq, last.seq, data, runningRow(owner)));
      tail = toBatch ? { seq: null, data: null } : { seq: unbatched[0]!.seq, data };
    }
    const eventCount = (last?.seq ?? this.#flushedUpTo) + 1;
    const status = this.#options.status?.() ?? "in_progress";
    const heartbeat = statements.push(heartbeatStatement(db, owner, status, eventCount, tail, marking)) - 1;
    const yielded = this.#yielded;
    if (conversationId !== null)
      statements.push(
        yielded
          ? holdClaimStatement(db, tenantId, conversationId, responseId, 0)
          : renewClaimStatement(db, tenantId, conversationId, responseId, leaseUntil()),
      );
    const results: unknown[] = await db.batch(statements as [Statement, ...Statement[]]);
    if (carry) this.#failures = 0;
    if (marking) this.#marked = true;
    if (yielded && conversationId !== null) this.#checkHeld(results.at(-1));
    const beat = results[heartbeat];
    if (Array.isArray(beat) && beat.length === 0) {
      this.#gone();
      return;
    }
    if (last === undefined) return;
    this.#pending.splice(0, fresh.length);
    this.#pendingChars = Math.max(0, this.#pendingChars - freshChars);
    if (toBatch) {
      this.#rowTail = [];
      this.#rowTailChars = 0;
    } else {
      this.#rowTail = unbatched;
      this.#rowTailChars += freshChars;
    }
    this.#flushedUpTo = last.seq;
  }

  /** The row was deleted or ended elsewhere: no later write of this run can land. */
  #gone(): void {
    if (this.#options.onGone === undefined || this.#stopped) return;
    this.#stopped = true;
    this.#stopTimer();
    this.#options.onGone();
  }

  /**
   * The client left: the row is marked so (`client_left`) by a flush at once, which carries every
   * event recorded so far (all its client saw), so a create continuing from the response can end it
   * from D1 (src/stream/dead-run.ts `endLeftRun`); the run then learns it at once in this isolate
   * (src/stream/local-stops.ts), else at its next heartbeat. A deferred row is written now. Flushes go
   * on as before. Never for a background run.
   */
  markLeft(): void {
    if (this.#left || this.#stopped) return;
    this.#left = true;
    const { tenantId, responseId } = this.#options;
    this.#unlistLeft = leftRuns.note(tenantId, responseId, responseId, () => this.#gone());
    this.begin();
    const starting = this.#starting;
    const marked = (async () => {
      await starting;
      // After a flush in flight, which may have begun before the departure (and so not mark it).
      await this.#inflight;
      this.#flushSoon(true);
      await this.#inflight;
      if (!this.#marked) throw new Error("the left client is not marked yet");
    })();
    this.#marking = marked.catch(() => undefined);
    noteLeftMark(tenantId, responseId, marked);
  }

  /**
   * Settles once the writes of `yieldClaim` and `markLeft` are done (whether D1 took them or not):
   * a create the run let go for reads D1 after them (src/stream/client-checks.ts).
   */
  async letGo(): Promise<void> {
    await this.#yielding;
    await this.#marking;
  }

  /**
   * The client left: the run's conversation claim is yielded to the next response that claims the
   * conversation (see `holdClaimStatement`) instead of being renewed; `onPreempted` says when one did.
   * Never for a background run: only a foreground run's client can leave it.
   */
  yieldClaim(): void {
    const { db, tenantId, conversationId, responseId } = this.#options;
    if (conversationId === null || this.#yielded || this.#stopped) return;
    this.#yielded = true;
    this.#unlist = yieldedClaims.note(tenantId, conversationId, responseId, () => this.#lose());
    // After a renewal in flight, which would set the lease again; later heartbeats keep it yielded.
    const inflight = this.#inflight;
    this.#yielding = (async () => {
      await inflight;
      this.#checkHeld((await db.batch([holdClaimStatement(db, tenantId, conversationId, responseId, 0)]))[0]);
    })().catch((error: unknown) => this.#options.onError("the conversation's claim could not be yielded", error));
  }

  /**
   * Before an end that appends to the conversation: whether the run still holds the claim it yielded,
   * taking it back for a lease if so (no response can take it then). True for a claim never yielded;
   * false when another response took it or D1 would not say (the run must then append nothing).
   * No heartbeat runs after it: the end follows.
   */
  async holdClaim(): Promise<boolean> {
    const { db, tenantId, conversationId, responseId } = this.#options;
    if (!this.#yielded || conversationId === null) return true;
    this.#stopTimer();
    this.#stopped = true;
    await this.#inflight;
    await this.#yielding;
    if (this.#preempted) return false;
    try {
      const [held] = await this.#retried("the conversation's claim could not be taken back", () =>
        db.batch([holdClaimStatement(db, tenantId, conversationId, responseId, leaseUntil())]),
      );
      this.#yielded = false;
      return held.length > 0;
    } catch {
      return false;
    }
  }

  /** Forgets the terminal event recorded (not yet in D1): the run ends otherwise (see `holdClaim`). */
  dropTerminal(): void {
    const terminal = this.#terminalSeq;
    const dropped = this.#pending.filter((event) => event.seq >= terminal);
    this.#pending = this.#pending.filter((event) => event.seq < terminal);
    for (const event of dropped) this.#pendingChars -= event.frame.length;
    this.#terminalSeq = Number.POSITIVE_INFINITY;
  }

  /** A yielded claim's check found no row: another response holds the conversation now. */
  #checkHeld(result: unknown): void {
    if (Array.isArray(result) && result.length === 0) this.#lose();
  }

  #lose(): void {
    if (this.#preempted) return;
    this.#preempted = true;
    this.#options.onPreempted?.();
  }

  /**
   * The terminal write: every pending event (the terminal one included) and the final state, in one
   * batch. `ended_elsewhere`: the row was already terminal or is gone (a sweep, cancel or delete won).
   */
  async finish(final: Omit<FinalState, "tail" | "eventCount">): Promise<FinishOutcome> {
    this.#stopTimer();
    // No progress batch starts once the end is being written (the end carries every pending event).
    this.#stopped = true;
    // A row not written yet is inserted as it ended (one D1 call and one row write instead of two).
    const unwritten = this.#takeDeferred();
    await this.#inflight;
    const outcome = await this.#end(final, unwritten?.row, this.#options.endAttempts ?? WRITE_ATTEMPTS);
    if (outcome !== "failed") unwritten?.written();
    else {
      unwritten?.refused(this.#refusal);
      this.#refusedRow = unwritten?.row;
    }
    return outcome;
  }

  /**
   * After `finish` failed: the end written again, as `final`, with `frames` in place of the terminal
   * event D1 refused (what the client was told instead of it); tried `attempts` times.
   */
  async refinish(
    final: Omit<FinalState, "tail" | "eventCount">,
    frames: readonly EventFrame[],
    attempts: number,
  ): Promise<FinishOutcome> {
    this.dropTerminal();
    this.record(frames);
    const row = this.#refusedRow;
    this.#refusedRow = undefined;
    return this.#end(final, row, attempts);
  }

  /** Writes the end: onto the row D1 has, or (`unwritten`) inserting the row as it ended. */
  async #end(
    final: Omit<FinalState, "tail" | "eventCount">,
    unwritten: NewResponseRow | undefined,
    attempts: number,
  ): Promise<FinishOutcome> {
    // The row's tail is written again, with the pending events after it.
    const tail = [...this.#rowTail, ...this.#pending];
    const eventCount = (tail.at(-1)?.seq ?? this.#flushedUpTo) + 1;
    try {
      if (unwritten === undefined) await this.#starting;
      const { db } = this.#options;
      const state = { ...final, tail, eventCount };
      const statements =
        unwritten === undefined
          ? finalStatements(db, encodeFinal(state))
          : insertEndedStatements(db, encodeEnded(unwritten, state));
      const ended = (await this.#retried("the terminal write failed", () => runWrites(db, statements), attempts)).at(
        -1,
      );
      this.#pending = [];
      this.#pendingChars = 0;
      this.#rowTail = [];
      this.#rowTailChars = 0;
      this.#flushedUpTo = eventCount - 1;
      return Array.isArray(ended) && ended.length > 0 ? "written" : "ended_elsewhere";
    } catch {
      return "failed";
    }
  }

  /** Stops the heartbeat and further batches (the run ended or was deleted); waits for a write in flight. */
  async stop(): Promise<void> {
    this.#stopTimer();
    this.#stopped = true;
    // A deferred start that never went is dropped (a lookup waiting for it answers 404).
    this.#takeDeferred()?.refused(new Error("the run stopped before its row was written"));
    await this.#starting?.catch(() => undefined);
    await this.#inflight;
  }

  /**
   * One heartbeat `ms` from now, unless the run has ended by then: a background row whose run left
   * `queued` says so in D1 (the list and its status filter read D1) without waiting for the flush
   * interval, and a run that ends within `ms` writes nothing more than its end.
   */
  heartbeatIn(ms: number): void {
    if (this.#soon !== undefined || this.#stopped) return;
    this.#soon = setTimeout(() => this.#flushSoon(true), ms);
  }

  #stopTimer(): void {
    this.#unlist?.();
    this.#unlistLeft?.();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#watched !== undefined) clearInterval(this.#watched);
    this.#watched = undefined;
    if (this.#soon !== undefined) clearTimeout(this.#soon);
  }
}
