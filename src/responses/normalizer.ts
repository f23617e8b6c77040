// Turns the adapter's event stream into the gateway's own: the gateway's response id and echoed
// request fields on every snapshot, contiguous sequence numbers from 0, contiguous output indexes,
// grammar enforced (a violation ends the response as failed), and exactly one terminal event.
// Each event is serialized once, here. Used by the ResponseRun DO and the store:false path.

import { GrammarError, ResponseFold, doneKey } from "./fold";
import { isKnownEventType } from "./event-types";
import { ITEM_ID_PREFIXES, newId } from "./ids";
import { addWithheld, NOTHING_WITHHELD, type WithheldReasoning } from "./input-transformations";
import { applyEcho, completeSnapshot, type ResponseEcho } from "./response-object";
import { finishingEvents, itemEvents } from "./synthesize";
import type { FailedBy, JsonObject, OutputItem, ResponseError, ResponseObject, StreamEvent } from "./types";
import { LIFECYCLE_EVENTS, TERMINAL_EVENTS, responseError, textOf } from "./types";
import { isPlainObject } from "./validation";

export interface NormalizedEvent {
  seq: number;
  type: string;
  /** The event serialized as the `data:` line of its frame. */
  json: string;
  terminal: boolean;
}

export interface NormalizerOptions {
  echo: ResponseEcho;
  /** The snapshot announced before the upstream answers (background's `response.created`). */
  initial: ResponseObject;
  background: boolean;
  /** Called for every event dropped or rewritten because the upstream broke the grammar. */
  onAnomaly?: (message: string) => void;
  /** Takes the upstream's key out of an error it sent (some servers quote the key they refused). */
  redact?: (text: string) => string;
}

export class StreamNormalizer {
  readonly #options: NormalizerOptions;
  /** Events are serialized before they are folded and never touched again: the fold owns them. */
  readonly #fold = new ResponseFold({ owned: true });
  #seq = 0;
  #terminal = false;
  #errorSent = false;
  /** The last `error` event's payload: a stream cut right after it fails with that error. */
  #lastError: ResponseError | undefined;
  /** Who failed the response when the gateway did (`fail`); null for an upstream's own `response.failed`. */
  #failedBy: FailedBy | null = null;
  #inProgressSent = false;
  /** Upstream output_index -> gateway output_index (gaps in upstream numbering are closed). */
  readonly #outputIndex = new Map<number, number>();
  /** Gateway output_index -> id minted for an item the upstream sent without one. */
  readonly #mintedIds = new Map<number, string>();
  /** Tokens spent for the response before its upstream call (create-time compaction's summary). */
  #spent: JsonObject | undefined;
  /** An item was moved off an output index the upstream gave another (Ollama): see `#reuseIndex`. */
  #moved = false;
  /** Output indexes of the items finished `incomplete` when the stream failed or the upstream sent `error`. */
  readonly #cut = new Set<number>();
  /** Repairs already logged (the normalizer's and its translator's): each kind once a response, not once an event. */
  readonly #reported = new Set<string>();
  /** Reasoning items the gateway left out of the call: every snapshot from then on lists them. */
  #withheld: WithheldReasoning = NOTHING_WITHHELD;

  constructor(options: NormalizerOptions) {
    this.#options = options;
  }

  /** Rebuilds a normalizer from the events it already emitted (after its object restarted). */
  static resume(options: NormalizerOptions, events: StreamEvent[]): StreamNormalizer {
    const normalizer = new StreamNormalizer(options);
    for (const event of events) normalizer.#replay(event);
    return normalizer;
  }

