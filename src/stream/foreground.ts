// A stored foreground response, run by the Worker request that created it: the upstream's events go
// through the normalizer to the client and, on the side, to the D1 recorder, which writes the row as
// the run starts (with its end when it ends within a second, one D1 call, else a second in; a lookup
// of the id in this isolate that comes first waits for it: src/stream/unwritten-rows.ts), batches of
// events as they come, and the end before the client is sent the terminal event. A client that
// disconnects does not stop the run at once: it goes on for the disconnect grace (`ctx.waitUntil`
// keeps the Worker alive about 30 s), then ends `cancelled` with what it has; a conversation turn
// yields its claim meanwhile and ends so as soon as the next turn takes it, and any run is marked
// left, ended so by a create continuing from it (src/stream/dead-run.ts `endLeftRun`). Used by the
// create route (and the idempotent create); store:false runs go through src/run/stateless.ts.

import type { GatewayConfig } from "../config";
import { APPENDED_STATUSES } from "../db/conversations";
import { tenantDb } from "../db/shards";
import { clientLeftOf, encodeRow, outputItems, type NewResponseRow } from "../db/responses";
import { ApiError } from "../errors";
import { logAnomaly, logD1Problem, logD1Recovered } from "../observe/problems";
import { failedByOf } from "../observe/failed-by";
import { recordedOf, RunTrace, runIds } from "../observe/response-end";
import { newId } from "../responses/ids";
import { NOTHING_WITHHELD, withWithheld, type WithheldReasoning } from "../responses/input-transformations";
import { identifyItems } from "../responses/items";
import { StreamNormalizer, type NormalizedEvent } from "../responses/normalizer";
import { echoOf, newResponseObject } from "../responses/response-object";
import type { JsonObject, ResponseObject } from "../responses/types";
import { responseError } from "../responses/types";
import { encodeFrame, SSE_HEADERS } from "../sse";
import { callOptions, callUpstream, redact } from "../upstream/client";
import { targetOf } from "../upstream/registry";
import { withheldReasoning } from "../upstream/withheld-reasoning";
import { compactForUpstream, compactionDeps, expandForUpstream, type Compacted } from "../compaction/compact";
import { backgroundSnapshots } from "../run/background-snapshot";
import { expandContext } from "../run/context";
import { ConversationTurn } from "../run/conversation-turn";
import { pump, pumpOptions } from "../run/pump";
import type { RunSpec } from "../run/spec";
import { CheckableRun, claimHolders, runningStreams } from "./client-checks";
import { ClientStream } from "./client-stream";
import { endLeftRun } from "./dead-run";
import {
  endNotRecorded,
  errorFrame,
  notRecorded,
  recordRefusal,
  refusalOf,
  refusedEndMessage,
  unrecordedEnd,
} from "./outcomes";
import { framesOf, ResponseRecorder, type EventFrame, type FinishOutcome } from "./recorder";

export interface ForegroundContext {
  env: Env;
  ctx: ExecutionContext;
  config: GatewayConfig;
  /**
   * Frees its Idempotency-Key: for a stream that kept nothing after it answered (its row refused),
   * and for an upstream refusal before its failed response is written (a retry that waited for it
   * then finds the key free and runs again, as the refused attempt answered an error).
   */
  onNotKept?: () => Promise<void>;
  /** The create request: its signal says when the client goes away. */
  request?: Request;
}

/** Pass-through keys: whether the upstream accepted the caller's key, and how to note that it did. */
export interface KeyCheck {
  /** Writes may start before the upstream answers; when false, nothing is written until it accepts. */
  accepted: boolean;
  /** The upstream answered the call made with the caller's key with a 2xx. */
  onAccepted: () => void;
  /** Asks the upstream whether it accepts the key (the create was refused for another reason). */
  verify: () => Promise<boolean>;
}

const ACCEPTED: KeyCheck = { accepted: true, onAccepted: () => undefined, verify: () => Promise.resolve(true) };

