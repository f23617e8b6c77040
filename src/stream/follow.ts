// A stored response's stream read back: its recorded events after `starting_after` as SSE, with their
// original sequence numbers, then, while it still runs, the rest as it comes: a background run's
// from its Durable Object (live), a foreground run's from D1, batch by batch as they land. Pull-based
// and a batch at a time, so a long log is never held whole. Used by retrieve (`stream=true`) and by
// an idempotent retry of a streamed create.
// A reader that is the response's own client come back (its tenant's idempotent retry or resume, not
// the operator's) holds a run whose client left while it reads (`holdForClient`): its disconnect grace,
// a create continuing from it and the next conversation turn wait as for a client that never left.
// A run whose Worker died between flushes had sent its client events the record never got, and its
// recorded end took those sequence numbers: a reader resuming past the record's end is sent that
// end (the `error` and the terminal event), numbered on from where it resumes, so it learns how the
// response ended instead of getting an empty stream.

import type { Db } from "../db/client";
import { readEvents, type RecordedEvent } from "../db/event-batches";
import { findResponse, holdLeftRun, releaseLeftRun, type ResponseRow } from "../db/responses";
import { TERMINAL_EVENTS, TERMINAL_STATUSES } from "../responses/types";
import { encodeFrame, SSE_HEADERS } from "../sse";
import { endIfStale } from "./dead-run";
import { unrecordedEnd } from "./outcomes";
import { withKeepalive } from "./keepalive";

const encoder = new TextEncoder();

/** How often a reader of a running foreground response looks for new batches in D1. */
export const FOLLOW_POLL_MS = 1_000;

/**
 * How long a hold of a left run by its returning client lasts unless renewed (a poll renews it when
 * it is near its end):
 * a reader that left, noticed at its next write, stops renewing it.
 */
export const CLIENT_HOLD_SECONDS = 5;
/** A hold is renewed once it has this little left: well before it lapses, even if a poll runs late. */
const HOLD_RENEWED_WITHIN_SECONDS = 2;

/**
 * The run's client came back as a reader of `row` (an idempotent retry, a resume): if its client had
 * left, the run counts it as its client for CLIENT_HOLD_SECONDS (src/db/responses.ts `clientGone`).
 * A hold D1 refuses is tried again at the next poll; the reader goes on meanwhile. Answers whether it
 * tried to hold the run (whose reader then lets go of it when it leaves: `releaseForClient`).
 */
export async function holdForClient(db: Db, row: ResponseRow): Promise<boolean> {
  if (row.background || row.clientLeft === null || TERMINAL_STATUSES.has(row.status)) return false;
  const now = Math.floor(Date.now() / 1000);
  // A hold with more than a couple of seconds left (the row as this poll read it) is renewed later:
  // a D1 write every third poll, not every one.
  if (row.clientLeft > now + HOLD_RENEWED_WITHIN_SECONDS) return true;
  const until = now + CLIENT_HOLD_SECONDS;
  await holdLeftRun(db, { responseId: row.id, tenantId: row.tenantId }, until).catch(() => false);
  return true;
}

/**
 * The reader that held the run left: its client is gone from now (its grace counts from now, and the
 * next turn may stop it) instead of when the hold would lapse. A release D1 refuses lapses by itself.
 */
async function releaseForClient(db: Db, row: ResponseRow): Promise<void> {
  const owner = { responseId: row.id, tenantId: row.tenantId };
  await releaseLeftRun(db, owner, Math.floor(Date.now() / 1000)).catch(() => undefined);
}

export interface FollowSource {
  db: Db;
  row: ResponseRow;
  /** A background run's live tail after `after`, or null when its object runs nothing (D1 has it all). */
  liveTail?: (after: number) => Promise<ReadableStream<Uint8Array> | null>;
  /** How long a reader waits for a running response before the stream is closed. */
  maxWaitMs: number;
  /** The flush interval: a foreground run silent for long after it is ended by the reader. */
  recordFlushMs: number;
  /** STREAM_KEEPALIVE_SECONDS: a follower waiting on a silent run gets a comment this often (0: never). */
  keepaliveMs?: number;
  /** The bindings: a run the reader ends writes its data point (`METRICS`). */
  env: object;
  /** The reader is the response's own client come back (see `holdForClient`); not the operator's. */
  client?: boolean;
}

