// The ResponseRun Durable Object: one per background response, named by its tenant and id. It runs
// the response (src/run/background-run.ts), serves its live readers, cancels it, and delivers its
// webhooks. D1 is the run's record: the object keeps nothing of its own while a run goes well; it
// writes to its SQLite only when webhooks are due or D1 refuses the end, and empties it afterwards.
// A run whose instance died is ended from D1 by `recover` (the scheduled sweep calls it).

import { DurableObject } from "cloudflare:workers";
import { readConfig } from "../config";
import { tenantDb } from "../db/shards";
import type { RecordedEvent } from "../db/event-batches";
import { findResponse, type FinalState } from "../db/responses";
import type { DeliveryRow } from "../db/webhooks";
import { ApiError, internalError } from "../errors";
import { logD1Problem, logFailure } from "../observe/problems";
import type { ResponseObject } from "../responses/types";
import { TERMINAL_STATUSES } from "../responses/types";
import { SSE_HEADERS } from "../sse";
import { endDeadRun } from "../stream/dead-run";
import type { FinishOutcome } from "../stream/recorder";
import { deliveryRow, WebhookDispatcher } from "../webhooks/dispatcher";
import { eventTypeOf } from "../webhooks/event";
import { WebhookOutbox } from "../webhooks/outbox";
import { BackgroundRun } from "./background-run";
import { backgroundSnapshots } from "./background-snapshot";
import { RunStorage } from "./run-storage";
import type { RunSpec, StartResult } from "./spec";

/** Retry pace of D1 writes and webhook planning that failed. */
const D1_RETRY_MS = 30_000;
/**
 * While a run lives, an alarm this often: an object is evicted after 15 minutes of only outgoing I/O
 * without an incoming event, and should its instance die, this alarm (or the sweep, sooner) ends the
 * run from D1. A run shorter than this never sees it fire.
 */
const KEEPALIVE_MS = 5 * 60_000;

/** The run's end while something about it is still to do (webhooks to plan, or D1 to write). */
interface EndState {
  status: string;
  endedAt: number;
  /** Deliveries are still to be planned. */
  webhooks: "pending" | "planned" | "none";
  /** D1 refused the end: the snapshot and the events it lacks, written again by the alarm. */
  unwritten?: { snapshot: ResponseObject; events: RecordedEvent[]; turn: FinalState["turn"] };
}

const END = "end";

/**
 * The highest sequence number readers may have been sent, noted ahead of them in steps of this many
 * (one storage write per step of events streamed to readers, none for a run nobody streams): the end
 * of a run whose instance died is numbered after it, never under a number a reader saw a lost event as.
 */
const SEEN_STEP = 1000;
const SEEN = "seen";

/** The object's name: the tenant and the response, so another tenant's id reaches an empty object. */
export const runName = (tenantId: string, responseId: string): string => `${tenantId}/${responseId}`;

const errorResult = (error: ApiError): StartResult => ({
  ok: false,
  status: error.status,
  error: error.body().error,
  headers: error.headers,
});

