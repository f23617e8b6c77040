// A background response as its Durable Object runs it: the queued row is written before its id is
// returned; then the upstream's events go through the normalizer to the D1 recorder and to live
// readers, which see the terminal event only once D1 has the end. Cancel and the deadline stop it
// with its partial output kept. Used by the ResponseRun DO (src/run/response-run.ts).

import type { GatewayConfig } from "../config";
import type { Db } from "../db/client";
import { readEvents } from "../db/event-batches";
import {
  deleteResponse,
  encodeRow,
  findResponse,
  outputItems,
  type FinalState,
  type NewResponseRow,
} from "../db/responses";
import { logAnomaly, logD1Problem } from "../observe/problems";
import { failedByOf } from "../observe/failed-by";
import { recordedOf, RunTrace, runIds } from "../observe/response-end";
import { newId } from "../responses/ids";
import { identifyItems, type IdentifiedItem } from "../responses/items";
import { StreamNormalizer, type NormalizedEvent } from "../responses/normalizer";
import { echoOf, newResponseObject } from "../responses/response-object";
import type { InputItem, ResponseObject } from "../responses/types";
import { responseError } from "../responses/types";
import { endLeftRun } from "../stream/dead-run";
import { notRecorded, refusalOf, unrecordedEnd } from "../stream/outcomes";
import { framesOf, ResponseRecorder, type FinishOutcome } from "../stream/recorder";
import { callOptions, callUpstream, redact } from "../upstream/client";
import { targetOf } from "../upstream/registry";
import { withheldReasoning } from "../upstream/withheld-reasoning";
import { compactForUpstream, compactionDeps, expandForUpstream, type Compacted } from "../compaction/compact";
import { backgroundCapReached, overBackgroundCap } from "./background-cap";
import { expandContext, type BackgroundSnapshot } from "./context";
import { ConversationTurn } from "./conversation-turn";
import { LiveLog } from "./live-log";
import { pump, pumpOptions } from "./pump";
import type { RunSpec } from "./spec";

/** Why a run was stopped from outside its stream. */
class Stop extends Error {
  constructor(readonly reason: "cancelled" | "deadline" | "discarded") {
    super(reason);
  }
}

/**
 * How often a run's events reach D1 while readers are attached (besides the heartbeat, every flush
 * interval): a crash loses at most this much of what they saw, for a D1 row write every 2 s of a
 * watched stream (bench/RESULTS.md prices it). A run nobody streams flushes only with its heartbeat.
 */
const WATCHED_FLUSH_MS = 2_000;

export interface BackgroundHooks {
  /** Just before the end is written to D1 (the object notes that webhooks are due). */
  beforeEnd(run: BackgroundRun, snapshot: ResponseObject): Promise<void>;
  /** The end was written (or D1 refused it: `failed`); the terminal event is not yet published. */
  afterEnd(run: BackgroundRun, snapshot: ResponseObject, outcome: FinishOutcome): Promise<void>;
  /** Work that outlives the call that started it (the object's `waitUntil`). */
  background(task: Promise<unknown>, what: string): void;
  /** A reader is about to be sent events up to `seq` (see LiveLogSource.sending). */
  sending?(seq: number): void;
}

export class BackgroundRun {
  readonly spec: RunSpec;
  readonly normalizer: StreamNormalizer;
  readonly recorder: ResponseRecorder;
  readonly live: LiveLog;
  readonly #abort = new AbortController();
  readonly #inputItems: IdentifiedItem[];
  readonly #hooks: BackgroundHooks;
  readonly #trace: RunTrace;
  #ending: Promise<ResponseObject> | undefined;
  /** The end D1 has (or that the run settled on): readers and pollers see it only then. */
  #final: ResponseObject | undefined;
  #deadline: ReturnType<typeof setTimeout> | undefined;
  /** How soon after it starts a run's row is told it runs (`GatewayConfig.recordStartMs`). */
  #startHeartbeatMs = 1_000;
  /** How often its events are flushed while readers are attached (at most the flush interval). */
  #watchedFlushMs = WATCHED_FLUSH_MS;