/** Attempts of the end before its client is told D1 refused it: about 5 s of pauses, an outage's worth. */
const END_ATTEMPTS = 7;
/**
 * Attempts, once that client was told, to record what it saw (ending `failed`): about 19 s more, within
 * the 30 s a Worker's `waitUntil` outlives its response.
 */
const LATE_END_ATTEMPTS = 14;

/** Why a run was stopped from outside its stream. */
class Stop extends Error {
  constructor(readonly reason: "deadline" | "client_gone" | "not_recorded" | "ended_elsewhere" | "preempted") {
    super(reason);
  }
}

const json = (value: unknown): Response =>
  new Response(JSON.stringify(value), { headers: { "content-type": "application/json" } });

/** Runs a stored, non-background response; answers JSON or SSE as the request asked. */
export async function runStoredForeground(
  run: ForegroundContext,
  spec: RunSpec,
  key: KeyCheck = ACCEPTED,
): Promise<Response> {
  const { env, config } = run;
  const db = await tenantDb(env, spec.tenantId);
  const { request } = spec;
  const target = targetOf(spec.upstream);
  const turn = await ConversationTurn.ofCreate(db, spec, backgroundSnapshots(env, spec.tenantId));
  const identity = { id: spec.responseId, createdAt: spec.createdAt };
  const base = newResponseObject(request, identity, "in_progress");
  const inputItems = identifyItems(request.input);
  let upstream: Response;
  const abort = new AbortController();
  const trace = new RunTrace(spec, env);
  const recorder = new ResponseRecorder({
    db,
    responseId: spec.responseId,
    tenantId: spec.tenantId,
    flushIntervalMs: config.recordFlushMs,
    flushChars: config.recordFlushChars,
    conversationId: request.conversationId,
    // Deleted (or ended by a sweep) while it runs: the upstream call is closed at once.
    onGone: () => abort.abort(new Stop("ended_elsewhere")),
    // Its client left and the next turn took its conversation: it stops, to end cancelled.
    onPreempted: () => abort.abort(new Stop("preempted")),
    onError: (what, error, attempt) => logD1Problem(runIds(spec), what, error, attempt),
    endAttempts: END_ATTEMPTS,
  });
  let prepared: Compacted;
  let withheld: WithheldReasoning = NOTHING_WITHHELD;
  let summarized: JsonObject | undefined;
  /** The start write (the row and its input). */
  let started: Promise<void> | undefined;
  try {
    const input = await expandContext(db, spec.tenantId, request, backgroundSnapshots(env, spec.tenantId), (row) =>
      endLeftRun(db, row, config.recordFlushMs),
    );
    target.protocol.checkContext?.(input);
    const deps = compactionDeps(config, {
      tenantId: spec.tenantId,
      target,
      requestId: spec.requestId,
      signal: abort.signal,
      observer: trace.summary,
    });
    const expanded = await expandForUpstream({ request, input, deps });
    const row: NewResponseRow = {
      id: spec.responseId,
      tenantId: spec.tenantId,
      apiKeyId: spec.apiKeyId,
      status: "in_progress",
      model: request.model,
      background: false,
      store: true,
      createdAt: spec.createdAt,
      previousResponseId: request.previousResponseId,
      conversationId: request.conversationId,
      metadata: request.metadata,
      snapshot: base,
      input: inputItems,
    };
    // Create-time compaction is part of the call: its summary fails as the call would, kept `failed`.
    // A summary made before a refused call is kept in the failed response's usage.
    const call = async () => {
      const compacted = await compactForUpstream(request, expanded, deps);
      summarized = compacted.compaction?.usage;
      // Known before the call: a refused call's failed response lists it too.
      if (compacted.answer === undefined)
        withheld = withheldReasoning(compacted.target, request, input, compacted.input);
      const answer =
        compacted.answer ??
        (await callUpstream(
          compacted.target,
          target.protocol.buildBody(request, compacted.input),
          callOptions(config, abort.signal, spec.requestId, trace.upstream),
        ));
      return { answer, compacted };
    };
    const write = () => recorder.start(encodeRow(row));
    const startRow = () => recorder.deferStart(row, config.recordStartMs);
    // The row is written with the end when the response ends within a second of the upstream call
    // (one D1 write), else a second into the call; the end (a stream's terminal event, a JSON answer)
    // waits for it either way. For a key the upstream has not accepted yet, nothing is written until
    // it has.
    const calling = call();
    started = key.accepted ? startRow() : undefined;
    const [called] = await Promise.allSettled([calling]);
    if (called.status === "rejected") {
      // A refusal is kept as a failed response, but nothing is kept for a key nobody accepted: for
      // a key not known yet (its row not written), the upstream is asked about the key first.
      recorder.begin();
      const refusedKey = called.reason instanceof ApiError && [401, 403].includes(called.reason.status);
      const keep =
        (started !== undefined && (await settled(started))) ||
        (!refusedKey && (await key.verify()) && (await settled(write())));
      if (keep) {
        // Its conversation first (the refusal appends nothing), so that a retry freed to run again
        // is not refused `conversation_locked` by this attempt.
        await turn?.abandon();
        await run
          .onNotKept?.()
          .catch((error: unknown) => trace.failure("the Idempotency-Key could not be freed", error));
      }
      const kept = keep
        ? await recordRefusal(db, recorder, spec, withWithheld(base, withheld), called.reason, summarized)
        : "not_kept";
      trace.refused(refusalOf(called.reason), failedByOf(called.reason), kept);
      throw called.reason;
    }
    key.onAccepted();
    started ??= startRow();
    upstream = called.value.answer;
    prepared = called.value.compacted;
  } catch (error) {
    await recorder.stop();
    await turn?.abandon();
    throw error;
  }
  turn?.settle();

  const normalizer = new StreamNormalizer({
    echo: echoOf(request, identity),
    initial: base,
    background: false,
    onAnomaly: (message) => logAnomaly(spec.responseId, message),
    redact: (text) => redact(text, target.apiKey),
  });
  normalizer.spend(prepared.compaction?.usage);
  normalizer.withhold(withheld);
  /** The end written instead of the one the run reached, when the next turn took its conversation first. */
  let preempted: ResponseObject | undefined;
  /** Writes the end to D1 (the terminal event waits for it), then the response line. */
  const finish = async (reached: ResponseObject): Promise<FinishOutcome> => {
    let snapshot = reached;
    if (turn !== null && APPENDED_STATUSES.has(snapshot.status) && !(await recorder.holdClaim())) {
      // The claim it yielded when its client left was taken: it ends as a turn stopped then would,
      // cancelled with what it has, appending nothing (the next turn already read the conversation).
      recorder.dropTerminal();
      snapshot = preempted = cancelledAfter(snapshot);
    }
    const outcome = await recorder.finish({
      responseId: spec.responseId,
      tenantId: spec.tenantId,
      snapshot,
      turn:
        request.conversationId === null
          ? null
          : {
              conversationId: request.conversationId,
              items: [
                ...inputItems.map(({ id, item }) => ({ itemId: id, data: JSON.stringify(item) })),
                ...outputItems(snapshot.output, () => newId("item")),
              ],
            },
    });
    trace.end(snapshot, normalizer, recordedOf(outcome), recorder.refusal);
    return outcome;
  };
  // A row D1 would not take stops the run: a stream's client is told as for an end D1 would not take,
  // a JSON create answers 503; nothing is kept.
  started.catch(() => abort.abort(new Stop("not_recorded")));
  const deadline = setTimeout(() => abort.abort(new Stop("deadline")), config.maxRunMs);
  const context = { request, base, ...prepared };
  const options = pumpOptions(config, abort);

  const stopReason = (): Stop["reason"] | undefined => {
    const reason: unknown = abort.signal.reason;
    return reason instanceof Stop ? reason.reason : undefined;
  };
  /** The run's end when its stream stopped early: the deadline, or a client that did not come back. */
  const endStopped = (): ResponseObject | NormalizedEvent[] => {
    const reason = stopReason();
    if (reason === "client_gone" || reason === "ended_elsewhere" || reason === "preempted") return normalizer.cancel();
    const seconds = Math.round(config.maxRunMs / 1000);
    return normalizer.fail(
      responseError("server_error", `The response exceeded the maximum run time of ${seconds} seconds.`),
      "max_run_time",
    );
  };

  /** D1 refused the row: the run ends failed (nothing kept) and its response line says so; answers its end's number. */
  const failUnrecorded = (): number => {
    const seq = normalizer.nextSeq;
    normalizer.fail(responseError("server_error", "The response could not be recorded."), "gateway");
    trace.end(normalizer.snapshot, { nextSeq: seq, failedBy: "gateway" }, "storage_failed", recorder.refusal);
    return seq;
  };

  // A client that goes away leaves the run going, recorded, for the grace period; its conversation
  // turn yields its claim, and its row is marked left, so that the client's next turn (on the
  // conversation, or continuing from this response) stops it instead of being refused.
  // A reader its client came back as (an idempotent retry, a resume) holds it (src/stream/follow.ts
  // `holdForClient`): the grace is then counted from when that reader left (or its hold lapsed).
  let grace: ReturnType<typeof setTimeout> | undefined;
  let graceOver = false;
  const stopGrace = () => {
    graceOver = true;
    clearTimeout(grace);
  };
  const waitForClient = (ms: number) => {
    if (graceOver) return;
    grace = setTimeout(() => {
      clientLeftOf(db, { responseId: spec.responseId, tenantId: spec.tenantId }).then(
        (left) => {
          const graceLeftMs = (left ?? 0) * 1000 + config.disconnectGraceMs - Date.now();
          if (graceLeftMs > 0 && !abort.signal.aborted) waitForClient(graceLeftMs);
          else abort.abort(new Stop("client_gone"));
        },
        () => abort.abort(new Stop("client_gone")),
      );
    }, ms);
  };
  /** A streamed run's place on the lists of runs a create may ask to test their client (client-checks.ts). */
  const listing: { run?: CheckableRun } = {};
  const clientGone = () => {
    if (grace === undefined) waitForClient(config.disconnectGraceMs);
    recorder.yieldClaim();
    recorder.markLeft();
    // Once D1 has both, a create waiting on this run's answer tries again at once.
    const listed = listing.run;
    if (listed !== undefined) void recorder.letGo().then(() => listed.letGo());
  };

  /** A JSON create's run, to its end: the answer is the response as it ended. */
  const answerJson = async (): Promise<Response> => {
    let ended: ResponseObject | undefined;
    // A JSON create has sent nothing yet, so the request's signal tells at once.
    const disconnected = run.request?.signal;
    if (disconnected?.aborted === true) clientGone();
    else disconnected?.addEventListener("abort", clientGone);
    try {
      const end = await pump(
        upstream,
        target.protocol,
        context,
        normalizer,
        trace.watch((events: NormalizedEvent[]) => recorder.record(framesOf(events))),
        options,
      );
      if (end === "aborted" && stopReason() === "not_recorded") {
        // D1 refused the row: nothing is kept, and the client gets a retryable 503 (its conversation
        // free for the retry).
        failUnrecorded();
        await recorder.stop();
        await turn?.release();
        throw notRecorded(recorder.refusal);
      }
      if (end === "aborted") {
        const stopped = endStopped();
        if (Array.isArray(stopped)) recorder.record(framesOf(stopped));
        // Deleted while it ran: it answers as it was stopped (cancelled, with what it had).
        else ended = stopped;
      }
    } finally {
      clearTimeout(deadline);
      stopGrace();
      disconnected?.removeEventListener("abort", clientGone);
    }
    const reached = ended ?? normalizer.snapshot;
    const outcome = await finish(reached);
    if (outcome === "failed") {
      const refused = endNotRecorded(spec.responseId, recorder.refusal, recorder.rowless);
      // The terminal event's number (withheld from the record), or the next for a cancel, which has none.
      const seq = ended === undefined ? normalizer.nextSeq - 1 : normalizer.nextSeq;
      const told = { seq, frame: errorFrame(seq, refused.code ?? "storage_unavailable", refused.message) };
      // After the answer: the client does not wait for these retries.
      run.ctx.waitUntil(recordRefusedEnd(recorder, spec, reached, told, false));
      throw refused;
    }
    return json(preempted ?? reached);
  };
  if (!request.stream) {
    // Under waitUntil, as a stream's drive() is: a client that leaves must not cancel the run before
    // its grace ends it, recorded (the runtime cancels a request's own work when its client goes).
    const answer = answerJson();
    run.ctx.waitUntil(
      answer.then(
        () => undefined,
        () => undefined,
      ),
    );
    return answer;
  }

  const client = new ClientStream(abort.signal, clientGone, run.request?.signal, config.streamKeepaliveMs);
  // A create refused by this run (its conversation's claim, or continuing from it) has it test its
  // client now rather than at the next keepalive: gone, the run lets go before the create tries again.
  const checkClient = async (): Promise<boolean> => {
    if (await client.check()) return false;
    await recorder.letGo();
    return true;
  };
  const checkable = new CheckableRun(spec.responseId, checkClient);
  listing.run = checkable;
  const unlistChecks = [runningStreams.note(spec.tenantId, spec.responseId, checkable), () => checkable.end()];
  if (request.conversationId !== null)
    unlistChecks.push(claimHolders.note(spec.tenantId, request.conversationId, checkable));
  /** An end D1 refused, once its client is told: records what the client saw, ending `failed`. */
  let recordTold: (() => Promise<void>) | undefined;
  /** Writes the terminal frame only once D1 has the response's end; otherwise says why not. */
  const endWith = async (terminal: string, seq: number, snapshot: ResponseObject): Promise<void> => {
    const outcome = await finish(snapshot);
    if (outcome === "written") return client.send(terminal);
    const told = unrecordedEnd(outcome === "failed" ? "end_refused" : outcome, seq, recorder.refusal, recorder.rowless);
    await client.send(told);
    if (outcome === "failed") recordTold = () => recordRefusedEnd(recorder, spec, snapshot, { seq, frame: told }, true);
  };
  /** D1 refused the row: the client is told instead of getting more events; nothing is kept. */
  const endUnrecorded = async (): Promise<void> => {
    // Its conversation first, free for the client's retry once told.
    await turn?.release();
    await client.send(unrecordedEnd("failed", failUnrecorded(), recorder.refusal));
    await run.onNotKept?.().catch((error: unknown) => trace.failure("the Idempotency-Key could not be freed", error));
  };
  const sink = async (events: NormalizedEvent[]): Promise<void> => {
    const frames = framesOf(events);
    recorder.record(frames);
    const end = frames.findIndex((frame) => frame.terminal);
    let text = "";
    for (const frame of end === -1 ? frames : frames.slice(0, end)) text += frame.frame;
    if (text !== "") await client.send(text);
    const terminal = end === -1 ? undefined : frames[end];
    if (terminal !== undefined) await endWith(terminal.frame, terminal.seq, normalizer.snapshot);
  };
  const drive = async (): Promise<void> => {
    try {
      const end = await pump(upstream, target.protocol, context, normalizer, trace.watch(sink), options);
      if (end === "aborted" && stopReason() === "not_recorded") await endUnrecorded();
      else if (end === "aborted" && stopReason() === "ended_elsewhere") {
        // Deleted while it ran: its client is told, as for an end written after a delete.
        const seq = normalizer.nextSeq;
        const outcome = await finish(normalizer.cancel());
        await client.send(unrecordedEnd(outcome === "failed" ? "failed" : "ended_elsewhere", seq, recorder.refusal));
      } else if (end === "aborted") {
        const stopped = endStopped();
        if (Array.isArray(stopped)) await sink(stopped);
        // Cancelled (its client gone, or the next turn took its conversation): nobody is told, so an
        // end D1 refused is tried again as the told ones are, rather than left for the sweep to fail.
        else if ((await finish(stopped)) === "failed") recordTold = () => recordLate(recorder, spec, stopped, []);
      }
    } catch (error) {
      trace.failure("run failed", error);
      if (!normalizer.terminal)
        await sink(
          normalizer.fail(responseError("server_error", "The gateway failed while running the response."), "gateway"),
        );
    } finally {
      clearTimeout(deadline);
      stopGrace();
      for (const unlist of unlistChecks) unlist();
      await recorder.stop();
      await client.close();
      // After the client's stream has ended: it does not wait for these retries.
      await recordTold?.();
    }
  };
  run.ctx.waitUntil(drive());
  return new Response(client.readable, { headers: SSE_HEADERS });
}

