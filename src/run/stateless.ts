// store:false (and not background): the Worker calls the upstream and streams the normalized
// events straight to the client, writing nothing of the response. A client that goes away cancels
// the upstream call, since nothing would record the rest. With `conversation`, the turn's items
// still join the conversation (as OpenAI does), before the client sees the terminal event; should D1
// refuse the append past its retries, the client is told so instead (a 503, or an `error` event).

import type { GatewayConfig } from "../config";
import { tenantDb } from "../db/shards";
import { countUnstoredUsage, tokensOf } from "../db/usage";
import { failedByOf } from "../observe/failed-by";
import { RunTrace, runIds } from "../observe/response-end";
import { StreamNormalizer, type NormalizedEvent } from "../responses/normalizer";
import { echoOf, newResponseObject } from "../responses/response-object";
import { encodeFrame, SSE_HEADERS } from "../sse";
import { CheckableRun, claimHolders } from "../stream/client-checks";
import { ClientStream } from "../stream/client-stream";
import { endLeftRun } from "../stream/dead-run";
import { errorFrame, refusalOf } from "../stream/outcomes";
import { callOptions, callUpstream, redact } from "../upstream/client";
import { targetOf } from "../upstream/registry";
import { withheldReasoning } from "../upstream/withheld-reasoning";
import { compactionDeps, prepareUpstreamInput, type Compacted } from "../compaction/compact";
import { backgroundSnapshots } from "./background-snapshot";
import { expandContext } from "./context";
import { appendRefused, ConversationTurn, type AppendRefused } from "./conversation-turn";
import { pump, pumpOptions } from "./pump";
import type { RunSpec } from "./spec";

export async function runStateless(
  env: Env,
  ctx: ExecutionContext,
  config: GatewayConfig,
  spec: RunSpec,
  /** The upstream answered the call made with the caller's key: the key is accepted. */
  onAccepted: () => void = () => undefined,
  /** Aborted when the client goes away (the request's signal). */
  disconnected?: AbortSignal,
): Promise<Response> {
  const { request } = spec;
  const target = targetOf(spec.upstream);
  const db = await tenantDb(env, spec.tenantId);
  const turn = await ConversationTurn.ofCreate(db, spec, backgroundSnapshots(env, spec.tenantId));
  turn?.keepAlive();
  const identity = { id: spec.responseId, createdAt: spec.createdAt };
  const base = newResponseObject(request, identity, "in_progress");
  const normalizer = new StreamNormalizer({
    echo: echoOf(request, identity),
    initial: base,
    background: false,
    redact: (text) => redact(text, target.apiKey),
  });
  const abort = new AbortController();
  const trace = new RunTrace(spec, env);
  // Nothing of a store:false response is written, except what it adds to the tenant's usage.
  const countUsage = async () => {
    const { tenantId, apiKeyId, createdAt } = spec;
    const entry = { tenantId, apiKeyId, createdAt, model: request.model, ...tokensOf(normalizer.snapshot.usage) };
    await countUnstoredUsage(db, entry, runIds(spec), "a store:false response");
  };
  let upstream: Response;
  let prepared: Compacted;
  /** The summary of a create-time compaction, once made. */
  let summarized = false;
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
    prepared = await prepareUpstreamInput({ request, input, deps });
    normalizer.spend(prepared.compaction?.usage);
    if (prepared.answer === undefined)
      normalizer.withhold(withheldReasoning(prepared.target, request, input, prepared.input));
    summarized = prepared.compaction !== undefined;
    upstream =
      prepared.answer ??
      (await callUpstream(
        prepared.target,
        target.protocol.buildBody(request, prepared.input),
        callOptions(config, abort.signal, spec.requestId, trace.upstream),
      ));
  } catch (error) {
    trace.refused(refusalOf(error), failedByOf(error), "not_kept");
    await turn?.abandon();
    // A refused call writes nothing, but a summary made before it was paid for: it counts, as a failed response.
    if (summarized) {
      normalizer.fail(refusalOf(error), failedByOf(error));
      await countUsage();
    }
    throw error;
  }
  onAccepted();
  const options = pumpOptions(config, abort);
  const context = { request, base, ...prepared };

  // A client that goes away stops the run at once: nothing would read or record the rest.
  const clientGone = () => abort.abort(new Error("client disconnected"));

  if (!request.stream) {
    if (disconnected?.aborted === true) clientGone();
    else disconnected?.addEventListener("abort", clientGone);
    let refused: AppendRefused | null = null;
    try {
      await pump(
        upstream,
        target.protocol,
        context,
        normalizer,
        trace.watch(() => undefined),
        options,
      );
    } finally {
      disconnected?.removeEventListener("abort", clientGone);
      refused = (await turn?.end(request.input, normalizer.snapshot)) ?? null;
      trace.end(normalizer.snapshot, normalizer, refused === null ? "not_kept" : "storage_failed", refused?.cause);
    }
    ctx.waitUntil(countUsage());
    if (turn !== null && refused !== null) throw appendRefused(turn, refused, false);
    return new Response(JSON.stringify(normalizer.snapshot), { headers: { "content-type": "application/json" } });
  }

  // Noticed at once when the client cancels the body or its signal fires, else at the next write
  // (a keepalive comment while the model is silent).
  const client = new ClientStream(abort.signal, clientGone, disconnected, config.streamKeepaliveMs);
  /** Settles once the turn has released its conversation (ended or abandoned). */
  let released!: () => void;
  const claimFreed = new Promise<void>((resolve) => (released = resolve));
  // A create refused this turn's conversation has it test its client now (client-checks.ts): a client
  // gone stops the run at once, and the answer waits for the claim to be released.
  const unlist: (() => void)[] = [];
  if (turn !== null) {
    const checkable = new CheckableRun(spec.responseId, async () => {
      if (await client.check()) return false;
      await claimFreed;
      return true;
    });
    unlist.push(claimHolders.note(spec.tenantId, turn.conversationId, checkable), () => checkable.end());
  }
  /** D1 refused the turn's append: its client got an `error` event instead of the terminal one. */
  let refused: AppendRefused | null = null;
  const send = async (events: NormalizedEvent[]) => {
    const end = events.findIndex((event) => event.terminal);
    // The conversation has the turn's items before the client learns the turn ended.
    if (turn !== null && end !== -1) refused = await turn.end(request.input, normalizer.snapshot);
    let text = "";
    for (const event of refused === null ? events : events.slice(0, end)) text += encodeFrame(event.type, event.json);
    const terminal = events[end];
    if (turn !== null && refused !== null && terminal !== undefined) {
      const told = appendRefused(turn, refused, true);
      text += errorFrame(terminal.seq, told.code ?? "storage_unavailable", told.message);
    }
    await client.send(text);
  };
  const drive = async (): Promise<void> => {
    let failed = false;
    try {
      await pump(upstream, target.protocol, context, normalizer, trace.watch(send), options);
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      // Its conversation first: a create waiting on this turn (its client left) tries again at once.
      await turn?.abandon();
      released();
      for (const done of unlist) done();
      await (failed ? client.abort() : Promise.all([client.close(), countUsage()]));
      trace.end(normalizer.snapshot, normalizer, refused === null ? "not_kept" : "storage_failed", refused?.cause);
    }
  };
  ctx.waitUntil(drive());
  return new Response(client.readable, { headers: SSE_HEADERS });
}
