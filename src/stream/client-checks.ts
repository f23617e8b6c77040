// Streams of this isolate whose client may have left unnoticed: while the model is silent, a client
// that closed its connection shows only at the stream's next write (a keepalive comment every
// STREAM_KEEPALIVE_SECONDS). A create refused by such a run (the conversation it holds, or the
// response it continues from still running) asks it to test its client now: a client that is gone
// makes the run let go (its claim yielded, its row marked left, in D1) and the create tries again; a
// client still there keeps it, and the create is refused as before. A run in another isolate is not
// asked: it lets go at its own next write. Listed by src/stream/foreground.ts, and src/run/stateless.ts
// (a store:false conversation turn, on `claimHolders`: its client gone, it stops and releases the claim).

/** How long a create waits for a run's answer before it is refused as it would have been. */
const CHECK_WAIT_MS = 2_500;

/**
 * How often a listed run looks for a question: a flag read, but a timer fire costs a running stream
 * some 10 µs of CPU, so once a second (about 0.1 ms for a 10 s stream), not ten times.
 */
const PICKUP_MS = 1_000;

/** How often a waiting create looks for its answer (its own timer, only while it waits). */
const ANSWER_POLL_MS = 100;

/** Tests the run's client now; true once the client was found gone and the run let go in D1. */
export type ClientCheck = () => Promise<boolean>;

/** A create's question to a run: the run sets `letGo` once it checked. */
interface Question {
  letGo?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One run's place on the lists (one per run, whichever lists it is on): the questions asked of it,
 * which one timer of the run's own request picks up and answers. The check runs in that request: the
 * run's stream is that request's to write (another request's write fails, and would pass for a client
 * gone). So the asking request does not wake the run by settling a promise the run waits on: where
 * the runtime does not move a continuation back to its own request (the test runtime), the run's
 * writes would then run in the asker's request and fail. A question is left here instead, the run's
 * timer picks it up within PICKUP_MS and writes the answer, and the asking request's timer reads it.
 * (A request that only waits for another's D1 write before reading D1 itself, as
 * src/stream/unwritten-rows.ts does, needs none of this: its reads work in either request.)
 */
export class CheckableRun {
  readonly #questions: Question[] = [];
  /** Questions its check is testing the client for: answered too if the run lets go or ends first. */
  #asked: Question[] = [];
  readonly #timer: ReturnType<typeof setInterval>;
  #letGo = false;
  #checking = false;

  constructor(
    readonly responseId: string,
    check: ClientCheck,
  ) {
    this.#timer = setInterval(() => {
      if (this.#questions.length === 0 || this.#checking) return;
      this.#checking = true;
      const asked = (this.#asked = this.#questions.splice(0));
      void check()
        .catch(() => false)
        .then((letGo) => {
          this.#checking = false;
          if (this.#asked === asked) this.#asked = [];
          for (const question of asked) question.letGo ??= letGo;
        });
    }, PICKUP_MS);
  }

  ask(question: Question): void {
    if (this.#letGo) question.letGo = true;
    else this.#questions.push(question);
  }

  /**
   * The run let go by itself (its client was noticed gone, its claim yielded and its row marked left,
   * in D1), or ended: every question, waiting or to come, is answered at once, so a create that asked
   * tries again now rather than at the next pickup (or is refused by what D1 then says).
   */
  letGo(): void {
    this.#letGo = true;
    // A check under way when the run ends may never answer (its stream closed under it): its
    // questions are answered here, not left to wait out CHECK_WAIT_MS.
    for (const question of [...this.#asked, ...this.#questions.splice(0)]) question.letGo ??= true;
  }

  /** The run ended: no more questions are picked up; a create that asked reads D1 again. */
  end(): void {
    clearInterval(this.#timer);
    this.letGo();
  }
}

/** One list of runs that can test their client, by what they hold. */
export class ClientChecks {
  readonly #listed = new Map<string, CheckableRun>();

  /** Lists `run` under the tenant's `key`; the returned function unlists it. */
  note(tenantId: string, key: string, run: CheckableRun): () => void {
    const listedAs = `${tenantId}\n${key}`;
    this.#listed.set(listedAs, run);
    return () => {
      if (this.#listed.get(listedAs) === run) this.#listed.delete(listedAs);
    };
  }

  /**
   * Asks the run listed under the tenant's `key` (not `by`'s own) to test its client: true when it
   * let go within CHECK_WAIT_MS; false when none is listed, its client is there, or it did not answer.
   */
  async check(tenantId: string, key: string, by?: string): Promise<boolean> {
    const run = this.#listed.get(`${tenantId}\n${key}`);
    if (run === undefined || run.responseId === by) return false;
    const question: Question = {};
    run.ask(question);
    const deadline = Date.now() + CHECK_WAIT_MS;
    while (question.letGo === undefined && Date.now() < deadline) await sleep(ANSWER_POLL_MS);
    return question.letGo === true;
  }
}

/** Runs holding a conversation's claim, by conversation id. */
export const claimHolders = new ClientChecks();

/** Stored foreground streams still running, by response id. */
export const runningStreams = new ClientChecks();