  private constructor(
    spec: RunSpec,
    normalizer: StreamNormalizer,
    recorder: ResponseRecorder,
    inputItems: IdentifiedItem[],
    hooks: BackgroundHooks,
    db: Db,
    trace: RunTrace,
  ) {
    this.spec = spec;
    this.#trace = trace;
    this.normalizer = normalizer;
    this.recorder = recorder;
    this.#inputItems = inputItems;
    this.#hooks = hooks;
    this.live = new LiveLog({
      readStored: (after, upTo) => storedFrames(db, spec, after, upTo),
      recordedUpTo: () => recorder.flushedUpTo,
      sending: (seq) => hooks.sending?.(seq),
      watched: (watched) => recorder.flushWhileWatched(watched ? this.#watchedFlushMs : undefined),
    });
  }

  get responseId(): string {
    return this.spec.responseId;
  }

  get tenantId(): string {
    return this.spec.tenantId;
  }

  /** Settles with the final snapshot once the run ended. */
  get ended(): Promise<ResponseObject> | undefined {
    return this.#ending;
  }

  /**
   * Claims the conversation, expands the context and writes the queued row, then starts the run.
   * Throws an `ApiError` for anything that stops it before it exists (nothing is then kept).
   */
  static async start(
    spec: RunSpec,
    context: { db: Db; config: GatewayConfig; env?: object; background?: BackgroundSnapshot },
    hooks: BackgroundHooks,
  ): Promise<BackgroundRun> {
    const { db, config, background } = context;
    // The bindings give the response's data point (`METRICS`); without them only its line is written.
    const trace = new RunTrace(spec, context.env ?? {});
    const { request } = spec;
    const target = targetOf(spec.upstream);
    target.protocol.validate(request);
    const turn = await ConversationTurn.ofCreate(db, spec, background);
    try {
      const context = await expandContext(db, spec.tenantId, request, background, (row) =>
        endLeftRun(db, row, config.recordFlushMs),
      );
      target.protocol.checkContext?.(context);
      // Expanded now (an item it cannot open is a 400); compacted in the run, after `queued` is answered.
      const signal = new AbortController().signal;
      const deps = compactionDeps(config, { tenantId: spec.tenantId, target, requestId: spec.requestId, signal });
      const expanded = await expandForUpstream({ request, input: context, deps });
      const identity = { id: spec.responseId, createdAt: spec.createdAt };
      const base = newResponseObject(request, identity, "queued");
      const inputItems = identifyItems(request.input);
      const recorder = new ResponseRecorder({
        db,
        responseId: spec.responseId,
        tenantId: spec.tenantId,
        flushIntervalMs: config.recordFlushMs,
        flushChars: config.recordFlushChars,
        conversationId: request.conversationId,
        status: () => (normalizer.snapshot.status === "queued" ? "queued" : "in_progress"),
        onError: (what, error, attempt) => logD1Problem(runIds(spec), what, error, attempt),
      });
      const normalizer = new StreamNormalizer({
        echo: echoOf(request, identity),
        initial: base,
        background: true,
        onAnomaly: (message) => logAnomaly(spec.responseId, message),
        redact: (text) => redact(text, target.apiKey),
      });
      const row: NewResponseRow = {
        id: spec.responseId,
        tenantId: spec.tenantId,
        apiKeyId: spec.apiKeyId,
        status: "queued",
        model: request.model,
        background: true,
        store: request.store || spec.recorded === true,
        createdAt: spec.createdAt,
        previousResponseId: request.previousResponseId,
        conversationId: request.conversationId,
        metadata: request.metadata,
        snapshot: base,
        input: inputItems,
      };
      // The queued response must be readable the moment its id is returned.
      try {
        await recorder.start(encodeRow(row));
      } catch (error) {
        throw notRecorded(error);
      }
      // The create counted the tenant's runs before writing; racing creates all saw room then.
      const cap = spec.backgroundCap ?? 0;
      if (await overBackgroundCap(db, spec.tenantId, config, cap)) {
        await recorder.stop();
        await deleteResponse(db, spec.tenantId, spec.responseId);
        throw backgroundCapReached(cap);
      }
      turn?.settle();
      const run = new BackgroundRun(spec, normalizer, recorder, inputItems, hooks, db, trace);
      run.#startHeartbeatMs = config.recordStartMs;
      run.#watchedFlushMs = Math.min(WATCHED_FLUSH_MS, config.recordFlushMs);
      run.#accept(normalizer.begin());
      run.#deadline = setTimeout(() => run.#abort.abort(new Stop("deadline")), config.maxRunMs);
      hooks.background(run.#drive(config, context, expanded, { request, base }), "run failed");
      return run;
    } catch (error) {
      await turn?.abandon();
      throw error;
    }
  }

  /** The snapshot pollers see: the live one, but not terminal before D1 has the end. */
  snapshot(): ResponseObject {
    if (this.#final !== undefined) return this.#final;
    const live = this.normalizer.snapshot;
    if (!this.normalizer.terminal) return live;
    return { ...live, status: "in_progress", completed_at: null };
  }

  /** Cancels the run; resolves with its final snapshot (unchanged if it had already ended). */
  cancel(): Promise<ResponseObject> {
    if (this.#ending !== undefined) return this.#ending;
    this.#abort.abort(new Stop("cancelled"));
    return this.#end(this.normalizer.cancel());
  }

  /**
   * Stops the run for good (the response is being deleted): nothing more is written. Its readers are
   * told, as a foreground stream's client is, rather than cut off without an end.
   */
  async discard(): Promise<void> {
    this.#abort.abort(new Stop("discarded"));
    await this.recorder.stop();
    this.live.close(unrecordedEnd("ended_elsewhere", this.live.published + 1));
    if (this.#deadline !== undefined) clearTimeout(this.#deadline);
  }

  /**
   * Runs the response: create-time compaction (a chat upstream's summary call, which a cancel stops
   * and whose failure fails the response), then the upstream call, pumped into the record.
   */
  async #drive(
    config: GatewayConfig,
    /** The context as read (chain or conversation and input), for what the call leaves out of it. */
    whole: InputItem[],
    expanded: InputItem[],
    context: { request: RunSpec["request"]; base: ResponseObject },
  ): Promise<void> {
    const target = targetOf(this.spec.upstream);
    const { tenantId, requestId } = this.spec;
    try {
      let upstream: Response;
      let prepared: Compacted;
      try {
        const signal = this.#abort.signal;
        const deps = compactionDeps(config, { tenantId, target, requestId, signal, observer: this.#trace.summary });
        prepared = await compactForUpstream(context.request, expanded, deps);
        this.normalizer.spend(prepared.compaction?.usage);
        if (prepared.answer === undefined)
          this.normalizer.withhold(withheldReasoning(prepared.target, context.request, whole, prepared.input));
        upstream =
          prepared.answer ??
          (await callUpstream(
            prepared.target,
            target.protocol.buildBody(context.request, prepared.input),
            callOptions(config, this.#abort.signal, requestId, this.#trace.upstream),
          ));
      } catch (error) {
        if (this.#abort.signal.aborted) return this.#stopped(config);
        return this.#sink(this.normalizer.fail(refusalOf(error), failedByOf(error)));
      }
      const sink = this.#trace.watch((events: NormalizedEvent[]) => this.#sink(events));
      const end = await pump(upstream, target.protocol, { ...context, ...prepared }, this.normalizer, sink, {
        ...pumpOptions(config, this.#abort),
        onAnomaly: (message) => logAnomaly(this.responseId, message),
      });
      if (end === "aborted") await this.#stopped(config);
    } catch (error) {
      this.#trace.failure("run failed", error);
      if (!this.normalizer.terminal && this.#ending === undefined)
        await this.#sink(
          this.normalizer.fail(
            responseError("server_error", "The gateway failed while running the response."),
            "gateway",
          ),
        );
    } finally {
      if (this.#deadline !== undefined) clearTimeout(this.#deadline);
    }
  }

  /** The stream stopped from outside: past its deadline it fails; a cancel or delete ended it already. */
  async #stopped(config: GatewayConfig): Promise<void> {
    const reason: unknown = this.#abort.signal.reason;
    if (!(reason instanceof Stop) || reason.reason !== "deadline" || this.#ending !== undefined) return;
    const seconds = Math.round(config.maxRunMs / 1000);
    await this.#sink(
      this.normalizer.fail(
        responseError("server_error", `The response exceeded the maximum run time of ${seconds} seconds.`),
        "max_run_time",
      ),
    );
  }

  /** Events are recorded and shown to readers; the terminal one only once D1 has the end. */
  #accept(events: NormalizedEvent[]): { seq: number; frame: string; terminal: boolean } | undefined {
    const frames = framesOf(events);
    this.recorder.record(frames);
    // D1 says queued until a heartbeat: one comes a moment after the run starts, not a flush interval.
    if (this.normalizer.snapshot.status === "in_progress") this.recorder.heartbeatIn(this.#startHeartbeatMs);
    let terminal: (typeof frames)[number] | undefined;
    for (const frame of frames) {
      this.live.remember(frame.seq, frame.frame);
      if (frame.terminal) terminal = frame;
      else this.live.publish(frame.seq);
    }
    return terminal;
  }

  async #sink(events: NormalizedEvent[]): Promise<void> {
    if (this.#ending !== undefined) return;
    const terminal = this.#accept(events);
    if (terminal === undefined) return;
    await this.#end(this.normalizer.snapshot);
  }

  /** The conversation turn this run ends with `snapshot`: its input and output join the conversation. */
  turn(snapshot: ResponseObject): FinalState["turn"] {
    const conversationId = this.spec.request.conversationId;
    if (conversationId === null) return null;
    return {
      conversationId,
      items: [
        ...this.#inputItems.map(({ id, item }) => ({ itemId: id, data: JSON.stringify(item) })),
        ...outputItems(snapshot.output, () => newId("item")),
      ],
    };
  }

  #end(snapshot: ResponseObject): Promise<ResponseObject> {
    this.#ending ??= (async () => {
      if (this.#deadline !== undefined) clearTimeout(this.#deadline);
      await this.#hooks.beforeEnd(this, snapshot);
      const outcome = await this.recorder.finish({
        responseId: this.responseId,
        tenantId: this.tenantId,
        snapshot,
        turn: this.turn(snapshot),
      });
      this.#trace.end(snapshot, this.normalizer, recordedOf(outcome), this.recorder.refusal);
      await this.#hooks.afterEnd(this, snapshot, outcome);
      this.#final = snapshot;
      this.live.publish(this.normalizer.nextSeq - 1);
      this.live.close();
      return snapshot;
    })();
    return this.#ending;
  }
}

/** Recorded frames with `after < seq <= upTo`, a batch at a time (the batch rows, then the row's tail). */
async function* storedFrames(
  db: Db,
  spec: RunSpec,
  after: number,
  upTo: number,
): AsyncGenerator<{ seq: number; frame: string }[]> {
  const row = await findResponse(db, spec.tenantId, spec.responseId);
  const source = row ?? { id: spec.responseId, tenantId: spec.tenantId, legacy: null, eventsTail: null, tailSeq: null };
  for await (const batch of readEvents(db, source, after)) {
    const frames = batch.filter((event) => event.seq <= upTo);
    if (frames.length > 0) yield frames;
    if (frames.length < batch.length) return;
  }
}
