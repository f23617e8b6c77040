// Fans the live event log out to readers. Each reader is a pull-based tail with its own cursor:
// it reads published frames (from memory, or the DO's SQLite for old ones) when it is ready, so a
// slow reader never holds up the run or the other readers, and memory stays bounded.

const encoder = new TextEncoder();

/** Frames kept in memory for tails; older ones are read back from SQLite. */
const MAX_MEMORY_CHARS = 4 * 1024 * 1024;

export class LiveLog {
  /** Frames in memory start at this sequence number. */
  #base = 0;
  #frames: string[] = [];
  #chars = 0;
  /** Highest sequence number readers may see. */
  #published = -1;
  #closed = false;
  readonly #waiters = new Set<() => void>();
  readonly #readStored: (from: number, to: number) => string[];

  /**
   * @param recordedUpTo the last sequence number already in storage: memory starts after it.
   * @param publishedUpTo the last sequence number readers may see now.
   */
  constructor(
    readStored: (from: number, to: number) => string[],
    recordedUpTo = -1,
    publishedUpTo = -1,
    closed = false,
  ) {
    this.#readStored = readStored;
    this.#base = recordedUpTo + 1;
    this.#published = publishedUpTo;
    this.#closed = closed;
  }

  get published(): number {
    return this.#published;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Keeps a just-recorded frame in memory; readers see it once published. */
  remember(seq: number, frame: string): void {
    if (seq !== this.#base + this.#frames.length) return;
    this.#frames.push(frame);
    this.#chars += frame.length;
    while (this.#chars > MAX_MEMORY_CHARS && this.#frames.length > 1) {
      this.#chars -= (this.#frames.shift() as string).length;
      this.#base += 1;
    }
  }

  publish(upTo: number): void {
    if (upTo <= this.#published) return;
    this.#published = upTo;
    this.#wake();
  }

  /** No more events will come (terminal published, cancelled, or failed). */
  close(): void {
    this.#closed = true;
    this.#wake();
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  #framesBetween(from: number, to: number): string {
    if (from >= this.#base) return this.#frames.slice(from - this.#base, to - this.#base + 1).join("");
    const stored = this.#readStored(from, Math.min(to, this.#base - 1)).join("");
    return to >= this.#base ? stored + this.#frames.slice(0, to - this.#base + 1).join("") : stored;
  }

  /** A byte stream of the frames after `after`, live until the log closes. */
  tail(after: number): ReadableStream<Uint8Array> {
    let cursor = after;
    let wake: (() => void) | undefined;
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          for (;;) {
            if (cursor < this.#published) {
              const upTo = this.#published;
              controller.enqueue(encoder.encode(this.#framesBetween(cursor + 1, upTo)));
              cursor = upTo;
              return;
            }
            if (this.#closed) {
              controller.close();
              return;
            }
            await new Promise<void>((resolve) => {
              wake = resolve;
              this.#waiters.add(resolve);
            });
          }
        },
        cancel: () => {
          if (wake) this.#waiters.delete(wake);
        },
      },
      { highWaterMark: 0 },
    );
  }
}
