// A stored foreground response, run by the Worker request that created it: the upstream's events go
// through the normalizer to the client and, on the side, to the D1 recorder, which writes the row as
// the run starts, batches of events as they come, and the end before the client is sent the terminal
// event. A client that disconnects does not stop the run at once: it goes on for the disconnect grace
// (`ctx.waitUntil` keeps the Worker alive about 30 s), then ends `cancelled` with what it has. Used by
// the create route (and the idempotent create); store:false runs go through src/run/stateless.ts.

import type { GatewayConfig } from "../config";
import { openDb, type Db } from "../db/client";
import { deleteResponse, encodeRow, outputItems, type NewResponseRow } from "../db/responses";
import { ApiError } from "../errors";
import { logAnomaly, logD1Problem, logFailure } from "../observe/problems";
import { recordedOf, RunTrace, runIds, type Recorded } from "../observe/response-end";
import { newId } from "../responses/ids";
import { identifyItems } from "../responses/items";
import { StreamNormalizer, type NormalizedEvent } from "../responses/normalizer";
import { echoOf, newResponseObject } from "../responses/response-object";
import type { ResponseError, ResponseObject } from "../responses/types";
import { encodeFrame, SSE_HEADERS } from "../sse";
import { callOptions, callUpstream } from "../upstream/client";
import { targetOf } from "../upstream/registry";
import { expandContext } from "../run/context";
import { ConversationTurn } from "../run/conversation-turn";
import { pump, pumpOptions } from "../run/pump";
import type { RunSpec } from "../run/spec";
import { framesOf, ResponseRecorder, type FinishOutcome } from "./recorder";

const encoder = new TextEncoder();

export interface ForegroundContext {
  env: Env;
  ctx: ExecutionContext;
  config: GatewayConfig;
}

/** Pass-through keys: whether the upstream accepted the caller's key, and how to note that it did. */
export interface KeyCheck {
  /** Writes may start before the upstream answers; when false, nothing is written until it accepts. */
  accepted: boolean;
  /** The upstream answered the call made with the caller's key with a 2xx. */
  onAccepted: () => void;
}

const ACCEPTED: KeyCheck = { accepted: true, onAccepted: () => undefined };

/** Why a run was stopped from outside its stream. */
class Stop extends Error {
  constructor(readonly reason: "deadline" | "client_gone") {
    super(reason);
  }
}

/** A create whose response could not be recorded: safe to retry (nothing of it was kept). */
export const notRecorded = (): ApiError =>
  new ApiError(503, "The gateway could not record the response because its storage is unavailable; try again.", {
    type: "server_error",
    code: "storage_unavailable",
    headers: { "retry-after": "1" },
  });

const json = (value: unknown): Response =>
  new Response(JSON.stringify(value), { headers: { "content-type": "application/json" } });

