// Streams of this isolate whose client may have left unnoticed: while the model is silent, a client
// that closed its connection shows only at the stream's next write (a keepalive comment every
// STREAM_KEEPALIVE_SECONDS). A create refused by such a run (the conversation it holds, or the
// response it continues from still running) asks it to test its client now: a client that is gone
// makes the run let go (its claim yielded, its row marked left, in D1) and the create tries again; a
// client still there keeps it, and the create is refused as before. A run in another isolate is not
// asked: it lets go at its own next write. Listed by src/stream/foreground.ts (a store:false turn is not).

/** How long a create waits for a run's answer before it is refused as it would have been. */
export const CHECK_WAIT_MS = 2_000;

/** How often a listed run looks for a question (a flag read; the check itself runs only when asked). */
const ASK_POLL_MS = 100;

/** Tests the run's client now; true once the client was found gone and the run let go in D1. */
export type ClientCheck = () => Promise<boolean>;

/** A create's question to a run: the run sets `letGo` once it checked. */
interface Question {
  letGo?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One list of runs that can test their client, by what they hold. */
export class ClientChecks {
  readonly #listed = new Map<string, { responseId: string; questions: Question[] }>();

  /**
   * Lists `responseId`'s run under the tenant's `key`; the returned function unlists it. Called in the
   * run's own request, and `check` runs there: the run's stream is that request's to write (another
   * request's write fails, and would pass for a client gone). Neither side settles a promise the
   * other waits on (its continuation would run in the wrong request where the runtime does not move
   * it, as in the test runtime): a question is left on the list, a timer of the run's request picks
   * it up within ASK_POLL_MS and writes the answer, and a timer of the asking request reads it.
   */
  note(tenantId: string, key: string, responseId: string, check: ClientCheck): () => void {
    const listedAs = `${tenantId}\n${key}`;
    const entry = { responseId, questions: [] as Question[] };
    let checking = false;
    const timer = setInterval(() => {
      if (entry.questions.length === 0 || checking) return;
      checking = true;
      const asked = entry.questions.splice(0);
      void check()
        .catch(() => false)
        .then((letGo) => {
          checking = false;
          for (const question of asked) question.letGo = letGo;
        });
    }, ASK_POLL_MS);
    this.#listed.set(listedAs, entry);
    return () => {
      clearInterval(timer);
      for (const question of entry.questions.splice(0)) question.letGo = false;
      if (this.#listed.get(listedAs) === entry) this.#listed.delete(listedAs);
    };
  }

  /**
   * Asks the run listed under the tenant's `key` (not `by`'s own) to test its client: true when it
   * let go within CHECK_WAIT_MS; false when none is listed, its client is there, or it did not answer.
   */
  async check(tenantId: string, key: string, by?: string): Promise<boolean> {
    const entry = this.#listed.get(`${tenantId}\n${key}`);
    if (entry === undefined || entry.responseId === by) return false;
    const question: Question = {};
    entry.questions.push(question);
    const deadline = Date.now() + CHECK_WAIT_MS;
    while (question.letGo === undefined && Date.now() < deadline) await sleep(ASK_POLL_MS);
    return question.letGo === true;
  }
}

/** Runs holding a conversation's claim, by conversation id. */
export const claimHolders = new ClientChecks();

/** Stored foreground streams still running, by response id. */
export const runningStreams = new ClientChecks();