/**
 * The end D1 refused, whose client was told so by `told` (a stream's `error` event instead of the
 * terminal event, or a JSON create's 503 as one): written again as the client saw it (every event
 * the run emitted, `told`, then `response.failed` with the storage error), so that the record does
 * not lose what the client saw. `streamed`: the client had the output. Should D1 refuse it
 * throughout, the sweep ends the run `failed` from what its flushes recorded.
 */
async function recordRefusedEnd(
  recorder: ResponseRecorder,
  spec: RunSpec,
  reached: ResponseObject,
  told: { seq: number; frame: string },
  streamed: boolean,
): Promise<void> {
  const failed: ResponseObject = {
    ...reached,
    status: "failed",
    completed_at: null,
    error: responseError("server_error", refusedEndMessage(streamed)),
  };
  const seq = told.seq + 1;
  const frames = [
    { seq: told.seq, frame: told.frame, terminal: false },
    {
      seq,
      frame: encodeFrame(
        "response.failed",
        JSON.stringify({ type: "response.failed", sequence_number: seq, response: failed }),
      ),
      terminal: true,
    },
  ];
  await recordLate(recorder, spec, failed, frames);
}

/**
 * Writes an end D1 refused past its attempts again, for as long as a told end is tried, with
 * `frames` after what the run recorded; logged once it lands. Also the `cancelled` end of a run
 * stopped without a client to tell (no frames: it has no terminal event), so a refusal of a few
 * seconds does not leave the row running until the sweep ends it `failed` without its last events.
 */
async function recordLate(
  recorder: ResponseRecorder,
  spec: RunSpec,
  snapshot: ResponseObject,
  frames: readonly EventFrame[],
): Promise<void> {
  const { conversationId } = spec.request;
  const turn = conversationId === null ? null : { conversationId, items: [] };
  const outcome = await recorder.refinish(
    { responseId: spec.responseId, tenantId: spec.tenantId, snapshot, turn },
    frames,
    LATE_END_ATTEMPTS,
  );
  if (outcome === "written")
    logD1Recovered(runIds(spec), `the end D1 refused was recorded later, as ${snapshot.status}`, recorder.refusal);
}

/** A turn's end taken back (see `finish`): `cancelled`, with the output it had reached. */
function cancelledAfter(reached: ResponseObject): ResponseObject {
  return { ...reached, status: "cancelled", completed_at: null, incomplete_details: null };
}

/** Whether `work` succeeded (its failure is the recorder's to log). */
const settled = (work: Promise<void>): Promise<boolean> =>
  work.then(
    () => true,
    () => false,
  );
