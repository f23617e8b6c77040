// A response's recorded events: batches of SSE frames, each packed with the time every event was
// recorded and compressed into one BLOB. Earlier batches are rows of `response_event_batches`; the
// last one rides in the response row (`events_tail`). Legacy responses keep theirs, uncompressed, in
// `response_events`. Used by the recorder (writes) and the replay, follow and timeline reads.

import { and, asc, eq, gt, gte, sql, type SQL } from "drizzle-orm";
import type { Db, Statement } from "./client";
import { blobParam, compressText, decompressText, readBlob, type StoredValue } from "./codec";
import { joinBytes, splitBytes } from "./large-values";
import { responseEventBatches, responseEvents, responses } from "./schema";

/** One recorded event: its sequence number, its SSE frame as sent, and when it was recorded (epoch ms). */
export interface RecordedEvent {
  seq: number;
  frame: string;
  /** Null for events recorded before times were kept. */
  at: number | null;
}

/** SSE frames end with a blank line; a JSON data line never contains a raw newline. */
export const FRAME_END = "\n\n";

/**
 * The text of a batch: a first line with the times (the first event's epoch ms, then each further
 * event's milliseconds after the one before, comma-separated), then the frames as sent, except that
 * each frame's `"sequence_number":N,` is left out where N is its place in the batch (`SEQ_SLOT` holds
 * its place). Sequence numbers differ in every frame and break deflate's matches between otherwise
 * alike frames: leaving them out makes a compressed batch of 1,000 text deltas 40 to 60% smaller.
 * The line starts with `SEQ_BY_PLACE`; batches written before have none and keep their numbers.
 */
export function packEvents(events: readonly RecordedEvent[]): string {
  let times = "";
  let previous = 0;
  events.forEach((event, index) => {
    const at = event.at ?? previous;
    times += index === 0 ? String(at) : `,${Math.max(0, at - previous)}`;
    previous = at;
  });
  const firstSeq = events[0]?.seq ?? 0;
  let frames = "";
  events.forEach((event, index) => {
    frames += event.seq === firstSeq + index ? event.frame.replace(seqField(event.seq), SEQ_SLOT) : event.frame;
  });
  return `${SEQ_BY_PLACE}${times}\n${frames}`;
}

/** Starts the text of a batch whose frames leave out their sequence numbers. */
const SEQ_BY_PLACE = "~";
/** Where a frame's sequence number was: never valid JSON, so never in a frame as sent. */
const SEQ_SLOT = '"sequence_number":,';
const seqField = (seq: number): string => `"sequence_number":${seq},`;

export function unpackEvents(text: string, firstSeq: number): RecordedEvent[] {
  const seqByPlace = text.startsWith(SEQ_BY_PLACE);
  const newline = text.indexOf("\n");
  const times = text
    .slice(seqByPlace ? SEQ_BY_PLACE.length : 0, newline)
    .split(",")
    .map(Number);
  const frames = text
    .slice(newline + 1)
    .split(FRAME_END)
    .slice(0, -1);
  let at = 0;
  return frames.map((frame, index) => {
    at = index === 0 ? (times[0] ?? 0) : at + (times[index] ?? 0);
    // A frame off its place kept its number (a recovered end numbered past events that were lost).
    const kept = seqByPlace && !frame.includes(SEQ_SLOT) ? keptSeq(frame) : undefined;
    const seq = kept ?? firstSeq + index;
    const sent = seqByPlace && kept === undefined ? frame.replace(SEQ_SLOT, seqField(seq)) : frame;
    return { seq, frame: `${sent}${FRAME_END}`, at };
  });
}

/** The number a frame kept: its first `"sequence_number":N` field (one escaped in a string never matches). */
function keptSeq(frame: string): number | undefined {
  const match = /"sequence_number":(\d+)[,}]/.exec(frame);
  return match === null ? undefined : Number(match[1]);
}

export const compressEvents = (events: readonly RecordedEvent[]): Uint8Array => compressText(packEvents(events));

/** The response a batch belongs to. */
export interface BatchOwner {
  responseId: string;
  tenantId: string;
}