export class ResponseRun extends DurableObject<Env> {
  readonly #storage: RunStorage;
  /** D1 took this instance's run's end: the end noted in storage is D1's (a fresh instance cannot know). */
  #endLanded = false;
  readonly #outbox: WebhookOutbox;
  readonly #webhooks: WebhookDispatcher;
  #run: BackgroundRun | undefined;
  #starting: Promise<StartResult> | undefined;
  /** The number noted under SEEN (-1: none yet). */
  #seenNoted = -1;
  /** The tail of the storage jobs: each waits for the one before, so two never plan or wipe at once. */
  #serial: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#storage = new RunStorage(ctx.storage.sql);
    this.#outbox = new WebhookOutbox(ctx.storage.sql);
    this.#webhooks = new WebhookDispatcher(this.#outbox, env);
  }

  /** The tenant and response this object is named for. */
  get #identity(): { tenantId: string; responseId: string } {
    const name = this.ctx.id.name ?? "";
    const slash = name.lastIndexOf("/");
    return { tenantId: name.slice(0, slash), responseId: name.slice(slash + 1) };
  }

  // ---- public surface (RPC, and fetch where a stream is returned) ----

  /** `POST /start` starts a run answered by its SSE stream; `GET /events?after=N` tails a live one. */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/start") {
      const result = await this.start(await request.json<RunSpec>());
      if (!result.ok) return Response.json({ error: result.error }, { status: result.status, headers: result.headers });
      return this.#tail(-1) ?? new Response(null, { status: 404 });
    }
    if (url.pathname === "/events") {
      await this.#endIfLost();
      const tail = this.#tail(Number(url.searchParams.get("after") ?? "-1"));
      return tail ?? new Response(null, { status: 404 });
    }
    return new Response(null, { status: 404 });
  }

  #tail(after: number): Response | undefined {
    if (this.#run === undefined) return undefined;
    return new Response(this.#run.live.tail(after), { headers: SSE_HEADERS });
  }

  /** Starts the background run (an idempotent retry of the same create joins it); answers its queued snapshot. */
  async start(spec: RunSpec): Promise<StartResult> {
    if (this.#run !== undefined) return { ok: true, response: this.#run.snapshot() };
    this.#starting ??= this.#start(spec).finally(() => (this.#starting = undefined));
    return this.#starting;
  }

  async #start(spec: RunSpec): Promise<StartResult> {
    const config = readConfig(this.env);
    try {
      this.#run = await BackgroundRun.start(
        spec,
        {
          db: await tenantDb(this.env, spec.tenantId),
          config,
          env: this.env,
          background: backgroundSnapshots(this.env, spec.tenantId),
        },
        {
          beforeEnd: (run, snapshot) => this.#beforeEnd(run, snapshot),
          afterEnd: (run, snapshot, outcome) => this.#afterEnd(run, snapshot, outcome),
          background: (task, what) => this.#background(task, what),
          sending: (seq) => this.#sending(seq),
        },
      );
      await this.ctx.storage.setAlarm(Date.now() + KEEPALIVE_MS);
      return { ok: true, response: this.#run.snapshot() };
    } catch (error) {
      if (error instanceof ApiError) return errorResult(error);
      this.#logError("run failed to start", error);
      return errorResult(internalError());
    }
  }

  /**
   * The live snapshot of a running response, or null when this object runs nothing (D1 answers). A
   * run this object has lost (its instance was reset) is ended first, so a read never shows it running.
   */
  async snapshot(): Promise<ResponseObject | null> {
    const ended = await this.#endIfLost();
    return this.#run?.snapshot() ?? this.#storage.get<EndState>(END)?.unwritten?.snapshot ?? ended;
  }

  /**
   * D1 shows a run that this object, its only executor, does not have: its instance was reset (a
   * deploy, a crash). It is ended `failed` now; null when there was nothing to end or D1 refused it
   * (then the read answers what D1 has, and the sweep ends it once D1 takes writes again).
   */
  async #endIfLost(): Promise<ResponseObject | null> {
    await this.#starting;
    if (this.#run !== undefined) return null;
    try {
      return await this.#recover("failed");
    } catch (error) {
      this.#logError("a lost run could not be ended yet", error);
      return null;
    }
  }

  /** Cancels the run; answers its final snapshot, or null when D1 already has the end. */
  async cancel(): Promise<ResponseObject | null> {
    await this.#starting;
    if (this.#run !== undefined) return this.#run.cancel();
    return this.#recover("cancelled");
  }

  /** Ends a run whose instance died (the sweep found its heartbeat silent); answers the final snapshot. */
  async recover(): Promise<ResponseObject | null> {
    if (this.#run !== undefined) return null;
    return this.#recover("failed");
  }

  /**
   * The response was deleted: stop the run and forget it. Deliveries already planned for its end keep
   * going (the event happened); deliveries not yet planned are not.
   */
  async discard(): Promise<void> {
    const run = this.#run;
    this.#run = undefined;
    await run?.discard();
    await this.#inTurn(async () => {
      const end = this.#storage.get<EndState>(END);
      if (end === undefined || this.#webhooks.idle()) return this.#wipe();
      const webhooks = end.webhooks === "pending" ? "none" : end.webhooks;
      this.#storage.set(END, { ...end, webhooks, unwritten: undefined });
      await this.#schedule();
    });
  }

  /** Re-sends a webhook delivery by hand (same webhook-id and body); returns its record as it is now. */
  async resendWebhook(record: DeliveryRow): Promise<DeliveryRow> {
    return this.#inTurn(async () => {
      this.#storage.ensure();
      const delivery = this.#webhooks.resend(record);
      await this.#schedule();
      return deliveryRow(delivery);
    });
  }

  /**
   * The object's one alarm: an end D1 refused, deliveries to plan, attempts due, records to mirror to
   * D1, and the cleanup once nothing is left. Each job is idempotent; the alarm is set again for the
   * next one due.
   */
  override async alarm(): Promise<void> {
    if (this.#run !== undefined) {
      await this.ctx.storage.setAlarm(Date.now() + KEEPALIVE_MS);
      return;
    }
    if (!this.#storage.exists()) {
      // A keepalive alarm with no live run: the run's instance died; D1 ends it (if it had not ended).
      const ended = await this.#recover("failed");
      // D1 refused that end: the alarm tries again, as for a live run's refused end (deleted, the run
      // would wait for the sweep or a read, and wrangler dev has no sweep).
      if (ended !== null && !this.#endLanded) await this.ctx.storage.setAlarm(Date.now() + D1_RETRY_MS);
      else if (!this.#storage.exists()) await this.ctx.storage.deleteAlarm();
      return;
    }
    if (!(await this.#endIsRecorded())) return this.#schedule();
    await this.#jobs();
  }

  /**
   * Whether D1 has the end noted here. An instance that dies between noting its end (webhooks due)
   * and D1 taking it (a deploy or crash during the run's last write) leaves an end D1 never had: that
   * run is lost, and is ended from D1 like any other (`failed`), which notes that end instead, so the
   * webhook reports the end D1 has. False while D1 cannot say or refuses the end (the alarm tries again).
   */
  async #endIsRecorded(): Promise<boolean> {
    const end = this.#storage.get<EndState>(END);
    if (this.#endLanded || end?.webhooks !== "pending" || end.unwritten !== undefined) return true;
    try {
      const { tenantId, responseId } = this.#identity;
      const row = await findResponse(await tenantDb(this.env, tenantId, { running: true }), tenantId, responseId);
      if (row === undefined || TERMINAL_STATUSES.has(row.status)) return true;
      await this.#recover("failed");
    } catch (error) {
      this.#logError("a lost run could not be ended yet", error);
    }
    return this.#endLanded;
  }

  /** Runs `job` after every storage job before it. */
  #inTurn<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(job);
    this.#serial = run.catch(() => undefined);
    return run;
  }

  /** The storage jobs, each idempotent; the alarm is set again for the next one due. */
  #jobs(): Promise<void> {
    return this.#inTurn(() => this.#runJobs());
  }

  async #runJobs(): Promise<void> {
    // A job that waited its turn may find the storage gone (emptied by the one before).
    if (!this.#storage.exists()) return;
    try {
      // A dead man's switch: if this instance dies mid-job, this alarm brings a fresh one back.
      await this.ctx.storage.setAlarm(Date.now() + D1_RETRY_MS);
      const end = this.#storage.get<EndState>(END);
      if (end?.unwritten !== undefined && this.#run === undefined) await this.#writeUnwritten();
      await this.#planWebhooks();
      await this.#webhooks.deliverDue();
      await this.#webhooks.sync();
    } catch (error) {
      this.#logError("alarm job failed", error);
    } finally {
      await this.#schedule();
    }
  }

  // ---- the end of a run ----

  /** Webhooks are due for this end: noted (with a dead man's alarm) before D1 is told, so none is lost. */
  async #beforeEnd(run: BackgroundRun, snapshot: ResponseObject): Promise<void> {
    if (!(await this.#webhooksDue(run.tenantId, snapshot.status))) return;
    this.#storage.set(END, { status: snapshot.status, endedAt: Date.now(), webhooks: "pending" } satisfies EndState);
    await this.ctx.storage.setAlarm(Date.now() + D1_RETRY_MS);
  }

  /**
   * Whether an end with `status` may have webhooks to send. When D1 cannot list the endpoints, they
   * are noted as due: planning reads them again (retried by the alarm) and plans none if there are none.
   * Failing here instead would leave the run unended (its end unwritten) or its webhook unsent.
   */
  async #webhooksDue(tenantId: string, status: string): Promise<boolean> {
    try {
      return await this.#webhooks.hasTargets(tenantId, status);
    } catch (error) {
      this.#logError("webhook endpoints could not be read; the deliveries are planned later", error);
      return eventTypeOf(status) !== null;
    }
  }

  async #afterEnd(run: BackgroundRun, snapshot: ResponseObject, outcome: FinishOutcome): Promise<void> {
    this.#run = undefined;
    this.#endLanded = outcome !== "failed";
    if (outcome === "failed") {
      // D1 refused the end: it is kept here, with the events D1 lacks, and written by the alarm.
      const end = this.#storage.get<EndState>(END);
      this.#storage.set(END, {
        status: snapshot.status,
        endedAt: end?.endedAt ?? Date.now(),
        webhooks: end?.webhooks ?? "none",
        unwritten: { snapshot, events: [...run.recorder.pending], turn: run.turn(snapshot) },
      } satisfies EndState);
      await this.ctx.storage.setAlarm(Date.now() + D1_RETRY_MS);
      return;
    }
    if (outcome === "ended_elsewhere" && this.#storage.exists() && (await this.#rowGone(run.tenantId))) {
      // The response was deleted before the object was told: there is no end to report, so its
      // webhooks are not planned. (A row that is there but ended is this run's own end, committed by a
      // write D1 reported failed and found done by its retry, or another's that plans its own: the
      // deliveries go, planned once.)
      await this.#inTurn(async () => {
        const end = this.#storage.get<EndState>(END);
        if (end?.webhooks === "pending") this.#storage.set(END, { ...end, webhooks: "none" } satisfies EndState);
        await this.#schedule();
      });
      return;
    }
    if (!this.#storage.exists()) {
      // Nothing left to do: the keepalive alarm goes too, and the number noted for readers.
      // Read, not this instance's own note: one that noted it may have been evicted since.
      if (this.ctx.storage.kv.get(SEEN) !== undefined) await this.ctx.storage.deleteAll();
      await this.ctx.storage.deleteAlarm();
      return;
    }
    // Deliveries start now, in this call, rather than on the next alarm.
    this.#background(this.#jobs(), "webhook delivery failed");
  }

  /**
   * A reader is about to be sent events up to `seq`: past the number noted, the next step is noted.
   * The write is synchronous, and the output gate holds the events until it is stored. Once D1 has
   * the end (the run is gone from here), nothing is lost by a crash and nothing is noted.
   */
  #sending(seq: number): void {
    if (seq <= this.#seenNoted || this.#run === undefined) return;
    this.#seenNoted = (Math.floor(seq / SEEN_STEP) + 1) * SEEN_STEP - 1;
    this.ctx.storage.kv.put(SEEN, this.#seenNoted);
  }

  /** Whether D1 no longer has this run's response (deleted); false when it cannot say. */
  async #rowGone(tenantId: string): Promise<boolean> {
    try {
      const db = await tenantDb(this.env, tenantId, { running: true });
      return (await findResponse(db, tenantId, this.#identity.responseId)) === undefined;
    } catch (error) {
      this.#logError("the response could not be read after its end", error);
      return false;
    }
  }

  /** The retry of an end D1 refused before (the alarm's, or a read's); read afresh, since a job before may have written it. */
  async #writeUnwritten(): Promise<void> {
    const end = this.#storage.get<EndState>(END);
    const unwritten = end?.unwritten;
    if (end === undefined || unwritten === undefined) return;
    const { tenantId, responseId } = this.#identity;
    const db = await tenantDb(this.env, tenantId, { running: true });
    const row = await findResponse(db, tenantId, responseId);
    if (row === undefined || TERMINAL_STATUSES.has(row.status)) {
      this.#storage.set(END, { ...end, unwritten: undefined });
      return;
    }
    const config = readConfig(this.env);
    const { outcome } = await endDeadRun(db, row, {
      end: { snapshot: unwritten.snapshot, turn: unwritten.turn },
      kept: unwritten.events,
      flushIntervalMs: config.recordFlushMs,
      onError: (what, error, attempt) => logD1Problem(this.#ids, what, error, attempt),
    });
    if (outcome !== "failed") this.#storage.set(END, { ...end, unwritten: undefined });
  }

  /**
   * Ends a run that has no live instance: with the end it reached, if D1 refused that end (kept here);
   * otherwise from D1, `failed` (or `cancelled`), partial output kept.
   */
  async #recover(status: "failed" | "cancelled"): Promise<ResponseObject | null> {
    const kept = this.#storage.get<EndState>(END);
    if (kept?.unwritten !== undefined) {
      await this.#inTurn(() => this.#writeUnwritten());
      return kept.unwritten.snapshot;
    }
    const { tenantId, responseId } = this.#identity;
    const db = await tenantDb(this.env, tenantId, { running: true });
    const row = await findResponse(db, tenantId, responseId);
    if (row === undefined || TERMINAL_STATUSES.has(row.status)) return null;
    const end = this.#storage.get<EndState>(END);
    const config = readConfig(this.env);
    const seenUpTo = this.ctx.storage.kv.get<number>(SEEN);
    const { snapshot, outcome } = await endDeadRun(db, row, {
      end: status,
      kept: end?.unwritten?.events ?? [],
      flushIntervalMs: config.recordFlushMs,
      onError: (what, error, attempt) => logD1Problem(this.#ids, what, error, attempt),
      env: this.env,
      seenUpTo,
    });
    this.#endLanded = outcome !== "failed";
    if (outcome === "failed") return snapshot;
    if (seenUpTo !== undefined) this.ctx.storage.kv.delete(SEEN);
    // An end noted here that D1 never had (the instance died writing it) gives way to this one: its
    // webhooks are this end's, or none (an endpoint for the noted end's event only must not get it).
    const due = await this.#webhooksDue(tenantId, snapshot.status);
    if (due || end?.webhooks === "pending") {
      const webhooks = due ? "pending" : "none";
      this.#storage.set(END, { status: snapshot.status, endedAt: Date.now(), webhooks } satisfies EndState);
      await this.#jobs();
    }
    return snapshot;
  }

  /** A finished background response's deliveries, planned once D1 has its end. */
  async #planWebhooks(): Promise<void> {
    const end = this.#storage.get<EndState>(END);
    if (end?.webhooks !== "pending" || end.unwritten !== undefined) return;
    const { tenantId, responseId } = this.#identity;
    const deliveries = await this.#webhooks.plan({ tenantId, responseId, status: end.status, endedAt: end.endedAt });
    // One synchronous step: the deliveries and the fact they were planned are stored together.
    for (const delivery of deliveries) this.#outbox.put(delivery);
    this.#storage.set(END, { ...end, webhooks: "planned" } satisfies EndState);
    // D1 shows every delivery as soon as it is planned, before its first attempt.
    await this.#webhooks.sync();
  }

  /** Deletes all of the object's storage (tables included) and its alarm. */
  async #wipe(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.#storage.forget();
  }

  /** When the next alarm job is due; null (and the storage emptied) once nothing is left. */
  async #schedule(): Promise<void> {
    if (!this.#storage.exists()) {
      if (this.#run === undefined) await this.ctx.storage.deleteAlarm();
      return;
    }
    const end = this.#storage.get<EndState>(END);
    const now = Date.now();
    const times: number[] = [];
    const hooks = this.#webhooks.nextWakeAt(now);
    if (hooks !== null) times.push(hooks);
    if (end?.unwritten !== undefined || end?.webhooks === "pending") times.push(now + D1_RETRY_MS);
    if (times.length > 0) await this.ctx.storage.setAlarm(Math.min(...times));
    else if (this.#run === undefined) await this.#wipe();
    else await this.ctx.storage.setAlarm(now + KEEPALIVE_MS);
  }

  /** Hands work to the runtime to finish after the request; a failure is logged, never left unhandled. */
  #background(task: Promise<unknown>, what: string): void {
    this.ctx.waitUntil(task.then(undefined, (error: unknown) => this.#logError(what, error)));
  }

  #logError(message: string, error: unknown): void {
    logFailure(message, error, this.#ids);
  }

  /** The ids this object's lines carry. */
  get #ids(): { response_id: string; tenant: string } {
    const { tenantId, responseId } = this.#identity;
    return { response_id: responseId, tenant: tenantId };
  }
}
