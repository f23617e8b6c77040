// A late reader of a long background run (issue 18 item 9): the SDK's resume reads from
// `starting_after=0`. The object's live log hands it the run in bounded pieces, old events a D1
// batch at a time and recent ones from memory, never the whole log as one string, while memory keeps
// only the recent events.

import { describe, expect, it } from "vitest";
import { LiveLog } from "../../src/run/live-log";

/** Frames of about 2,000 characters: 3,000 of them are a 6 MB log, more than the log keeps in memory. */
const FRAME_COUNT = 3_000;
const frameOf = (seq: number): string =>
  `event: response.output_text.delta\ndata: {"sequence_number":${seq},"delta":"${"x".repeat(1_950)}"}\n\n`;
/** Events per recorded batch, as the recorder writes them to D1. */
const BATCH = 50;

/** A log whose recorded frames (a stand-in for D1) are every one it was handed. */
function recordingLog(): {
  log: LiveLog;
  record: (from: number, to: number) => void;
  storedReads: { after: number; upTo: number }[];
} {
  const storedReads: { after: number; upTo: number }[] = [];
  let recordedUpTo = -1;
  const log = new LiveLog({
    async *readStored(after, upTo) {
      storedReads.push({ after, upTo });
      for (let first = after + 1; first <= upTo; first += BATCH) {
        const batch: { seq: number; frame: string }[] = [];
        for (let seq = first; seq < Math.min(first + BATCH, upTo + 1); seq++) batch.push({ seq, frame: frameOf(seq) });
        yield await Promise.resolve(batch);
      }
    },
    recordedUpTo: () => recordedUpTo,
  });
  const record = (from: number, to: number): void => {
    for (let seq = from; seq < to; seq++) {
      recordedUpTo = seq;
      log.remember(seq, frameOf(seq));
    }
    log.publish(to - 1);
  };
  return { log, record, storedReads };
}

/** A run's log: every frame recorded to (a stand-in for) D1, then kept by the live log. */
function longRun(): { log: LiveLog; storedReads: { after: number; upTo: number }[] } {
  const { log, record, storedReads } = recordingLog();
  record(0, FRAME_COUNT);
  log.close();
  return { log, storedReads };
}

const seqsOf = (text: string): number[] =>
  [...text.matchAll(/"sequence_number":(\d+)/g)].map((match) => Number(match[1]));

/** Reads a tail to its end: every chunk's size, and the text. */
async function readAll(stream: ReadableStream<Uint8Array>): Promise<{ sizes: number[]; text: string }> {
  const decoder = new TextDecoder();
  const sizes: number[] = [];
  let text = "";
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { sizes, text };
    sizes.push(value.byteLength);
    text += decoder.decode(value, { stream: true });
  }
}

describe("a late reader of a long background run", () => {
  it("reads from starting_after=0 in bounded pieces: old events from D1 a batch at a time, never the whole log", async () => {
    const { log, storedReads } = longRun();
    const { sizes, text } = await readAll(log.tail(0));
    let expected = "";
    for (let seq = 1; seq < FRAME_COUNT; seq++) expected += frameOf(seq);
    // Compared by length first: a mismatch of 6 MB strings would flood the report.
    expect(text.length).toBe(expected.length);
    expect(text === expected).toBe(true);
    // The whole log is about 6 MB; no piece was more than a D1 batch (100 kB) or a memory piece (64 KiB).
    expect(expected.length).toBeGreaterThan(5_000_000);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(BATCH * frameOf(FRAME_COUNT).length);
    expect(sizes.length).toBeGreaterThan(FRAME_COUNT / BATCH);
    // The oldest events had left memory (it keeps about 4 MB): they were read back from D1, once.
    expect(storedReads).toHaveLength(1);
    expect(storedReads[0]?.after).toBe(0);
    expect(storedReads[0]?.upTo).toBeGreaterThan(500);
  });

  it("several late readers each get every event, in order, each from its own cursor", async () => {
    const { log } = longRun();
    const [first, second] = await Promise.all([readAll(log.tail(0)), readAll(log.tail(FRAME_COUNT - 10))]);
    expect(seqsOf(first.text)).toEqual(Array.from({ length: FRAME_COUNT - 1 }, (_, index) => index + 1));
    expect(seqsOf(second.text)).toEqual(Array.from({ length: 9 }, (_, index) => FRAME_COUNT - 9 + index));
  });

  it("a reader that falls behind memory again reads the newly dropped events from D1 too", async () => {
    // A background stream whose last events are large (a 1.6 MB answer's .done events) pushed the
    // reader out of memory twice: the second time it asked the first, spent read of D1 and was cut
    // off with 'events N..N are missing from the record'.
    const { log, record, storedReads } = recordingLog();
    record(0, FRAME_COUNT);
    const reader = log.tail(-1).getReader();
    const decoder = new TextDecoder();
    let text = "";
    // Past the events the first D1 read covered, into the ones still in memory.
    while (!seqsOf(text).includes((storedReads[0]?.upTo ?? 0) + 1)) {
      const { value } = await reader.read();
      text += decoder.decode(value, { stream: true });
    }
    record(FRAME_COUNT, 2 * FRAME_COUNT);
    log.close();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(seqsOf(text)).toEqual(Array.from({ length: 2 * FRAME_COUNT }, (_, index) => index));
    expect(storedReads).toHaveLength(2);
  });

  it("a gap in the record ends a reader with an error event naming it, not a cut without one", async () => {
    // D1 lacks what memory let go of (a fault): the reader is told, as the SDK reads an `error` event.
    const log = new LiveLog({
      async *readStored() {
        yield await Promise.resolve([]);
      },
      recordedUpTo: () => FRAME_COUNT - 1,
    });
    for (let seq = 0; seq < FRAME_COUNT; seq++) log.remember(seq, frameOf(seq));
    log.publish(FRAME_COUNT - 1);
    const { text } = await readAll(log.tail(-1));
    expect(text.startsWith("event: error\n")).toBe(true);
    const data = JSON.parse(text.slice(text.indexOf("data: ") + 6).trim()) as Record<string, unknown>;
    expect(data).toMatchObject({ type: "error", sequence_number: 0, code: "stream_interrupted" });
    expect(data.message).toContain("missing from the record");
  });
});

describe("counting a live log's readers", () => {
  it("counts out a reader whose read of D1 failed, so the run stops flushing as if watched", async () => {
    const watched: boolean[] = [];
    const log = new LiveLog(
      {
        readStored: () => ({
          [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error("D1_ERROR: simulated")) }),
        }),
        recordedUpTo: () => 12,
        watched: (now) => watched.push(now),
      },
      10,
    );
    for (let seq = 10; seq <= 12; seq++) log.remember(seq, frameOf(seq));
    log.publish(12);
    await expect(readAll(log.tail(-1))).rejects.toThrow("D1_ERROR: simulated");
    expect(watched).toEqual([true, false]);
  });
});
