// Ends a run whose executor is gone (a Worker that died mid-stream, a background object that was
// reset) from what D1 recorded: its events are folded back into the snapshot they built, then an
// `error` and `response.failed` (or, for a cancel, no event) are appended and the end is written as
// any run's end is. Used by the scheduled sweep and by the background Durable Object's recovery.

import type { Db } from "../db/client";
import { readEvents, type RecordedEvent } from "../db/event-batches";
import { clientGone, findResponse, readSnapshot, type FinalState, type ResponseRow } from "../db/responses";
import { logD1Problem } from "../observe/problems";
import { logRecoveredEnd } from "../observe/response-end";
import { StreamNormalizer } from "../responses/normalizer";
import type { ResponseEcho } from "../responses/response-object";
import type { ResponseObject, StreamEvent } from "../responses/types";
import { responseError, TERMINAL_STATUSES } from "../responses/types";
import { leftRuns } from "./local-stops";
import { framesOf, ResponseRecorder, type FinishOutcome, type RecorderOptions } from "./recorder";

/** The ids a stored response's lines carry. */
export const rowIds = (row: Pick<ResponseRow, "id" | "tenantId">) => ({ response_id: row.id, tenant: row.tenantId });

/** The message a run ended this way carries. */
export const INTERRUPTED_MESSAGE = "The response was interrupted before it finished; its partial output is kept.";

const eventOf = (frame: string): StreamEvent => JSON.parse(frame.slice(frame.indexOf("\ndata: ") + 7)) as StreamEvent;

/** The fields a run's snapshots echo from its request, as its first snapshot holds them. */
export function echoFrom(initial: ResponseObject): ResponseEcho {
  return {
    id: initial.id,
    created_at: initial.created_at,
    background: initial.background === true,
    store: initial.store !== false,
    previous_response_id: (initial.previous_response_id as string | null | undefined) ?? null,
    conversation: (initial.conversation as { id: string } | null | undefined) ?? null,
    metadata: (initial.metadata as Record<string, string> | undefined) ?? {},
    instructions: (initial.instructions as string | null | undefined) ?? null,
  };
}

/**
 * Every event a run recorded (in D1, then any it kept elsewhere), and the normalizer they rebuild.
 * `inBatches`: the last sequence number in batch rows; `rowTail`: the events after it that D1 has
 * only in the row's tail (an end rewrites the tail, so it must carry them again).
 */
export async function resumeRun(
  db: Db,
  row: ResponseRow,
  kept: readonly RecordedEvent[] = [],
): Promise<{ normalizer: StreamNormalizer; recordedUpTo: number; inBatches: number; rowTail: RecordedEvent[] }> {
  const initial = await readSnapshot(db, row);
  const events: StreamEvent[] = [];
  const tailFrom = row.tailSeq ?? Number.POSITIVE_INFINITY;
  const rowTail: RecordedEvent[] = [];
  let recordedUpTo = -1;
  for await (const batch of readEvents(db, row, -1))
    for (const event of batch) {
      events.push(eventOf(event.frame));
      if (event.seq >= tailFrom) rowTail.push(event);
      recordedUpTo = event.seq;
    }
  for (const event of kept) if (event.seq > recordedUpTo) events.push(eventOf(event.frame));
  const normalizer = StreamNormalizer.resume({ echo: echoFrom(initial), initial, background: row.background }, events);
  const inBatches = rowTail.length > 0 ? rowTail[0]!.seq - 1 : recordedUpTo;
  return { normalizer, recordedUpTo, inBatches, rowTail };
}

export interface DeadRunOptions {
  /**
   * How it ends: `failed` (the default); `cancelled` for a cancel that found no executor; or the end
   * the run reached itself (its snapshot and conversation turn), which D1 refused at the time.
   */
  end?: "failed" | "cancelled" | { snapshot: ResponseObject; turn: FinalState["turn"] };
  /** Events the run recorded outside D1 (a background object's spill): written with the end. */
  kept?: readonly RecordedEvent[];
  flushIntervalMs: number;
  onError: RecorderOptions["onError"];
  /** The bindings, for the response's data point (`METRICS`); a lost run's end is logged either way. */
  env?: object;
  /** The run is alive and writes its own response line (`endLeftRun`): this end writes none. */
  runLogs?: boolean;
  /** The end lands only on the log of this `event_count` (see FinalState), the one `row` shows. */
  expectEventCount?: number;
  /**
   * The highest sequence number the run's readers may have been sent (a background object notes it
   * ahead of them): a `failed` end is numbered after it, never under a number they saw a lost event as.
   */
  seenUpTo?: number;
}