/**
 * Writes a compressed batch of events `firstSeq..lastSeq` (in parts when larger than a row), only
 * while the response exists (a batch that lands after a delete writes nothing), or while `guard`
 * holds (a run's batches: while its row runs; `1` when the same batch inserts the response's row).
 * A retried batch replaces the rows it wrote before.
 */
export function batchStatements(
  db: Db,
  owner: BatchOwner,
  firstSeq: number,
  lastSeq: number,
  data: Uint8Array,
  guard?: SQL,
): Statement[] {
  const exists =
    guard ??
    sql`EXISTS (SELECT 1 FROM ${responses} WHERE ${responses.id} = ${owner.responseId} AND ${responses.tenantId} = ${owner.tenantId})`;
  return splitBytes(data).map((part, index) =>
    db
      .insert(responseEventBatches)
      .select(
        sql`SELECT ${owner.responseId}, ${owner.tenantId}, ${firstSeq}, ${index}, ${lastSeq}, ${blobParam(part)} WHERE ${exists}`,
      )
      .onConflictDoUpdate({
        target: [responseEventBatches.responseId, responseEventBatches.firstSeq, responseEventBatches.part],
        set: { lastSeq: sql`excluded.last_seq`, data: sql`excluded.data` },
      }),
  );
}

/** Rows per page of a replay: a page holds at most this many batches (each at most ~2 MB). */
const PAGE_ROWS = 8;

/** What a replay needs of the response row. */
export interface EventSource {
  id: string;
  tenantId: string;
  legacy: number | null;
  /**
   * The events not in a batch row, in the row (null before the first flush, or when all are in batch
   * rows). Null with a `tailSeq`: the row was read without it (an ended one); `readEvents` reads it.
   */
  eventsTail: StoredValue | null;
  /** The first event in the row's tail; null when it has none. */
  tailSeq: number | null;
}

/** Batch rows with events after `after`, in order, read a page at a time; split batches are joined. */
async function* batchesAfter(db: Db, source: EventSource, after: number): AsyncGenerator<RecordedEvent[]> {
  const scope = and(eq(responseEventBatches.responseId, source.id), eq(responseEventBatches.tenantId, source.tenantId));
  let cursor = after;
  for (;;) {
    const rows = await db
      .select({
        firstSeq: responseEventBatches.firstSeq,
        lastSeq: responseEventBatches.lastSeq,
        data: readBlob(responseEventBatches.data),
      })
      .from(responseEventBatches)
      .where(and(scope, gt(responseEventBatches.lastSeq, cursor)))
      .orderBy(asc(responseEventBatches.firstSeq), asc(responseEventBatches.part))
      .limit(PAGE_ROWS);
    if (rows.length === 0) return;
    const complete = rows.length < PAGE_ROWS;
    const groups: { firstSeq: number; lastSeq: number; parts: StoredValue[] }[] = [];
    for (const row of rows) {
      const last = groups.at(-1);
      if (last !== undefined && last.firstSeq === row.firstSeq) last.parts.push(row.data);
      else groups.push({ firstSeq: row.firstSeq, lastSeq: row.lastSeq, parts: [row.data] });
    }
    // On a full page the last batch may be missing parts: it is read again with the next page, or,
    // when it filled the page alone, its other parts are read now.
    if (!complete && groups.length > 1) groups.pop();
    else if (!complete) {
      const batch = groups[0]!;
      for await (const more of remainingParts(db, scope, batch.firstSeq, batch.parts.length)) batch.parts.push(...more);
    }
    for (const group of groups) {
      const events = unpackEvents(decompressText(joinBytes(group.parts)), group.firstSeq);
      yield events.filter((event) => event.seq > cursor);
      cursor = group.lastSeq;
    }
    if (complete) return;
  }
}

/** The parts of the batch starting at `firstSeq` from part `from` on, a page at a time. */
export async function* remainingParts(
  db: Db,
  scope: SQL | undefined,
  firstSeq: number,
  from: number,
): AsyncGenerator<StoredValue[]> {
  for (let part = from; ; part += PAGE_ROWS) {
    const rows = await db
      .select({ data: readBlob(responseEventBatches.data) })
      .from(responseEventBatches)
      .where(and(scope, eq(responseEventBatches.firstSeq, firstSeq), gte(responseEventBatches.part, part)))
      .orderBy(asc(responseEventBatches.part))
      .limit(PAGE_ROWS);
    yield rows.map((row) => row.data);
    if (rows.length < PAGE_ROWS) return;
  }
}