  #replay(event: StreamEvent): void {
    this.#fold.apply(event);
    this.#seq = (event.sequence_number ?? this.#seq) + 1;
    if (event.type === "response.in_progress") this.#inProgressSent = true;
    if (event.type === "error") this.#errorSent = true;
    if (TERMINAL_EVENTS.has(event.type)) this.#terminal = true;
  }

  /** Reports what a translator repaired in the upstream's stream, as the normalizer's own repairs are: once a response. */
  anomaly(message: string): void {
    this.#report(message);
  }

  get terminal(): boolean {
    return this.#terminal;
  }

  get nextSeq(): number {
    return this.#seq;
  }

  /**
   * The next event is numbered at least `seq`: a recovered run's readers may have been sent lost
   * events up to just before it, and a number must never name two different events.
   */
  skipTo(seq: number): void {
    this.#seq = Math.max(this.#seq, seq);
  }

  /** What failed the response: null unless it failed, or failed by the upstream's own `response.failed`. */
  get failedBy(): FailedBy | null {
    return this.#failedBy;
  }

  /** The live snapshot: the fold of everything emitted so far. */
  get snapshot(): ResponseObject {
    return this.#fold.snapshot ?? this.#options.initial;
  }

  /**
   * Usage already spent for the response (a create-time compaction's summary call): a response that
   * fails or is cancelled before its upstream reports usage shows, and is counted for, these tokens.
   */
  spend(usage: JsonObject | undefined): void {
    this.#spent = usage;
  }

  /**
   * The reasoning items the gateway left out of the upstream call: each snapshot sent from now on
   * (a background's `response.created` came before the call) lists them in `input_transformations`.
   */
  withhold(withheld: WithheldReasoning): void {
    this.#withheld = withheld;
  }

  /** Background responses announce themselves before the upstream is called. */
  begin(): NormalizedEvent[] {
    if (!this.#options.background) return [];
    const created = this.#emit({
      type: "response.created",
      sequence_number: 0,
      response: structuredClone(this.#options.initial),
    });
    const queued = this.#emit({
      type: "response.queued",
      sequence_number: 0,
      response: structuredClone(this.#options.initial),
    });
    return [created, queued];
  }

  /** Accepts one event from the adapter; returns what the client is sent (possibly nothing). */
  accept(event: StreamEvent): NormalizedEvent[] {
    if (this.#terminal) return [];
    const type = event.type;
    if (!isKnownEventType(type)) {
      this.#options.onAnomaly?.(`dropped unknown event type '${type}'`);
      return [];
    }
    // Every event numbered here was folded: one the grammar error below cuts short still goes out,
    // before the failure, or the client misses it (`response.created`, a finished item) and the numbers gap.
    const out: NormalizedEvent[] = [];
    try {
      if (LIFECYCLE_EVENTS.has(type)) {
        this.#lifecycle(event, out);
        return out;
      }
      this.#ensureStarted(out);
      if (type === "error") {
        this.#errorSent = true;
        const flat = flattenError(quotedError(event, this.#options.redact));
        this.#lastError = responseError(
          textOf(flat.code) || "server_error",
          textOf(flat.message),
          flat.error as JsonObject,
        );
        // The SDK's stream throws at `error` and reads nothing after it: what it cut is finished first, as in `fail`.
        this.#finishCut(out);
        out.push(this.#emit(flat));
        return out;
      }
      this.#remapItemEvent(event, out);
      if (type !== "response.output_item.added" && this.#cut.has(event.output_index as number)) {
        // An upstream that goes on after its `error`: the item it cut was finished, and stays as the client saw it.
        this.#report("dropped events for an item the upstream's error event ended");
        return out;
      }
      out.push(this.#emit(event));
      return out;
    } catch (error) {
      if (!(error instanceof GrammarError)) throw error;
      this.#options.onAnomaly?.(error.message);
      const failed = this.fail(
        responseError("server_error", `The upstream stream broke the Responses event grammar: ${error.message}`),
        "upstream_stream",
      );
      for (const closing of failed) out.push(closing);
      return out;
    }
  }

  /** The upstream body ended: a stream without a terminal event fails with its partial output. */
  finish(): NormalizedEvent[] {
    if (this.#terminal) return [];
    if (this.#lastError !== undefined) return this.fail(this.#lastError, "upstream_error");
    return this.fail(
      responseError("server_error", "The upstream stream ended before the response was complete."),
      "upstream_stream",
    );
  }

  /** Ends the response as `failed`: an `error` event (unless one was sent) and `response.failed`. */
  fail(error: ResponseError, by: FailedBy): NormalizedEvent[] {
    if (this.#terminal) return [];
    this.#failedBy = by;
    const out: NormalizedEvent[] = [];
    this.#ensureStarted(out);
    this.#finishCut(out);
    this.#errorOnce(error, out);
    const response = this.#partialSnapshot("failed");
    response.error = { ...error };
    out.push(this.#emit({ type: "response.failed", sequence_number: 0, response }));
    return out;
  }

  /** Finishes the items a failure cut open, `incomplete`, into `out`: those the fold cannot finish stay open. */
  #finishCut(out: NormalizedEvent[]): void {
    const open = this.#fold.openItems;
    try {
      this.#finishOpenItems([], out, "incomplete");
    } catch (broken) {
      // Items the fold cannot finish stay open in the events; the snapshot still marks them incomplete.
      if (!(broken instanceof GrammarError)) throw broken;
      this.#options.onAnomaly?.(broken.message);
    }
    for (const index of open) if (!this.#fold.openItems.has(index)) this.#cut.add(index);
  }

  /** Ends the response as `cancelled` without any event (there is no `response.cancelled` event). */
  cancel(): ResponseObject {
    this.#terminal = true;
    return this.#partialSnapshot("cancelled");
  }

  #partialSnapshot(status: string): ResponseObject {
    const response = structuredClone(this.snapshot);
    applyEcho(response, this.#options.echo);
    response.status = status as ResponseObject["status"];
    response.completed_at = null;
    if (response.usage == null && this.#spent !== undefined) response.usage = structuredClone(this.#spent);
    addWithheld(response, this.#withheld);
    this.#closeOpenItems(response.output);
    return response;
  }

  /** Marks the items that were added but never finished `incomplete`. */
  #closeOpenItems(output: OutputItem[]): void {
    for (const index of this.#fold.openItems) {
      const item = output[index];
      if (item !== undefined && item.status === "in_progress") item.status = "incomplete";
    }
  }

  /**
   * The start events not yet sent (`response.created`, `response.in_progress`), into `out`: OpenAI
   * always follows its `response.created` with `response.in_progress`, and some servers send none.
   * `inProgress` false: a foreground response completed with nothing in it (a `generate: false`
   * warm-up is `response.created`, then `response.completed`) gets none.
   */
  #ensureStarted(out: NormalizedEvent[], inProgress = true): void {
    if (this.#fold.snapshot !== undefined) {
      if (!this.#inProgressSent && (inProgress || this.#options.background))
        out.push(this.#inProgress(structuredClone(this.snapshot)));
      return;
    }
    out.push(
      this.#emit({ type: "response.created", sequence_number: 0, response: structuredClone(this.#options.initial) }),
    );
    if (!this.#inProgressSent) out.push(this.#inProgress(structuredClone(this.#options.initial)));
  }

  #inProgress(response: JsonObject): NormalizedEvent {
    this.#inProgressSent = true;
    response.status = "in_progress";
    return this.#emit({ type: "response.in_progress", sequence_number: 0, response });
  }

  /** A lifecycle event: what it calls for goes into `out`. */
  #lifecycle(event: StreamEvent, out: NormalizedEvent[]): void {
    const response = event.response;
    if (typeof response !== "object" || response === null || Array.isArray(response))
      throw new GrammarError(`${event.type} has no response object`);
    const snapshot = response as JsonObject;
    // An upstream that sent `error` and then completed the response anyway: its clients were told it
    // failed (the SDK's stream throws at `error`), so it ends failed with that error, as OpenAI's
    // `error` is followed by `response.failed`, and chains and conversations do not take it as done.
    if (event.type === "response.completed" && this.#lastError !== undefined) {
      this.#report("response.completed came after an error event: sent as response.failed with that error");
      event.type = "response.failed";
      snapshot.status = "failed";
      snapshot.error = { ...this.#lastError };
    }
    applyEcho(snapshot, this.#options.echo);
    // Every field OpenAI serializes is present, even when an upstream leaves some out.
    completeSnapshot(snapshot, this.#options.initial, Math.floor(Date.now() / 1000));
    switch (event.type) {
      case "response.created":
        if (this.#fold.snapshot === undefined) out.push(this.#emit(event));
        // Background already announced itself; the upstream's start is our move to in_progress.
        else if (!this.#inProgressSent) out.push(this.#inProgress(snapshot));
        return;
      case "response.queued":
        return;
      case "response.in_progress":
        // A foreground response started sends the upstream's own `response.in_progress`, not one made for it.
        this.#ensureStarted(out, false);
        if (!this.#inProgressSent) out.push(this.#inProgress(snapshot));
        return;
      default: {
        // Terminal: the stored snapshot is exactly what this event carries, output included.
        // vLLM ends a response cut at max_output_tokens with `response.completed` whose response is
        // `incomplete`: the event clients act on follows the response, as OpenAI sends it.
        if (event.type === "response.completed" && snapshot.status === "incomplete") {
          this.#report("response.completed carried an incomplete response: sent as response.incomplete");
          event.type = "response.incomplete";
        }
        const sent = snapshot.output;
        // Only a completion with nothing in it (a warm-up) goes without `response.in_progress`.
        const empty = !(Array.isArray(sent) && sent.length > 0) && this.snapshot.output.length === 0;
        this.#ensureStarted(out, event.type !== "response.completed" || !empty);
        // An output with something other than items in it (a `null`) would be stored and sent as is.
        const broken = Array.isArray(sent) && !sent.every(isOutputItem);
        if (broken)
          this.#report(`${event.type} carried an output entry that is not an item: the streamed output is kept`);
        // An item left open by a failed or incomplete end did not finish: it is finished `incomplete`.
        const finished = event.type === "response.completed" ? "completed" : "incomplete";
        if (this.#fold.openItems.size > 0) this.#report(`${event.type} left items open: they were finished before it`);
        if (!Array.isArray(sent) || broken || (sent.length === 0 && this.snapshot.output.length > 0)) {
          // SGLang's gpt-oss `response.completed` may list no output at all: an item only it would
          // have listed (SGLang streams no event for a call) is lost, and nothing here can bring it back.
          if (!broken && Array.isArray(sent))
            this.#report(`${event.type} listed no output after the stream added items: the streamed items are kept`);
          this.#finishOpenItems([], out, finished);
          snapshot.output = structuredClone(this.snapshot.output);
          // A call a failed or incomplete end left open did not finish, as in ours.
          if (finished === "incomplete") this.#closeOpenItems(snapshot.output as OutputItem[]);
        } else {
          this.#streamUnstreamed(sent as OutputItem[], out);
          if (this.#mintedIds.size > 0) this.#keepMintedIds(sent as OutputItem[]);
          if (this.#moved) this.#keepStreamedItems(sent as OutputItem[], event.type);
          this.#finishOpenItems(sent as OutputItem[], out, finished);
          this.#keepCutItems(sent as OutputItem[]);
        }
        if (event.type === "response.failed") {
          // Its error gets what the upstream left out (OpenAI's own sends only code and message).
          const sent = quotedError(
            typeof snapshot.error === "object" && snapshot.error !== null ? snapshot.error : {},
            this.#options.redact,
          ) as JsonObject;
          const message = textOf(sent.message);
          const shown = message === "" ? "The response failed." : message;
          const error = responseError(textOf(sent.code) || "server_error", shown, sent);
          snapshot.error = { ...sent, ...error };
          this.#errorOnce(error, out);
        }
        out.push(this.#emit(event));
        return;
      }
    }
  }

  /** OpenAI precedes every `response.failed` with an `error` event (both shapes of it); so do we, once. */
  #errorOnce(error: ResponseError, out: NormalizedEvent[]): void {
    if (this.#errorSent) return;
    this.#errorSent = true;
    out.push(
      this.#emit({
        type: "error",
        sequence_number: 0,
        code: error.code,
        message: error.message,
        param: error.param,
        error: { type: error.type, code: error.code, message: error.message, param: error.param },
      }),
    );
  }

  #report(message: string): void {
    if (this.#reported.has(message)) return;
    this.#reported.add(message);
    this.#options.onAnomaly?.(message);
  }

  /** Puts the event at the gateway's output index; `out` takes the events a reused index calls for first. */
  #remapItemEvent(event: StreamEvent, out: NormalizedEvent[]): void {
    const wire = event.output_index;
    if (typeof wire !== "number") return;
    let index = this.#outputIndex.get(wire);
    if (event.type === "response.output_item.added") {
      if (index !== undefined) this.#reuseIndex(index, event.item, wire, out);
      index = this.snapshot.output.length;
      this.#outputIndex.set(wire, index);
      const item = event.item as OutputItem | undefined;
      if (
        item &&
        typeof item === "object" &&
        (item.id === undefined || item.id === "") &&
        ITEM_ID_PREFIXES[item.type] !== undefined
      ) {
        const minted = newId(ITEM_ID_PREFIXES[item.type] as string);
        item.id = minted;
        this.#mintedIds.set(index, minted);
      }
    } else if (index === undefined) {
      throw new GrammarError(`${event.type} refers to output index ${wire} that was never added`);
    }
    event.output_index = index;
    const minted = this.#mintedIds.get(index);
    if (minted !== undefined) {
      if ("item_id" in event) event.item_id = minted;
      const item = event.item as OutputItem | undefined;
      if (event.type === "response.output_item.done" && item && typeof item === "object") item.id = minted;
    }
  }

  /**
   * A new item added at an output index the upstream already gave another: Ollama adds a tool call
   * at the index of the text before it, which it never finishes. The item there is finished first,
   * with the text its deltas built, as OpenAI finishes one before adding the next; the new item and
   * its later events take the next index. The same item added twice is still a grammar error.
   */
  #reuseIndex(index: number, item: unknown, wire: number, out: NormalizedEvent[]): void {
    const previous = this.snapshot.output[index];
    const id = typeof item === "object" && item !== null ? (item as JsonObject).id : undefined;
    if (previous === undefined || typeof id !== "string" || id === "" || id === previous.id)
      throw new GrammarError(`duplicate output index ${wire}`);
    this.#moved = true;
    this.#report(
      "an item was added at an output index the upstream had given another item: that item was finished and the new one moved to the next index",
    );
    if (!this.#fold.openItems.has(index)) return;
    const finished = structuredClone(previous);
    if ("status" in finished) finished.status = "completed";
    this.#finish(finished, index, out);
  }

  /**
   * Items still open at the terminal event: SGLang never sends an item's `done` events when its
   * end token is not in the output it reads (`<|return|>` left out, or `<|end|>` and the next header
   * in one chunk), a server's own `response.incomplete` or `response.failed` may come straight after
   * a delta, and a stream the gateway fails (cut, idle, broken) leaves the item it was in open. Each
   * is finished before the terminal event (`completed`, or `incomplete` for a failed or incomplete
   * end), as OpenAI finishes every item, the one cut at `max_output_tokens` `incomplete`; clients
   * that build the answer from `output_item.done` (Codex CLI) would otherwise never see it. The item
   * is finished as the terminal output lists it at its index (the same item, with the same parts),
   * else as its events built it.
   */
  #finishOpenItems(sent: OutputItem[], out: NormalizedEvent[], status: "completed" | "incomplete"): void {
    for (const index of this.#fold.openItems) {
      const streamed = this.snapshot.output[index] as OutputItem;
      // A call cut short stays open (its arguments may be cut mid-way): a client that runs what
      // `output_item.done` hands it (Codex CLI) must not run a truncated command.
      if (status === "incomplete" && !CUT_ITEMS_FINISHED.has(streamed.type)) continue;
      const listed = sent[index];
      const same = listed !== undefined && sameItem(listed, streamed);
      const finished = structuredClone(same ? listed : streamed);
      if (finished.status === "in_progress") finished.status = status;
      this.#finish(finished, index, out);
      if (same) sent[index] = structuredClone(finished);
    }
  }

  /**
   * The items a failed or incomplete end left open (calls: they are not finished), and those
   * finished `incomplete` at an upstream's `error`, are listed as the client saw them, `incomplete`:
   * an output that lists one `completed`, or with arguments never streamed, would have a client that
   * reads `response.output` run what was cut. (After a completed end's finishing, none is open.)
   */
  #keepCutItems(sent: OutputItem[]): void {
    for (const index of new Set([...this.#fold.openItems, ...this.#cut])) {
      const listed = sent[index];
      const streamed = this.snapshot.output[index] as OutputItem;
      if (listed !== undefined && sameItem(listed, streamed)) sent[index] = structuredClone(streamed);
    }
    this.#closeOpenItems(sent);
  }

  /** Finishes the open item at `index` as `item`: the `done` events of the parts still open, then its own. */
  #finish(item: OutputItem, index: number, out: NormalizedEvent[]): void {
    const had = this.#fold.finishedParts(index);
    for (const event of finishingEvents(item, index)) if (!had.has(doneKey(event))) out.push(this.#emit(event));
  }

  /**
   * A terminal output that lists items the stream never added (SGLang's `/v1/responses` streams item
   * events for gpt-oss only, and even then none for a function call): each such item's events go out
   * before the terminal event, as OpenAI streams every item, or clients that build the answer from
   * them (Codex CLI's `output_item.done`) never see it. It may also name the streamed items anew
   * (SGLang mints every id again at the end, or lists one without): each keeps the id it was
   * streamed with. Only an output that lists the streamed items first, in their order and types,
   * then the new ones, is read so; any other is left as it came.
   */
  #streamUnstreamed(sent: OutputItem[], out: NormalizedEvent[]): void {
    // A copy: the snapshot grows with each item streamed below.
    const streamed = [...this.snapshot.output];
    if (sent.length < streamed.length) return;
    const streamedIds = new Set(streamed.filter(hasId).map((item) => item.id));
    const renamed: number[] = [];
    for (const [index, item] of streamed.entries()) {
      const listed = sent[index] as OutputItem;
      if (listed.type !== item.type || listed.call_id !== item.call_id) return;
      if (listed.id === item.id || !hasId(item)) continue;
      if (hasId(listed) && streamedIds.has(listed.id)) return;
      renamed.push(index);
    }
    const added = sent.slice(streamed.length);
    if (added.some((item) => !hasId(item) && ITEM_ID_PREFIXES[item.type] === undefined)) return;
    if (added.some((item) => hasId(item) && streamedIds.has(item.id))) return;
    if (renamed.length > 0)
      this.#report("the terminal event named streamed items by other ids: they keep the ids they were streamed with");
    for (const index of renamed) (sent[index] as OutputItem).id = (streamed[index] as OutputItem).id;
    if (added.length === 0) return;
    this.#report("the terminal event carried output items the stream never added: their events are sent before it");
    added.forEach((item, offset) => {
      if (!hasId(item)) item.id = newId(ITEM_ID_PREFIXES[item.type] as string);
      for (const event of itemEvents(structuredClone(item), streamed.length + offset)) out.push(this.#emit(event));
    });
  }

  /**
   * An item streamed without an id got one minted here; the terminal output lists it without one
   * too (llama.cpp's calls). It keeps the minted id, or the SDK's stream helper throws at the
   * changed identity and the stored item has none.
   */
  #keepMintedIds(sent: OutputItem[]): void {
    for (const [index, id] of this.#mintedIds) {
      const item = sent[index];
      const streamed = this.snapshot.output[index];
      if (item === undefined || (item.id !== undefined && item.id !== "") || item.type !== streamed?.type) continue;
      if (item.call_id !== streamed.call_id) continue;
      item.id = id;
    }
  }

  /**
   * The terminal output of a stream whose items were moved may leave out the one the upstream never
   * finished (Ollama's lists only its calls): each streamed item it lacks is put back where it was
   * streamed, or the SDK's stream helper would end without it, the stored response with it.
   */
  #keepStreamedItems(sent: OutputItem[], type: string): void {
    const ids = new Set(sent.map((item) => item.id));
    this.snapshot.output.forEach((item, index) => {
      if (typeof item.id !== "string" || ids.has(item.id)) return;
      sent.splice(Math.min(index, sent.length), 0, structuredClone(item));
      this.#report(`${type} left out items it streamed: they are kept in its output`);
    });
  }

  /** Validates and folds the event, then numbers and serializes it. */
  #emit(event: StreamEvent): NormalizedEvent {
    // Serialized before it is folded: the fold then owns the event's objects and copies nothing.
    event.sequence_number = this.#seq;
    if (this.#withheld.entries.length > 0 && isPlainObject(event.response)) addWithheld(event.response, this.#withheld);
    const json = JSON.stringify(event);
    this.#fold.apply(event);
    const terminal = TERMINAL_EVENTS.has(event.type);
    if (terminal) this.#terminal = true;
    return { seq: this.#seq++, type: event.type, json, terminal };
  }
}

/** The items a failed or incomplete end finishes `incomplete` when it left them open: text, never a call. */
const CUT_ITEMS_FINISHED: ReadonlySet<string> = new Set(["message", "reasoning"]);

/** An item with an id of its own, which its streamed events can name. */
const hasId = (item: OutputItem): boolean => typeof item.id === "string" && item.id !== "";

/**
 * The terminal output's `listed` is the item streamed as `streamed`, with the same parts: its own
 * version can finish it (a part it lists that was never added could not be finished).
 */
function sameItem(listed: OutputItem, streamed: OutputItem): boolean {
  if (listed.type !== streamed.type || listed.call_id !== streamed.call_id) return false;
  if (hasId(streamed) && listed.id !== streamed.id) return false;
  const count = (parts: unknown) => (Array.isArray(parts) ? parts.length : 0);
  return count(listed.content) === count(streamed.content) && count(listed.summary) === count(streamed.summary);
}

/** An output item at least as far as its type: a plain object naming one. */
const isOutputItem = (value: unknown): boolean =>
  typeof value === "object" &&
  value !== null &&
  !Array.isArray(value) &&
  typeof (value as JsonObject).type === "string";

/**
 * Longest string of an upstream's error quoted to the client (a chat server's `event: error` may be a
 * whole HTML page). Cut after the key is taken out: a key across the cut would leave its first part.
 */
const MAX_ERROR_TEXT = 2000;

/**
 * Every string of an upstream's error (and every name in it) passed through `redact`, then cut to
 * MAX_ERROR_TEXT: a server may quote the key it refused in any field, its `code`, `param` or `type`
 * as well as its `message`.
 */
function quotedError<T>(value: T, redact: ((text: string) => string) | undefined): T {
  const quote = (text: string) => {
    const shown = redact === undefined ? text : redact(text);
    return shown.length > MAX_ERROR_TEXT ? `${shown.slice(0, MAX_ERROR_TEXT)}…` : shown;
  };
  const walk = (part: unknown): unknown => {
    if (typeof part === "string") return quote(part);
    if (Array.isArray(part)) return part.map(walk);
    if (typeof part !== "object" || part === null) return part;
    return Object.fromEntries(Object.entries(part).map(([name, inner]) => [quote(name), walk(inner)]));
  };
  return walk(value) as T;
}

/** OpenAI's real `error` event nests the error; the spec's is flat. Send both shapes. */
function flattenError(event: StreamEvent): StreamEvent {
  const nested = (typeof event.error === "object" && event.error !== null ? event.error : {}) as JsonObject;
  const message = textOf(event.message) || textOf(nested.message) || "Upstream error";
  const rawCode = event.code ?? nested.code ?? null;
  // Some servers send numeric codes (OpenRouter: 400); the event's `code` is a string.
  const code = typeof rawCode === "string" ? rawCode : typeof rawCode === "number" ? String(rawCode) : null;
  const param = (event.param ?? nested.param ?? null) as string | null;
  // Typed as the failed Response's error will be, should the stream end on it.
  const { type } = responseError(code ?? "server_error", message, nested);
  return {
    type: "error",
    sequence_number: 0,
    code,
    message,
    param,
    error: { type, code, message, param },
  };
}