/** Runs a stored, non-background response; answers JSON or SSE as the request asked. */
export async function runStoredForeground(
  run: ForegroundContext,
  spec: RunSpec,
  key: KeyCheck = ACCEPTED,
): Promise<Response> {
  const { env, config } = run;
  const db = openDb(env.DB);
  const { request } = spec;
  const target = targetOf(spec.upstream);
  const turn =
    request.conversationId === null
      ? null
      : await ConversationTurn.begin(db, spec.tenantId, request.conversationId, spec.responseId);
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
    onError: (what, error, attempt) => logD1Problem(runIds(spec), what, error, attempt),
  });
  try {
    const input = await expandContext(db, spec.tenantId, request);
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
    const call = () =>
      callUpstream(
        target,
        target.protocol.buildBody(request, input),
        callOptions(config, abort.signal, spec.requestId, trace.upstream),
      );
    const write = () => encodeRow(row).then((encoded) => recorder.start(encoded));
    // The row is written while the upstream is called (the first event waits for whichever is
    // slower); for a key the upstream has not accepted yet, only once it has.
    const [called, written] = key.accepted
      ? await Promise.allSettled([call(), write()])
      : await callThenWrite(call, write);
    if (called.status === "rejected") {
      // Nothing is kept for a key nobody accepted: no row was written for it.
      const kept = written.status === "fulfilled" ? await recordRefusal(db, recorder, spec, base, called.reason) : null;
      trace.refused(refusalOf(called.reason), kept ?? "not_kept");
      throw called.reason;
    }
    key.onAccepted();
    if (written.status === "rejected") {
      abort.abort(new Error("not recorded"));
      await called.value.body?.cancel();
      throw notRecorded();
    }
    upstream = called.value;
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
  });
  /** Writes the end to D1 (the terminal event waits for it), then the response line. */
  const finish = async (snapshot: ResponseObject): Promise<FinishOutcome> => {
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
    trace.end(snapshot, normalizer.nextSeq, recordedOf(outcome));
    return outcome;
  };
  const deadline = setTimeout(() => abort.abort(new Stop("deadline")), config.maxRunMs);
  const context = { request, base };
  const options = pumpOptions(config, abort);

  /** The run's end when its stream stopped early: the deadline, or a client that did not come back. */
  const endStopped = (): ResponseObject | NormalizedEvent[] => {
    const reason: unknown = abort.signal.reason;
    if (reason instanceof Stop && reason.reason === "client_gone") return normalizer.cancel();
    const seconds = Math.round(config.maxRunMs / 1000);
    return normalizer.fail({
      code: "server_error",
      message: `The response exceeded the maximum run time of ${seconds} seconds.`,
    });
  };

  if (!request.stream) {
    try {
      const end = await pump(
        upstream,
        target.protocol,
        context,
        normalizer,
        trace.watch((events: NormalizedEvent[]) => recorder.record(framesOf(events))),
        options,
      );
      if (end === "aborted") {
        const stopped = endStopped();
        if (Array.isArray(stopped)) recorder.record(framesOf(stopped));
      }
    } finally {
      clearTimeout(deadline);
    }
    const outcome = await finish(normalizer.snapshot);
    if (outcome === "failed") throw notRecorded();
    return json(normalizer.snapshot);
  }

  const { readable, writable } = new IdentityTransformStream();
  const writer = writable.getWriter();
  let connected = true;
  let grace: ReturnType<typeof setTimeout> | undefined;
  /** The client went away: the run goes on, recorded, for the grace period. */
  const disconnected = (): void => {
    if (!connected) return;
    connected = false;
    grace = setTimeout(() => abort.abort(new Stop("client_gone")), config.disconnectGraceMs);
  };
  // Noticed when the client cancels the body, even while the upstream is silent.
  writer.closed.then(undefined, disconnected);
  // A client that stops reading holds the run up only until it is stopped (deadline, grace).
  const stopped = new Promise<void>((resolve) => abort.signal.addEventListener("abort", () => resolve()));
  const toClient = async (text: string): Promise<void> => {
    if (!connected) return;
    try {
      await Promise.race([writer.write(encoder.encode(text)), stopped]);
    } catch {
      disconnected();
    }
  };
  /** Writes the terminal frame only once D1 has the response's end; otherwise says why not. */
  const endWith = async (terminal: string, seq: number, snapshot: ResponseObject): Promise<void> => {
    const outcome = await finish(snapshot);
    if (outcome === "written") return toClient(terminal);
    await toClient(unrecordedEnd(outcome, seq));
  };
  const sink = async (events: NormalizedEvent[]): Promise<void> => {
    const frames = framesOf(events);
    recorder.record(frames);
    const end = frames.findIndex((frame) => frame.terminal);
    let text = "";
    for (const frame of end === -1 ? frames : frames.slice(0, end)) text += frame.frame;
    if (text !== "") await toClient(text);
    const terminal = end === -1 ? undefined : frames[end];
    if (terminal !== undefined) await endWith(terminal.frame, terminal.seq, normalizer.snapshot);
  };
  const drive = async (): Promise<void> => {
    try {
      const end = await pump(upstream, target.protocol, context, normalizer, trace.watch(sink), options);
      if (end === "aborted") {
        const stopped = endStopped();
        if (Array.isArray(stopped)) await sink(stopped);
        else await finish(stopped);
      }
    } catch (error) {
      trace.failure("run failed", error);
      if (!normalizer.terminal)
        await sink(
          normalizer.fail({ code: "server_error", message: "The gateway failed while running the response." }),
        );
    } finally {
      clearTimeout(deadline);
      if (grace !== undefined) clearTimeout(grace);
      await recorder.stop();
      await closeWriter(writer);
    }
  };
  run.ctx.waitUntil(drive());
  return new Response(readable, { headers: SSE_HEADERS });
}

