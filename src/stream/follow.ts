// A stored response's stream read back: its recorded events after `starting_after` as SSE, with their
// original sequence numbers, then, while it still runs, the rest as it comes: a background run's
// from its Durable Object (live), a foreground run's from D1, batch by batch as they land. Pull-based
// and a batch at a time, so a long log is never held whole. Used by retrieve (`stream=true`) and by
// an idempotent retry of a streamed create.

import type { Db } from "../db/client";
import { readEvents } from "../db/event-batches";
import { findResponse, type ResponseRow } from "../db/responses";
import { TERMINAL_STATUSES } from "../responses/types";
import { SSE_HEADERS } from "../sse";
import { endIfStale } from "./dead-run";

const encoder = new TextEncoder();

/** How often a reader of a running foreground response looks for new batches in D1. */
export const FOLLOW_POLL_MS = 1_000;

export interface FollowSource {
  db: Db;
  row: ResponseRow;
  /** A background run's live tail after `after`, or null when its object runs nothing (D1 has it all). */
  liveTail?: (after: number) => Promise<ReadableStream<Uint8Array> | null>;
  /** How long a reader waits for a running response before the stream is closed. */
  maxWaitMs: number;
  /** The flush interval: a foreground run silent for long after it is ended by the reader. */
  recordFlushMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function* follow(source: FollowSource, after: number): AsyncGenerator<Uint8Array> {
  const { db } = source;
  let row: ResponseRow | undefined = source.row;
  let cursor = after;
  const giveUpAt = Date.now() + source.maxWaitMs;
  for (;;) {
    for await (const events of readEvents(db, row, cursor)) {
      if (events.length === 0) continue;
      let text = "";
      for (const event of events) text += event.frame;
      cursor = events[events.length - 1]!.seq;
      yield encoder.encode(text);
    }
    if (TERMINAL_STATUSES.has(row.status)) return;
    if (row.background && source.liveTail !== undefined) {
      const live = await source.liveTail(cursor);
      if (live !== null) {
        const reader = live.getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            yield value;
          }
        } finally {
          reader.releaseLock();
        }
      }
    }
    if (Date.now() >= giveUpAt) return;
    await sleep(FOLLOW_POLL_MS);
    row = await findResponse(db, row.tenantId, row.id);
    // Deleted meanwhile: the stream ends where it is.
    if (row === undefined) return;
    if (await endIfStale(db, row, source.recordFlushMs)) row = await findResponse(db, row.tenantId, row.id);
    if (row === undefined) return;
  }
}

/** The SSE response of a stored response's events after `after`, followed to its end. */
export function followResponse(source: FollowSource, after: number): Response {
  const chunks = follow(source, after);
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await chunks.next();
        if (next.done === true) controller.close();
        else controller.enqueue(next.value);
      },
      async cancel() {
        await chunks.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { headers: SSE_HEADERS });
}
