// Fans a background run's events out to readers. Each reader is a pull-based tail with its own
// cursor: it takes published frames from memory, or from D1 for old ones already recorded there,
// in bounded pieces when it is ready, so a slow or late reader never holds up the run, never makes
// the object build a long log as one string, and memory stays bounded. Used by the ResponseRun DO.

import { encodeFrame } from "../sse";

const encoder = new TextEncoder();

/**
 * What a reader gets where D1 lacks events it should have (a fault): an `error` event, as a stream
 * the gateway cannot go on with ends, so the client is told rather than cut off mid-response. Its
 * sequence number is the first missing one; the response itself runs on, readable by id.
 */
function gapError(from: number, to: number): string {
  const code = "stream_interrupted";
  const message = `The stream could not go on: events ${from}..${to} are missing from the record. The response goes on; retrieve it by its id.`;
  const error = { type: "server_error", code, message, param: null };
  return encodeFrame(
    "error",
    JSON.stringify({ type: "error", sequence_number: from, code, message, param: null, error }),
  );
}

/** Frames kept in memory for tails once D1 has them; older ones are read back from D1. */
const MAX_MEMORY_CHARS = 4 * 1024 * 1024;
/** Characters a reader is handed per pull from memory. */
const MAX_PIECE_CHARS = 64 * 1024;

export interface LiveLogSource {
  /** Recorded frames with `after < seq <= upTo`, a batch at a time, from D1. */
  readStored(after: number, upTo: number): AsyncIterable<{ seq: number; frame: string }[]>;
  /** The last sequence number D1 has: frames up to it may leave memory. */
  recordedUpTo(): number;
  /** A reader is about to be sent events up to `seq`, which D1 may not have yet (the object notes it). */
  sending?(seq: number): void;
  /** Readers are attached (`true`, the first came) or none is any more (`false`). */
  watched?(watched: boolean): void;
}

export class LiveLog {
  /** Frames in memory start at this sequence number. */
  #base: number;
  #frames: string[] = [];
  #chars = 0;
  /** Highest sequence number readers may see. */
  #published: number;
  #closed = false;
  /** A frame every reader gets after the last published one once the log closes (a deleted run's). */
  #end: string | undefined;
  readonly #waiters = new Set<() => void>();
  readonly #source: LiveLogSource;
  /** Tails open now. */
  #readers = 0;

  /** @param firstInMemory the first sequence number this log will be handed (older ones are in D1). */
  constructor(source: LiveLogSource, firstInMemory = 0, publishedUpTo = -1) {
    this.#source = source;
    this.#base = firstInMemory;
    this.#published = publishedUpTo;
  }

  get published(): number {
    return this.#published;
  }

  /** Keeps a just-recorded frame in memory; readers see it once published. */
  remember(seq: number, frame: string): void {
    if (seq !== this.#base + this.#frames.length) return;
    this.#frames.push(frame);
    this.#chars += frame.length;
    const recorded = this.#source.recordedUpTo();
    while (this.#chars > MAX_MEMORY_CHARS && this.#frames.length > 1 && this.#base <= recorded) {
      this.#chars -= (this.#frames.shift() as string).length;
      this.#base += 1;
    }
  }

  publish(upTo: number): void {
    if (upTo <= this.#published) return;
    this.#published = upTo;
    this.#wake();
  }

  /**
   * No more events will come (the terminal one was published, or the run was cancelled or discarded);
   * `end`: a frame each reader is sent last, after every published one.
   */
  close(end?: string): void {
    this.#end ??= end;
    this.#closed = true;
    this.#wake();
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Frames from memory starting after `cursor`, at most a piece's worth (at least one frame). */
  #piece(cursor: number, upTo: number): { text: string; last: number } {
    let text = "";
    let last = cursor;
    for (let seq = cursor + 1; seq <= upTo; seq++) {
      const frame = this.#frames[seq - this.#base];
      if (frame === undefined) break;
      if (text !== "" && text.length + frame.length > MAX_PIECE_CHARS) break;
      text += frame;
      last = seq;
    }
    return { text, last };
  }

  /** Counts a tail in (`1`) or out (`-1`), telling the source when the first comes or the last goes. */
  #count(change: 1 | -1): void {
    this.#readers += change;
    if (this.#readers === (change === 1 ? 1 : 0)) this.#source.watched?.(change === 1);
  }

  /** A byte stream of the frames after `after`, live until the log closes. */
  tail(after: number): ReadableStream<Uint8Array> {
    let cursor = after;
    let ended = false;
    let attached = true;
    this.#count(1);
    const detach = () => {
      if (attached) this.#count(-1);
      attached = false;
    };
    let wake: (() => void) | undefined;
    let stored: AsyncIterator<{ seq: number; frame: string }[]> | undefined;
    /** The last event `stored` reads: memory began after it when that read started. */
    let storedUpTo = -1;
    const pullOnce = async (controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> => {
      for (;;) {
        if (cursor < this.#published) {
          if (cursor + 1 < this.#base) {
            // Older than memory: D1 has these; one batch per pull. A reader that fell behind
            // again, past what its last read covered, needs a read of the newly dropped ones.
            if (stored === undefined || cursor >= storedUpTo) {
              await stored?.return?.();
              storedUpTo = this.#base - 1;
              stored = this.#source.readStored(cursor, storedUpTo)[Symbol.asyncIterator]();
            }
            const next = await stored.next();
            const frames = next.done === true ? [] : next.value.filter((event) => event.seq > cursor);
            if (frames.length === 0) {
              // Frames leave memory only once D1 has them: a gap here is a fault, not an end.
              controller.enqueue(encoder.encode(gapError(cursor + 1, this.#base - 1)));
              detach();
              controller.close();
              return;
            }
            let text = "";
            for (const event of frames) text += event.frame;
            cursor = frames[frames.length - 1]!.seq;
            controller.enqueue(encoder.encode(text));
            return;
          }
          const { text, last } = this.#piece(cursor, this.#published);
          if (text !== "") {
            this.#source.sending?.(last);
            cursor = last;
            controller.enqueue(encoder.encode(text));
            return;
          }
        }
        if (this.#closed) {
          if (this.#end !== undefined && !ended) {
            ended = true;
            controller.enqueue(encoder.encode(this.#end));
            return;
          }
          detach();
          controller.close();
          return;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          this.#waiters.add(resolve);
        });
      }
    };
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          try {
            await pullOnce(controller);
          } catch (error) {
            // The stream errors and is never cancelled: counted out here, or the run flushes as if watched.
            detach();
            throw error;
          }
        },
        cancel: async () => {
          detach();
          if (wake) this.#waiters.delete(wake);
          await stored?.return?.();
        },
      },
      { highWaterMark: 0 },
    );
  }
}
