// A response's recorded events read from the end back (the events route's `order=desc`: the console's
// "last events" of a long log): the row's tail, then the batch rows one batch at a time, newest
// first, then a legacy response's old rows. Each read is one batch, so a page near the end of a
// 10,000-event log reads what it shows, not the log before it.

import { and, desc, eq, gte, lt, sql } from "drizzle-orm";
import type { Db } from "./client";
import { decompressText, type StoredValue } from "./codec";
import {
  FRAME_END,
  readTail,
  remainingParts,
  unpackEvents,
  type EventSource,
  type RecordedEvent,
} from "./event-batches";
import { joinBytes } from "./large-values";
import { responseEventBatches, responseEvents, responses } from "./schema";

/** Legacy rows of one batch read per query. */
const LEGACY_PART_ROWS = 64;

/**
 * The batches before `before`, newest first, each found by `newestBefore` (the first sequence number
 * of the newest batch starting before a cursor) and read by `read`; each yields its events before the
 * cursor, newest first.
 */
async function* backward(
  before: number,
  newestBefore: (cursor: number) => Promise<number | undefined>,
  read: (firstSeq: number) => Promise<RecordedEvent[]>,
): AsyncGenerator<RecordedEvent[]> {
  for (let cursor = before; ;) {
    const firstSeq = await newestBefore(cursor);
    if (firstSeq === undefined) return;
    const limit = cursor;
    yield (await read(firstSeq)).filter((event) => event.seq < limit).reverse();
    cursor = firstSeq;
  }
}

/** Batch rows with events before `before`, newest batch first, each batch's events newest first. */
function batchesBefore(db: Db, source: EventSource, before: number): AsyncGenerator<RecordedEvent[]> {
  const scope = and(eq(responseEventBatches.responseId, source.id), eq(responseEventBatches.tenantId, source.tenantId));
  return backward(
    before,
    async (cursor) => {
      const [batch] = await db
        .select({ firstSeq: responseEventBatches.firstSeq })
        .from(responseEventBatches)
        .where(and(scope, lt(responseEventBatches.firstSeq, cursor)))
        .orderBy(desc(responseEventBatches.firstSeq))
        .limit(1);
      return batch?.firstSeq;
    },
    async (firstSeq) => {
      const parts: StoredValue[] = [];
      for await (const more of remainingParts(db, scope, firstSeq, 0)) parts.push(...more);
      return unpackEvents(decompressText(joinBytes(parts)), firstSeq);
    },
  );
}

/** A legacy response's old rows before `before`, newest batch first (frames without times). */
function legacyBefore(db: Db, source: EventSource, before: number): AsyncGenerator<RecordedEvent[]> {
  const scope = and(
    eq(responseEvents.responseId, source.id),
    sql`EXISTS (SELECT 1 FROM ${responses} WHERE ${responses.id} = ${source.id} AND ${responses.tenantId} = ${source.tenantId})`,
  );
  return backward(
    before,
    async (cursor) => {
      const [batch] = await db
        .select({ firstSeq: responseEvents.firstSeq })
        .from(responseEvents)
        .where(and(scope, lt(responseEvents.firstSeq, cursor)))
        .orderBy(desc(responseEvents.firstSeq))
        .limit(1);
      return batch?.firstSeq;
    },
    async (firstSeq) => {
      let text = "";
      for (let part = 0; ; part += LEGACY_PART_ROWS) {
        const rows = await db
          .select({ frames: responseEvents.frames })
          .from(responseEvents)
          .where(and(scope, eq(responseEvents.firstSeq, firstSeq), gte(responseEvents.part, part)))
          .orderBy(responseEvents.part)
          .limit(LEGACY_PART_ROWS);
        for (const row of rows) text += row.frames;
        if (rows.length < LEGACY_PART_ROWS) break;
      }
      return text
        .split(FRAME_END)
        .slice(0, -1)
        .map((frame, index) => ({ seq: firstSeq + index, frame: `${frame}${FRAME_END}`, at: null }));
    },
  );
}

/** The recorded events before `before` (a bound past the last one: from the end), newest first, a batch at a time. */
export async function* readEventsBackward(
  db: Db,
  source: EventSource,
  before: number,
): AsyncGenerator<RecordedEvent[]> {
  let cursor = before;
  if (source.tailSeq !== null) {
    const data = source.eventsTail ?? (await readTail(db, source));
    if (data !== null) {
      const tail = unpackEvents(decompressText(data), source.tailSeq);
      yield tail.filter((event) => event.seq < before).reverse();
    }
    cursor = Math.min(cursor, source.tailSeq);
  }
  for await (const events of batchesBefore(db, source, cursor)) {
    if (events.length > 0) cursor = events.at(-1)!.seq;
    yield events;
  }
  if (source.legacy === 1) yield* legacyBefore(db, source, cursor);
}