/** The upstream call, then (only if it answered 2xx) the write: the order for a key not accepted yet. */
async function callThenWrite(
  call: () => Promise<Response>,
  write: () => Promise<void>,
): Promise<[PromiseSettledResult<Response>, PromiseSettledResult<void>]> {
  const [called] = await Promise.allSettled([call()]);
  if (called.status === "rejected") return [called, { status: "rejected", reason: "not written" }];
  const [written] = await Promise.allSettled([write()]);
  return [called, written];
}

/**
 * The upstream refused the request or could not be reached: the response is kept as `failed` with
 * the error (OpenAI keeps failed responses), except when the upstream refused the caller's key
 * (401/403): then nothing is kept for a key nobody accepted.
 */
async function recordRefusal(
  db: Db,
  recorder: ResponseRecorder,
  spec: RunSpec,
  base: ResponseObject,
  error: unknown,
): Promise<Recorded> {
  const status = error instanceof ApiError ? error.status : 502;
  try {
    if (status === 401 || status === 403) {
      await recorder.stop();
      await deleteResponse(db, spec.tenantId, spec.responseId);
      return "not_kept";
    }
    const normalizer = new StreamNormalizer({
      echo: echoOf(spec.request, { id: spec.responseId, createdAt: spec.createdAt }),
      initial: base,
      background: false,
    });
    recorder.record(framesOf(normalizer.fail(refusalOf(error))));
    const outcome = await recorder.finish({
      responseId: spec.responseId,
      tenantId: spec.tenantId,
      snapshot: normalizer.snapshot,
      turn: null,
    });
    return recordedOf(outcome);
  } catch (failure) {
    logFailure("the refused response could not be recorded", failure, runIds(spec));
    return "storage_failed";
  }
}

/** How long the end of a stream waits for a client that stopped reading before cutting it. */
const CLOSE_WAIT_MS = 5_000;

async function closeWriter(writer: WritableStreamDefaultWriter): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), CLOSE_WAIT_MS)));
  const closed = await Promise.race([writer.close().then(() => "closed" as const), late]).catch(
    () => "closed" as const,
  );
  clearTimeout(timer);
  if (closed === "late") await writer.abort(new Error("the client stopped reading")).catch(() => undefined);
}

/** The error a refused response is kept with: the upstream's code, or one by its status. */
export function refusalOf(error: unknown): ResponseError {
  if (!(error instanceof ApiError))
    return { code: "server_error", message: "The upstream model server could not be reached." };
  const code = error.code ?? (error.status === 429 ? "rate_limit_exceeded" : "server_error");
  return { code, message: error.message };
}

/** What the client gets instead of the terminal event when the end could not be recorded. */
function unrecordedEnd(outcome: Exclude<FinishOutcome, "written">, seq: number): string {
  const message =
    outcome === "failed"
      ? "The response could not be recorded: the gateway's storage is unavailable. Its output was streamed but is not stored."
      : "The response was deleted or ended by the gateway before its end could be recorded.";
  const code = outcome === "failed" ? "storage_unavailable" : "response_not_recorded";
  const error = { type: "server_error", code, message, param: null };
  return encodeFrame(
    "error",
    JSON.stringify({ type: "error", sequence_number: seq, code, message, param: null, error }),
  );
}