/** Legacy rows per page: each holds at most ~600k characters of frames. */
const LEGACY_PAGE_ROWS = 64;

/** Legacy rows: uncompressed frames without times. They name no tenant: the response row vouches for it. */
async function* legacyAfter(db: Db, source: EventSource, after: number): AsyncGenerator<RecordedEvent[]> {
  const scope = and(
    eq(responseEvents.responseId, source.id),
    sql`EXISTS (SELECT 1 FROM ${responses} WHERE ${responses.id} = ${source.id} AND ${responses.tenantId} = ${source.tenantId})`,
  );
  let cursor = after;
  for (;;) {
    const rows = await db
      .select()
      .from(responseEvents)
      .where(and(scope, gt(responseEvents.lastSeq, cursor)))
      .orderBy(asc(responseEvents.firstSeq), asc(responseEvents.part))
      .limit(LEGACY_PAGE_ROWS);
    if (rows.length === 0) return;
    const complete = rows.length < LEGACY_PAGE_ROWS;
    const groups: { firstSeq: number; lastSeq: number; text: string }[] = [];
    for (const row of rows) {
      const last = groups.at(-1);
      if (last !== undefined && last.firstSeq === row.firstSeq) last.text += row.frames;
      else groups.push({ firstSeq: row.firstSeq, lastSeq: row.lastSeq, text: row.frames });
    }
    if (!complete && groups.length > 1) groups.pop();
    else if (!complete) {
      const batch = groups[0]!;
      for (let part = rows.length; ; part += LEGACY_PAGE_ROWS) {
        const more = await db
          .select({ frames: responseEvents.frames })
          .from(responseEvents)
          .where(and(scope, eq(responseEvents.firstSeq, batch.firstSeq), gte(responseEvents.part, part)))
          .orderBy(asc(responseEvents.part))
          .limit(LEGACY_PAGE_ROWS);
        for (const row of more) batch.text += row.frames;
        if (more.length < LEGACY_PAGE_ROWS) break;
      }
    }
    for (const group of groups) {
      const frames = group.text.split(FRAME_END).slice(0, -1);
      yield frames
        .map((frame, index) => ({ seq: group.firstSeq + index, frame: `${frame}${FRAME_END}`, at: null }))
        .filter((event) => event.seq > cursor);
      cursor = group.lastSeq;
    }
    if (complete) return;
  }
}

/**
 * The recorded events after `after`, in order, a batch at a time (never the whole log at once):
 * the batch rows, then the row's tail (its running flushes' events, or its end's).
 */
export async function* readEvents(db: Db, source: EventSource, after: number): AsyncGenerator<RecordedEvent[]> {
  let cursor = after;
  // A legacy response ended by this version (the sweep) has its old rows, then the end in the new layout.
  if (source.legacy === 1)
    for await (const events of legacyAfter(db, source, cursor)) {
      if (events.length > 0) cursor = events[events.length - 1]!.seq;
      yield events;
    }
  for await (const events of batchesAfter(db, source, cursor)) {
    if (events.length > 0) cursor = events[events.length - 1]!.seq;
    yield events;
  }
  if (source.tailSeq === null) return;
  const data = source.eventsTail ?? (await readTail(db, source));
  if (data === null) return;
  const tail = unpackEvents(decompressText(data), source.tailSeq);
  yield tail.filter((event) => event.seq > cursor);
}

/** The row's tail, for a row read without it (null if the row is gone). */
export async function readTail(db: Db, source: EventSource): Promise<StoredValue | null> {
  const [row] = await db
    .select({ data: readBlob(responses.eventsTail) })
    .from(responses)
    .where(and(eq(responses.id, source.id), eq(responses.tenantId, source.tenantId)))
    .limit(1);
  return row?.data ?? null;
}

/** Deletes a response's batch rows (and legacy event rows). */
export function deleteEventsStatements(db: Db, owner: BatchOwner): Statement[] {
  return [
    db
      .delete(responseEventBatches)
      .where(
        and(eq(responseEventBatches.responseId, owner.responseId), eq(responseEventBatches.tenantId, owner.tenantId)),
      ),
  ];
}
