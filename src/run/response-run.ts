// The ResponseRun Durable Object: one per stored response, named by its id. It is the only writer
// of its response: it calls the upstream, numbers and records every event in its own SQLite log,
// fans events out to live readers, flushes to D1 in batches, and owns status and cancellation.
// An alarm watches every run, so none stays in progress after an eviction or a hung upstream.

import { DurableObject } from "cloudflare:workers";
import { readConfig } from "../config";
import { openDb } from "../db/client";
import { insertResponseStatements, type NewResponseRow, type StoredItem } from "../db/responses";
import type { DeliveryRow } from "../db/webhooks";
import { ApiError, internalError } from "../errors";
import { newId } from "../responses/ids";
import { identifyItems } from "../responses/items";
import { StreamNormalizer, type NormalizedEvent } from "../responses/normalizer";
import { echoOf, newResponseObject } from "../responses/response-object";
import type { JsonObject, ResponseError, ResponseObject, StreamEvent } from "../responses/types";
import { TERMINAL_STATUSES } from "../responses/types";
import { encodeFrame, SSE_HEADERS } from "../sse";
import { callOptions, callUpstream } from "../upstream/client";
import type { TranslationContext, UpstreamProtocol } from "../upstream/protocol";
import { targetOf } from "../upstream/registry";
import { deliveryRow, WebhookDispatcher } from "../webhooks/dispatcher";
import { WebhookOutbox } from "../webhooks/outbox";
import { compactionDeps, prepareUpstreamInput } from "../compaction/compact";
import { expandContext } from "./context";
import { ConversationTurn } from "./conversation-turn";
import { EventLog } from "./event-log";
import { LiveLog } from "./live-log";
import { pump, pumpOptions } from "./pump";
import { D1Recorder } from "./recorder";
import type { RunMode, RunSpec, RunState, StartResult } from "./spec";
import { pendingRecord, type PendingRow, type RecordLookup } from "./pending-record";

/** Retry pace for D1 writes refused during the run; the DO keeps its log until they land. */
const D1_RETRY_MS = 30_000;

/** Keys of the DO's state record. */
const STATE = "run";
const SNAPSHOT = "snapshot";
const PENDING_ROW = "pending_row";

/** A run held in memory by the instance executing it. */
interface ActiveRun {
  state: RunState;
  normalizer: StreamNormalizer;
  recorder: D1Recorder;
  abort: AbortController;
  /** Settles once the response row write settled (written, or handed to the alarm); the terminal write waits for it. */
  gate: Promise<void>;
  openGate: () => void;
  /** Highest recorded sequence number readers may see (a terminal event waits for the D1 write). */
  publishable: number;
  finishing: Promise<ResponseObject> | undefined;
  /** The terminal snapshot once the run is finishing (a cancel's is not in the fold). */
  final: ResponseObject | undefined;
  done: Promise<ResponseObject>;
  resolveDone: (response: ResponseObject) => void;
}

const errorResult = (error: ApiError): StartResult => ({
  ok: false,
  status: error.status,
  error: error.body().error,
  headers: error.headers,
});

const eventOfFrame = (frame: string): StreamEvent =>
  JSON.parse(frame.slice(frame.indexOf("\ndata: ") + 7)) as StreamEvent;

export class ResponseRun extends DurableObject<Env> {
  readonly #log: EventLog;
  readonly #outbox: WebhookOutbox;
  readonly #webhooks: WebhookDispatcher;
  #active: ActiveRun | undefined;
  #live: LiveLog | undefined;
  /**
   * No tables: `deleteAll()` dropped them, or this object never ran a response (a lookup of an
   * unknown id must not create storage). Reads find nothing; writes first create the schema.
   */
  #wiped = false;
  /** A start in progress: an idempotent retry of the same create joins it instead of starting again. */
  #starting: Promise<{ result: StartResult; active?: ActiveRun }> | undefined;
  /**
   * The tail of the jobs that write this response to D1 or delete it (the terminal write, the
   * alarm's D1 retries, `discard`): each waits for the one before, so a delete never runs while
   * the terminal write is in flight, and nothing is written after a delete.
   */
  #storageJobs: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#log = new EventLog(ctx.storage.sql);
    this.#outbox = new WebhookOutbox(ctx.storage.sql);
    this.#webhooks = new WebhookDispatcher(this.#outbox, env);
    void ctx.blockConcurrencyWhile(() => {
      if (this.#log.exists()) this.#log.migrate();
      else this.#wiped = true;
      return Promise.resolve();
    });
  }