/** A pause that ends early when the reader leaves. */
function pause(ms: number, left: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    left.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      left.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** A reader's state shared with its stream: whether it left, and whether it held the run. */
interface Reader {
  left: AbortSignal;
  held: boolean;
}

async function* follow(source: FollowSource, after: number, reader: Reader): AsyncGenerator<Uint8Array> {
  const { db } = source;
  let row: ResponseRow | undefined = source.row;
  let cursor = after;
  const giveUpAt = Date.now() + source.maxWaitMs;
  for (;;) {
    // A reader that left while the run is silent is never asked for its next chunk: it stops here,
    // or it would go on holding the run until it gave up waiting.
    if (reader.left.aborted) return;
    if (source.client === true && (await holdForClient(db, row))) reader.held = true;
    for await (const events of readEvents(db, row, cursor)) {
      if (events.length === 0) continue;
      let text = "";
      for (const event of events) text += event.frame;
      cursor = events[events.length - 1]!.seq;
      yield encoder.encode(text);
    }
    if (TERMINAL_STATUSES.has(row.status)) {
      // At the record's last number too: the client may have seen a lost event under it, not the end.
      if (after >= row.eventCount - 1 && CUT_SHORT.has(row.status)) {
        const end = await endPast(db, row, after);
        if (end !== "") yield encoder.encode(end);
      }
      return;
    }
    if (row.background && source.liveTail !== undefined) {
      const live = await source.liveTail(cursor);
      if (live !== null) {
        const reader = live.getReader();
        let sent = false;
        try {
          for (;;) {
            const { done, value } = await reader.read();
            // Nothing after `cursor` came live: the run ended (or was ended) without it; D1 says how.
            if (done && sent) return;
            if (done) break;
            sent = true;
            yield value;
          }
        } finally {
          reader.releaseLock();
        }
      }
    }
    if (Date.now() >= giveUpAt) return;
    await pause(FOLLOW_POLL_MS, reader.left);
    if (reader.left.aborted) return;
    const { tenantId, id } = row;
    row = await findResponse(db, tenantId, id);
    if (row !== undefined && (await endIfStale(db, row, source.recordFlushMs, source.env)))
      row = await findResponse(db, tenantId, id);
    // Deleted meanwhile: the reader is told, as the run's own client is, instead of a stream cut off.
    if (row === undefined) {
      yield encoder.encode(unrecordedEnd("ended_elsewhere", cursor + 1));
      return;
    }
  }
}

/** Statuses a run ends in when it is ended for it (its Worker or object died, or a cancel found none). */
const CUT_SHORT: ReadonlySet<string> = new Set(["failed", "cancelled"]);

/** The recorded end of `row` (its terminal event, and the `error` before it if any), numbered from `after` + 1; none for a cancel. */
async function endPast(db: Db, row: ResponseRow, after: number): Promise<string> {
  const last: RecordedEvent[] = [];
  for await (const events of readEvents(db, row, row.eventCount - 3)) last.push(...events);
  // A cancelled run's record ends with no terminal event (OpenAI has no `response.cancelled`): its
  // last event is a delta or an item event the reader already has, and sending it again would repeat it.
  const final = last.at(-1);
  if (final === undefined || !TERMINAL_EVENTS.has(eventType(final) as string)) return "";
  const closing = last
    .slice(-2)
    .filter((event, index, pair) => index === pair.length - 1 || eventType(event) === "error");
  return closing.map((event, index) => renumbered(event.frame, after + 1 + index)).join("");
}

const eventType = (event: RecordedEvent): unknown => (JSON.parse(dataOf(event.frame)) as { type?: unknown }).type;

/** The JSON of an SSE frame's data line. */
const dataOf = (frame: string): string => frame.slice(frame.indexOf("data: ") + 6).trimEnd();

function renumbered(frame: string, seq: number): string {
  const data = JSON.parse(dataOf(frame)) as Record<string, unknown>;
  return encodeFrame(String(data.type), JSON.stringify({ ...data, sequence_number: seq }));
}

/** The SSE response of a stored response's events after `after`, followed to its end. */
export function followResponse(source: FollowSource, after: number): Response {
  const left = new AbortController();
  const reader: Reader = { left: left.signal, held: false };
  const chunks = follow(source, after, reader);
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await chunks.next();
        if (next.done === true) controller.close();
        else controller.enqueue(next.value);
      },
      async cancel() {
        left.abort();
        // Once it stopped: a hold it was writing lands before the release.
        await chunks.return(undefined);
        if (reader.held) await releaseForClient(source.db, source.row);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(withKeepalive(body, source.keepaliveMs ?? 0), { headers: SSE_HEADERS });
}