/** Ends the dead run of `row` with its partial output; returns its final snapshot and the write's outcome. */
export async function endDeadRun(
  db: Db,
  row: ResponseRow,
  options: DeadRunOptions,
): Promise<{ snapshot: ResponseObject; outcome: FinishOutcome }> {
  const kept = options.kept ?? [];
  const { normalizer, recordedUpTo, inBatches, rowTail } = await resumeRun(db, row, kept);
  const recorder = new ResponseRecorder({
    db,
    responseId: row.id,
    tenantId: row.tenantId,
    flushIntervalMs: options.flushIntervalMs,
    flushChars: Number.POSITIVE_INFINITY,
    conversationId: null,
    recordedUpTo: inBatches,
    onError: options.onError,
  });
  recorder.restore([...rowTail, ...kept.filter((event) => event.seq > recordedUpTo)]);
  // A turn that did not finish appends nothing; its conversation is released.
  let turn: FinalState["turn"] = row.conversationId === null ? null : { conversationId: row.conversationId, items: [] };
  let snapshot: ResponseObject;
  const end = options.end ?? "failed";
  if (end === "cancelled") snapshot = normalizer.cancel();
  else if (end === "failed") {
    if (options.seenUpTo !== undefined) normalizer.skipTo(options.seenUpTo + 1);
    recorder.record(framesOf(normalizer.fail(responseError("server_error", INTERRUPTED_MESSAGE), "gateway")));
    snapshot = normalizer.snapshot;
  } else {
    snapshot = end.snapshot;
    turn = end.turn;
  }
  const { expectEventCount } = options;
  const outcome = await recorder.finish({
    responseId: row.id,
    tenantId: row.tenantId,
    snapshot,
    turn,
    expectEventCount,
  });
  // A lost run never wrote its response line: this end is its line (an end it reached itself had one).
  if (typeof end === "string" && outcome === "written" && options.runLogs !== true)
    logRecoveredEnd(row, snapshot, normalizer.nextSeq, "written", options.env);
  return { snapshot, outcome };
}

/** How long a run's heartbeat may be silent before it is taken for dead. */
export const staleAfterMs = (recordFlushMs: number): number => Math.max(60_000, 3 * recordFlushMs);

/**
 * A foreground run whose heartbeat has been silent too long has lost its Worker: a read of it ends it
 * (the sweep would, within a minute). Answers true when it ended it. A background run is its object's
 * to end. Never throws: should D1 refuse the end, the read answers what D1 has. `env`: the bindings,
 * for its data point, which a run ended by a read has as one ended by the sweep does.
 */
export async function endIfStale(db: Db, row: ResponseRow, recordFlushMs: number, env: object): Promise<boolean> {
  if (row.background || TERMINAL_STATUSES.has(row.status)) return false;
  if (row.updatedAt * 1000 > Date.now() - staleAfterMs(recordFlushMs)) return false;
  try {
    const { outcome } = await endDeadRun(db, row, {
      flushIntervalMs: recordFlushMs,
      onError: (what, error, attempt) => logD1Problem(rowIds(row), what, error, attempt),
      env,
    });
    return outcome !== "failed";
  } catch (error) {
    logD1Problem(rowIds(row), "a stale run could not be ended yet", error);
    return false;
  }
}

/** Attempts of `endLeftRun` against the run's own flushes (one lands every RECORD_FLUSH_SECONDS). */
const LEFT_END_ATTEMPTS = 3;

/**
 * A create continues from `row`, a stored foreground response still running whose client left
 * (`client_left`, ResponseRecorder.markLeft) and did not come back (`clientGone`): it ends `cancelled`
 * from what D1 has (every event its client saw, and any flushed since), as a run the disconnect grace
 * ran out on, instead of the create waiting for the grace. The run goes on writing meanwhile, so the
 * end lands only on the log it read (`expectEventCount`), and only while no reader its client came
 * back as holds it; after a flush it is made again from the new log. If the run ended first, its
 * own end stands. The run learns it at once in this isolate, else at its next heartbeat (its row no
 * longer runs), and writes nothing more. A background run is never ended this way. Throws what
 * reading the row throws; D1 refusing the end leaves the row running.
 */
export async function endLeftRun(db: Db, left: ResponseRow, flushIntervalMs: number): Promise<void> {
  let row: ResponseRow | undefined = left;
  for (let attempt = 0; attempt < LEFT_END_ATTEMPTS; attempt++) {
    if (row === undefined || row.background || !clientGone(row) || TERMINAL_STATUSES.has(row.status)) return;
    const ids = rowIds(row);
    const { outcome } = await endDeadRun(db, row, {
      end: "cancelled",
      flushIntervalMs,
      onError: (what, error, attempt) => logD1Problem(ids, what, error, attempt),
      runLogs: true,
      expectEventCount: row.eventCount,
    });
    if (outcome === "failed") return;
    if (outcome === "written") {
      leftRuns.stop(row.tenantId, row.id);
      return;
    }
    // Ended (or deleted) meanwhile, or the run flushed since the read: which, the row says.
    row = await findResponse(db, row.tenantId, row.id);
  }
}