  // ---- public surface (RPC, and fetch where a stream is returned) ----

  /** `POST /start?mode=stream|background` starts a run answered by its SSE stream; `GET /events?after=N` tails one. */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/start") {
      this.#unwipe();
      const mode = url.searchParams.get("mode") === "background" ? "background" : "stream";
      const started = await this.#start(await request.json<RunSpec>(), mode);
      if (!started.result.ok)
        return Response.json(
          { error: started.result.error },
          { status: started.result.status, headers: started.result.headers },
        );
      return new Response(this.#liveLog().tail(-1), { headers: SSE_HEADERS });
    }
    if (url.pathname === "/events") {
      if (this.#wiped || this.#log.getState<RunState>(STATE) === undefined) return new Response(null, { status: 404 });
      await this.#recoverIfOrphaned();
      return new Response(this.#liveLog().tail(Number(url.searchParams.get("after") ?? "-1")), {
        headers: SSE_HEADERS,
      });
    }
    return new Response(null, { status: 404 });
  }

  /** Starts a run answered when it ends (`wait`) or at once with its queued snapshot (`background`). */
  async start(spec: RunSpec, mode: "wait" | "background"): Promise<StartResult> {
    this.#unwipe();
    const { result, active } = await this.#start(spec, mode);
    if (!result.ok || mode === "background" || active === undefined) return result;
    return { ok: true, response: await active.done };
  }

  /**
   * Whether this object holds a response of `tenantId`, once its D1 row write settled: a lookup
   * that missed the row in D1 asks here, since a stream shows its id before that write lands.
   * `stored`: D1 has the row; a pending record: D1 refused it so far (the alarm retries), and
   * this object answers for the response meanwhile; `unknown`: no such response here.
   */
  async awaitRecord(tenantId: string): Promise<RecordLookup> {
    if (this.#wiped) return "unknown";
    const active = this.#active;
    if (active !== undefined) {
      if (active.state.tenantId !== tenantId) return "unknown";
      await active.gate;
    }
    if (this.#wiped) return "unknown";
    const state = this.#log.getState<RunState>(STATE);
    if (state === undefined || state.tenantId !== tenantId) return "unknown";
    if (state.rowWritten) return "stored";
    const pending = this.#log.getState<PendingRow>(PENDING_ROW);
    return pending === undefined ? "unknown" : pendingRecord(pending);
  }

  /** The live snapshot, the final one once terminal, or null when this object holds no run. */
  async snapshot(): Promise<ResponseObject | null> {
    if (this.#active !== undefined) return this.#active.final ?? this.#active.normalizer.snapshot;
    if (this.#wiped || this.#log.getState<RunState>(STATE) === undefined) return null;
    await this.#recoverIfOrphaned();
    return this.#log.getState<ResponseObject>(SNAPSHOT) ?? null;
  }

  /** Cancels a running response; returns its final snapshot (unchanged if it had already ended). */
  async cancel(): Promise<ResponseObject | null> {
    const active = this.#active;
    if (active === undefined) {
      if (this.#wiped) return null;
      const state = this.#log.getState<RunState>(STATE);
      if (state === undefined) return null;
      if (!TERMINAL_STATUSES.has(state.status)) await this.#recover(state, "cancelled");
      return this.#log.getState<ResponseObject>(SNAPSHOT) ?? null;
    }
    if (active.normalizer.terminal || active.finishing !== undefined) return active.done;
    active.abort.abort(new Error("cancelled"));
    return this.#finish(active, active.normalizer.cancel());
  }

  /**
   * The response was deleted: stop the run and forget everything. A terminal write (or D1 retry)
   * in flight lands first, so the caller's delete of the D1 rows that follows removes it too.
   */
  async discard(): Promise<void> {
    const active = this.#active;
    if (active !== undefined) {
      active.abort.abort(new Error("deleted"));
      await active.gate;
      await active.recorder.stop();
      if (!active.normalizer.terminal) active.resolveDone(active.normalizer.cancel());
      if (this.#active === active) this.#active = undefined;
    }
    await this.#storageJob(async () => {
      if (this.#wiped || this.#webhooks.idle()) return this.#wipe();
      this.#live?.close();
      this.#live = undefined;
      // Deliveries already made for its end keep going: the event happened.
      this.#log.clearRun();
      await this.#schedule();
    });
  }

  /** Re-sends a webhook delivery by hand (same webhook-id and body); returns its record as it is now. */
  async resendWebhook(record: DeliveryRow): Promise<DeliveryRow> {
    this.#unwipe();
    const delivery = this.#webhooks.resend(record);
    await this.#schedule();
    return deliveryRow(delivery);
  }

  /**
   * The object's one alarm, with every job that outlives a request: the watchdog of a live run,
   * the recovery of an orphaned one, D1 retries, and the cleanup once D1 has everything. Each job
   * is short and idempotent; whatever happens, the alarm is set again for the next one due.
   */
  override async alarm(): Promise<void> {
    if (this.#wiped) return;
    try {
      // A dead man's switch: if this instance dies mid-job, this alarm brings a fresh one back.
      await this.ctx.storage.setAlarm(Date.now() + D1_RETRY_MS);
      const state = this.#log.getState<RunState>(STATE);
      if (state !== undefined && !TERMINAL_STATUSES.has(state.status)) await this.#watch(state);
      else if (state !== undefined && (!state.rowWritten || !state.finalWritten))
        await this.#storageJob(() => this.#retryD1());
      await this.#planWebhooks();
      await this.#webhooks.deliverDue();
      await this.#webhooks.sync();
      await this.#cleanUpIfDone();
    } catch (error) {
      this.#logError("alarm job failed", error);
    } finally {
      await this.#schedule();
    }
  }

  // ---- starting a run ----

  async #start(spec: RunSpec, mode: RunMode): Promise<{ result: StartResult; active?: ActiveRun }> {
    // Only a retried create (same Idempotency-Key) reaches an object that already has a run.
    if (this.#starting !== undefined || this.#log.getState<RunState>(STATE) !== undefined) return this.#join();
    const starting = this.#startFresh(spec, mode);
    this.#starting = starting;
    try {
      return await starting;
    } finally {
      this.#starting = undefined;
    }
  }

  /** The run this object already has (or is starting): the same answer a new start would give. */
  async #join(): Promise<{ result: StartResult; active?: ActiveRun }> {
    const first = await this.#starting;
    if (first !== undefined && !first.result.ok) return first;
    await this.#recoverIfOrphaned();
    const snapshot =
      this.#active?.normalizer.snapshot ??
      this.#log.getState<ResponseObject>(SNAPSHOT) ??
      this.#log.getState<RunState>(STATE)?.initial;
    if (snapshot === undefined) return { result: errorResult(internalError()) };
    return { result: { ok: true, response: snapshot }, active: this.#active };
  }

  async #startFresh(spec: RunSpec, mode: RunMode): Promise<{ result: StartResult; active?: ActiveRun }> {
    const config = readConfig(this.env);
    const db = openDb(this.env.DB);
    const { request } = spec;
    const target = targetOf(spec.upstream);
    const background = mode === "background";
    let turn: ConversationTurn | undefined;
    try {
      target.protocol.validate(request);
      // Claimed before its items are read: the context includes every turn that ended before.
      if (request.conversationId !== null)
        turn = await ConversationTurn.begin(
          db,
          spec.tenantId,
          request.conversationId,
          spec.responseId,
          config.maxRunMs,
        );
      const abort = new AbortController();
      const context = await expandContext(db, spec.tenantId, request);
      const deps = compactionDeps(config, {
        tenantId: spec.tenantId,
        target,
        requestId: spec.requestId,
        signal: abort.signal,
      });
      const prepared = await prepareUpstreamInput({ request, input: context, deps });
      const identity = { id: spec.responseId, createdAt: spec.createdAt };
      const base = newResponseObject(request, identity, background ? "queued" : "in_progress");
      const body = target.protocol.buildBody(request, prepared.input);
      // A synchronous request waits for the upstream's answer, so its errors reach the client as
      // plain JSON before anything is written.
      const upstream = background ? undefined : await this.#callUpstream(spec, body, abort.signal);
      const inputItems: StoredItem[] = identifyItems(request.input).map(({ id, item }) => ({
        itemId: id,
        data: JSON.stringify(item),
      }));
      const state: RunState = {
        responseId: spec.responseId,
        tenantId: spec.tenantId,
        background,
        status: base.status,
        startedAt: Date.now(),
        deadlineAt: Date.now() + config.maxRunMs,
        echo: echoOf(request, identity),
        initial: base,
        inputCount: inputItems.length,
        flushedUpTo: -1,
        rowWritten: false,
        finalWritten: false,
        terminalAt: null,
        ...(background ? { webhooks: "pending" as const } : {}),
      };
      this.#log.setState(STATE, state);
      const active = this.#activate(state, this.#newNormalizer(state), abort);
      const row: NewResponseRow = {
        id: spec.responseId,
        tenantId: spec.tenantId,
        apiKeyId: spec.apiKeyId,
        status: base.status,
        model: request.model,
        background,
        store: request.store,
        createdAt: spec.createdAt,
        previousResponseId: request.previousResponseId,
        conversationId: request.conversationId,
        metadata: request.metadata,
        request: { ...request.body, input: undefined },
        snapshot: base,
      };
      const rowWrite = this.#writeRow(active, { row, inputItems });
      if (background) {
        // The queued response must be readable the moment its id is returned.
        await rowWrite;
        if (!state.rowWritten) {
          await turn?.abandon();
          await this.discard();
          return {
            result: errorResult(
              new ApiError(503, "The gateway could not record the response; try again.", { type: "server_error" }),
            ),
          };
        }
        this.#record(active, active.normalizer.begin());
      }
      // The watchdog's alarm is written with the run's state (one commit) while the run starts.
      this.#background(this.#schedule(), "the watchdog alarm could not be set");
      this.#background(
        this.#drive(active, upstream, { request, base, ...prepared }, target.protocol, body, spec),
        "run failed",
      );
      return { result: { ok: true, response: active.normalizer.snapshot }, active };
    } catch (error) {
      // Nothing started: the conversation is free again. (A started run releases it when it ends.)
      if (this.#log.getState<RunState>(STATE) === undefined) await turn?.abandon();
      if (error instanceof ApiError) return { result: errorResult(error) };
      this.#logError("run failed to start", error);
      return { result: errorResult(internalError()) };
    }
  }

  #callUpstream(spec: RunSpec, body: JsonObject, signal: AbortSignal): Promise<Response> {
    const config = readConfig(this.env);
    return callUpstream(targetOf(spec.upstream), body, callOptions(config, signal, spec.requestId));
  }

  /**
   * Writes the response row; if D1 refuses, the row waits in the DO for the alarm and readers go
   * on. It is kept in the DO before the write, so an instance lost mid-write loses no row either.
   */
  async #writeRow(active: ActiveRun, pending: PendingRow): Promise<void> {
    const db = openDb(this.env.DB);
    this.#log.setState(PENDING_ROW, pending);
    try {
      await active.recorder.write(insertResponseStatements(db, pending.row, pending.inputItems));
      active.state.rowWritten = true;
      this.#log.setState(PENDING_ROW, undefined);
    } catch (error) {
      this.#logError("response row write failed; the alarm will retry it", error);
    }
    this.#log.setState(STATE, active.state);
    active.openGate();
  }

  #newNormalizer(state: RunState): StreamNormalizer {
    return new StreamNormalizer({
      echo: state.echo,
      initial: state.initial,
      background: state.background,
      onAnomaly: (message) => console.warn(`response ${state.responseId}: ${message}`),
    });
  }

  #activate(state: RunState, normalizer: StreamNormalizer, abort: AbortController): ActiveRun {
    let resolveDone: (response: ResponseObject) => void = () => undefined;
    const done = new Promise<ResponseObject>((resolve) => (resolveDone = resolve));
    let resolveGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (resolveGate = resolve));
    const active: ActiveRun = {
      state,
      normalizer,
      recorder: this.#recorder(state),
      abort,
      gate,
      openGate: () => {
        resolveGate();
        this.#publish(active);
      },
      publishable: -1,
      finishing: undefined,
      final: undefined,
      done,
      resolveDone,
    };
    this.#active = active;
    const recorded = this.#log.lastSeq();
    this.#live = new LiveLog((from, to) => this.#log.read(from, to), recorded, -1);
    return active;
  }

  #recorder(state: RunState): D1Recorder {
    return new D1Recorder({
      db: openDb(this.env.DB),
      responseId: state.responseId,
      log: this.#log,
      flushedUpTo: state.flushedUpTo,
      canFlush: () => state.rowWritten,
      onFlushed: (upTo) => {
        state.flushedUpTo = upTo;
        this.#log.setState(STATE, state);
      },
      onError: (error) => this.#logError("D1 write failed", error),
    });
  }

  // ---- running ----

  async #drive(
    active: ActiveRun,
    upstream: Response | undefined,
    context: TranslationContext,
    protocol: UpstreamProtocol,
    body: JsonObject,
    spec: RunSpec,
  ): Promise<void> {
    const config = readConfig(this.env);
    try {
      let response = upstream;
      if (response === undefined) {
        try {
          response = await this.#callUpstream(spec, body, active.abort.signal);
        } catch (error) {
          if (active.abort.signal.aborted) return;
          const failure: ResponseError =
            error instanceof ApiError
              ? { code: error.code ?? "server_error", message: error.message }
              : { code: "server_error", message: "The upstream model server could not be reached." };
          this.#record(active, active.normalizer.fail(failure));
          await this.#finish(active);
          return;
        }
      }
      const end = await pump(response, protocol, context, active.normalizer, (events) => this.#record(active, events), {
        ...pumpOptions(config, active.abort),
        onAnomaly: (message) => console.warn(`response ${active.state.responseId}: ${message}`),
      });
      if (end === "aborted") return;
    } catch (error) {
      this.#logError("run failed", error);
      if (!active.normalizer.terminal && active.finishing === undefined)
        this.#record(
          active,
          active.normalizer.fail({ code: "server_error", message: "The gateway failed while running the response." }),
        );
    }
    if (active.finishing === undefined && this.#active === active) await this.#finish(active);
  }

  /** Appends events to the log (synchronously; durable before any output leaves) and tells readers. */
  #record(active: ActiveRun, events: NormalizedEvent[]): void {
    if (this.#active !== active) return;
    const live = this.#liveLog();
    const entries = events.map((event) => ({
      seq: event.seq,
      frame: encodeFrame(event.type, event.json),
      terminal: event.terminal,
    }));
    this.#log.appendMany(entries);
    // D1 learns a terminal status only with the terminal write, never from a progress flush.
    const status = active.normalizer.terminal ? active.state.status : active.normalizer.snapshot.status;
    for (const { seq, frame, terminal } of entries) {
      live.remember(seq, frame);
      if (!terminal) active.publishable = seq;
      active.recorder.recorded(seq, frame.length, status);
    }
    this.#publish(active);
  }

  /**
   * Readers see events as soon as they are in the log; they do not wait for the D1 row (a lookup
   * that misses the row asks the object, see `awaitRecord`), so the first event costs no D1 write.
   */
  #publish(active: ActiveRun): void {
    if (this.#active === active) this.#liveLog().publish(active.publishable);
  }

  /**
   * Ends a run: the terminal D1 write (retried by the alarm if D1 refuses), then readers see the
   * end. Never rejects: whatever happens, whoever waits for the run gets its final snapshot.
   */
  #finish(active: ActiveRun, cancelled?: ResponseObject): Promise<ResponseObject> {
    active.finishing ??= (async () => {
      const { state } = active;
      const snapshot = cancelled ?? active.normalizer.snapshot;
      active.final = snapshot;
      const lastSeq = active.normalizer.nextSeq - 1;
      try {
        state.status = snapshot.status;
        state.terminalAt = Date.now();
        this.#log.setState(SNAPSHOT, snapshot);
        this.#log.setState(STATE, state);
        await active.gate;
        await this.#storageJob(async () => {
          // Deleted meanwhile (`discard`): nothing more is written, anywhere.
          if (this.#wiped || this.#active !== active) return;
          if (state.rowWritten)
            state.finalWritten = await active.recorder.finalize(this.#finalState(state, snapshot), lastSeq);
          this.#log.setState(STATE, state);
        });
        if (!this.#wiped && this.#active === active) {
          const live = this.#liveLog();
          live.publish(lastSeq);
          live.close();
          this.#active = undefined;
          await this.#schedule();
        }
      } catch (error) {
        // The alarm (set when the run started) finds the state as it is and carries on from there.
        this.#logError("the end of the run could not be recorded", error);
        if (this.#active === active) this.#active = undefined;
        this.#live?.close();
      }
      active.resolveDone(snapshot);
      return snapshot;
    })();
    return active.finishing;
  }

  #finalState(state: RunState, snapshot: ResponseObject) {
    return {
      responseId: state.responseId,
      tenantId: state.tenantId,
      snapshot,
      eventCount: this.#log.lastSeq() + 1,
      inputCount: state.inputCount,
      conversationId: state.echo.conversation?.id ?? null,
      outputItems: snapshot.output.map((item) => ({
        itemId: typeof item.id === "string" ? item.id : newId("item"),
        data: JSON.stringify(item),
      })),
    };
  }

  // ---- the alarm's jobs ----

  /**
   * The watchdog: a run with no executing instance (evicted, restarted) is ended `failed`; a live
   * one past its deadline is stopped. Runs every `watchdogMs` while a run is live, so the object
   * also receives an event at least that often and is not evicted as idle.
   */
  async #watch(state: RunState): Promise<void> {
    const active = this.#active;
    if (active === undefined) return this.#recover(state, "failed");
    // D1 refused the row when the run started: try again now, so a long run's record does not wait for its end.
    if (!active.state.rowWritten) await this.#storageJob(() => this.#retryRow(active.state, active.recorder));
    if (Date.now() < state.deadlineAt || active.normalizer.terminal || active.finishing !== undefined) return;
    active.abort.abort(new Error("deadline"));
    const seconds = Math.round((state.deadlineAt - state.startedAt) / 1000);
    this.#record(
      active,
      active.normalizer.fail({
        code: "server_error",
        message: `The response exceeded the maximum run time of ${seconds} seconds.`,
      }),
    );
    await this.#finish(active);
  }

  /** A finished background response's deliveries, planned once D1 has its terminal state. */
  async #planWebhooks(): Promise<void> {
    const state = this.#log.getState<RunState>(STATE);
    if (state?.webhooks !== "pending" || !TERMINAL_STATUSES.has(state.status)) return;
    if (!state.rowWritten || !state.finalWritten || this.#active !== undefined) return;
    if ((state.webhooksPlanAt ?? 0) > Date.now()) return;
    try {
      const deliveries = await this.#webhooks.plan({
        tenantId: state.tenantId,
        responseId: state.responseId,
        status: state.status,
        endedAt: state.terminalAt ?? Date.now(),
      });
      // One synchronous step: the deliveries and the fact they were planned are stored together.
      for (const delivery of deliveries) this.#outbox.put(delivery);
      this.#log.setState(STATE, { ...state, webhooks: "planned", webhooksPlanAt: undefined });
    } catch (error) {
      this.#logError("webhook deliveries could not be planned; retrying", error);
      this.#log.setState(STATE, { ...state, webhooksPlanAt: Date.now() + D1_RETRY_MS });
    }
  }

  /** Deletes the object's storage once D1 has everything, the retention passed and no delivery is left. */
  async #cleanUpIfDone(): Promise<void> {
    if (!this.#webhooks.idle()) return;
    const state = this.#log.getState<RunState>(STATE);
    if (state !== undefined) {
      if (!TERMINAL_STATUSES.has(state.status) || !state.rowWritten || !state.finalWritten) return;
      if (state.webhooks === "pending") return;
      if (Date.now() < (state.terminalAt ?? 0) + readConfig(this.env).retainRunLogMs) return;
    }
    await this.#wipe();
  }

  /** Deletes all of the object's storage (tables included) and its alarm. */
  async #wipe(): Promise<void> {
    this.#live?.close();
    this.#live = undefined;
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.#wiped = true;
  }

  /** Recreates the schema before this instance writes again after a wipe. */
  #unwipe(): void {
    if (!this.#wiped) return;
    this.#log.migrate();
    this.#wiped = false;
  }

  /** When the next alarm job is due: watchdog, D1 retry, webhooks, cleanup; null once storage is empty. */
  #nextAlarmAt(): number | null {
    const now = Date.now();
    const config = readConfig(this.env);
    const hooks = this.#webhooks.nextWakeAt(now);
    const times = hooks === null ? [] : [hooks];
    const state = this.#log.getState<RunState>(STATE);
    if (state === undefined) return hooks;
    if (!TERMINAL_STATUSES.has(state.status)) times.push(Math.min(now + config.watchdogMs, state.deadlineAt));
    else if (!state.rowWritten || !state.finalWritten) times.push(now + D1_RETRY_MS);
    else if (state.webhooks === "pending") times.push(state.webhooksPlanAt ?? now);
    else if (hooks === null) times.push((state.terminalAt ?? now) + config.retainRunLogMs);
    return Math.min(...times);
  }

  async #schedule(): Promise<void> {
    if (this.#wiped) return;
    const at = this.#nextAlarmAt();
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(at);
  }

  /** D1 refused the row or the terminal write during the run: try again from the DO's own record. */
  async #retryD1(): Promise<void> {
    // Read afresh inside the storage job: a delete may have run before it.
    const state = this.#wiped ? undefined : this.#log.getState<RunState>(STATE);
    if (state === undefined || this.#active !== undefined) return;
    const snapshot = this.#log.getState<ResponseObject>(SNAPSHOT);
    const recorder = this.#recorder(state);
    if (!(await this.#retryRow(state, recorder))) return;
    if (snapshot !== undefined && TERMINAL_STATUSES.has(state.status) && !state.finalWritten)
      state.finalWritten = await recorder.finalize(this.#finalState(state, snapshot), this.#log.lastSeq());
    this.#log.setState(STATE, state);
  }

  /** Writes the response row D1 refused so far (idempotent); true once D1 has it. */
  async #retryRow(state: RunState, recorder: D1Recorder): Promise<boolean> {
    if (state.rowWritten) return true;
    if (this.#wiped) return false;
    const pending = this.#log.getState<PendingRow>(PENDING_ROW);
    if (pending === undefined) return false;
    try {
      await recorder.write(insertResponseStatements(openDb(this.env.DB), pending.row, pending.inputItems));
    } catch (error) {
      this.#logError("response row write failed again", error);
      return false;
    }
    state.rowWritten = true;
    this.#log.setState(PENDING_ROW, undefined);
    this.#log.setState(STATE, state);
    return true;
  }

  /** Runs `job` after every storage job before it (see `#storageJobs`). */
  #storageJob<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#storageJobs.then(job);
    this.#storageJobs = run.catch(() => undefined);
    return run;
  }

  /** Hands work to the runtime to finish after the request; a failure is logged, never left unhandled. */
  #background(task: Promise<unknown>, what: string): void {
    this.ctx.waitUntil(task.then(undefined, (error: unknown) => this.#logError(what, error)));
  }

  async #recoverIfOrphaned(): Promise<void> {
    const state = this.#log.getState<RunState>(STATE);
    if (state !== undefined && this.#active === undefined && !TERMINAL_STATUSES.has(state.status))
      await this.#recover(state, "failed");
  }

  /** Ends a run whose executing instance is gone: `failed` (or `cancelled`), partial output kept. */
  async #recover(state: RunState, status: "failed" | "cancelled"): Promise<void> {
    const lastSeq = this.#log.lastSeq();
    const events = this.#log.read(0, lastSeq).map(eventOfFrame);
    const normalizer = StreamNormalizer.resume(
      { echo: state.echo, initial: state.initial, background: state.background },
      events,
    );
    const active = this.#activate(state, normalizer, new AbortController());
    active.publishable = lastSeq;
    active.openGate();
    if (status === "cancelled") {
      await this.#finish(active, normalizer.cancel());
      return;
    }
    this.#record(
      active,
      normalizer.fail({
        code: "server_error",
        message: "The response was interrupted before it finished; its partial output is kept.",
      }),
    );
    await this.#finish(active);
  }

  #liveLog(): LiveLog {
    if (this.#live === undefined) {
      const state = this.#log.getState<RunState>(STATE);
      const ended = state !== undefined && TERMINAL_STATUSES.has(state.status) && this.#active === undefined;
      const recorded = this.#log.lastSeq();
      this.#live = new LiveLog((from, to) => this.#log.read(from, to), recorded, recorded, ended);
    }
    return this.#live;
  }

  #logError(message: string, error: unknown): void {
    console.error(`${message}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
