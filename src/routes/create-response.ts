// POST /v1/responses: authenticate, validate, then run it: a stored foreground response in this
// Worker with its D1 recorder, a background one in its Durable Object, a store:false one straight
// through (or, under RECORD_STORE_FALSE, as a stored one whose Response still says store:false). An
// `Idempotency-Key` makes a stored create safe to retry.

import { tenantDb } from "../db/shards";
import { identify } from "../http/auth";
import { isKeyAccepted, markKeyAccepted, requireAcceptedKey, verifyKeyUpstream } from "../http/key-acceptance";
import { readJson } from "../http/json-body";
import { noteResponse } from "../observe/request-log";
import { prewarms, validateCreateRequest, type CreateRequest } from "../responses/create-request";
import { newId } from "../responses/ids";
import { checkBackgroundCap } from "../run/background-cap";
import type { RunSpec, StartResult } from "../run/spec";
import { hasItemReferences, resolveItemReferences } from "../run/item-references";
import { runStateless } from "../run/stateless";
import { isWarmUp } from "../http/internal-request";
import { runStoredForeground, type KeyCheck } from "../stream/foreground";
import { withKeepalive } from "../stream/keepalive";
import { chooseUpstream, protocolFor, warmUpChoice, type UpstreamChoice } from "../upstream/registry";
import { json, type RouteContext } from "./context";
import { idempotencyKeyOf, startIdempotently } from "./idempotent-create";
import { runOf } from "./lookup";

export async function createResponse(route: RouteContext): Promise<Response> {
  const { request, env, ctx, config, requestId } = route;
  const { caller, admitted } = await identify(request, env, ctx);
  let create: CreateRequest;
  let upstream: UpstreamChoice;
  let references: boolean;
  try {
    // Read and validated while the rate limiter answers; nothing happens before it admits the call.
    create = validateCreateRequest(await readJson(request, config.maxBodyBytes));
    upstream = chooseUpstream(config, create.model, caller.upstreamKey);
    references = hasItemReferences(create.input);
    if (!references) protocolFor(upstream.protocol).validate(create);
    // ISSUE 13 HOOK (websocket branch): a socket's `generate: false` warm-up runs this same path with
    // an upstream that answers by itself (src/upstream/warm-up.ts); only the socket owner can mark it.
    // Over HTTP the body's own `generate: false` asks for it; so does a cache prewarm on a chat route,
    // which has no cache to prepare (a Responses upstream is sent the prewarm and answers it).
    const chatPrewarm = upstream.protocol === "chat_completions" && prewarms(create.body);
    if (isWarmUp(request) || !create.generate || chatPrewarm) upstream = warmUpChoice(upstream);
  } finally {
    await admitted;
  }
  const key = idempotencyKeyOf(request);
  // Before anything is written or asked upstream (the key check included): a tenant at its cap costs a read.
  if (create.background) await checkBackgroundCap(await tenantDb(env, caller.tenantId), caller.tenantId, config, key);
  // The upstream is called statelessly: a reference is replaced by the stored item before it is
  // validated for the upstream's protocol (a Chat Completions server takes the item, not the reference).
  if (references) {
    const input = await resolveItemReferences(await tenantDb(env, caller.tenantId), caller.tenantId, create.input);
    create = { ...create, input };
    protocolFor(upstream.protocol).validate(create);
  }
  // RECORD_STORE_FALSE: the operator keeps store:false creates as stored ones, the client's view
  // unchanged; a warm-up (no model call, no output) is not worth a row.
  const recorded = !create.store && config.recordStoreFalse && upstream.warmUp !== true;
  // One clock reading for the id and `created_at`: a tenant's rows are listed in id order.
  const now = Date.now();
  const spec: RunSpec = {
    responseId: newId("resp", now),
    tenantId: caller.tenantId,
    apiKeyId: caller.apiKeyId,
    requestId,
    createdAt: Math.floor(now / 1000),
    request: create,
    upstream,
    ...(create.background ? { backgroundCap: config.maxBackgroundRuns } : {}),
    ...(recorded ? { recorded: true as const } : {}),
  };
  noteResponse(request, spec.responseId, spec);
  // Pass-through: nothing is written for a key the upstream has not accepted. A foreground create
  // whose own upstream call carries the key is that check (it writes only once the call is
  // answered); anything that writes before the call, or sends another key upstream, asks first.
  const keyCheck: KeyCheck = {
    accepted: isKeyAccepted(caller),
    onAccepted: () => markKeyAccepted(caller),
    verify: async () => {
      const verdict = await verifyKeyUpstream(caller, config);
      if (verdict.kind === "accepted") markKeyAccepted(caller);
      return verdict.kind === "accepted";
    },
  };
  const writesFirst = create.background || create.conversationId !== null || (key !== null && create.store);
  // ISSUE 13 HOOK (websocket branch): a warm-up calls no upstream, so its answer says nothing of the key.
  const checksKey = upstream.warmUp !== true && upstream.apiKey === caller.upstreamKey;
  if (!keyCheck.accepted && (writesFirst || !checksKey)) {
    await requireAcceptedKey(caller, config);
    keyCheck.accepted = true;
  }
  // store:false records nothing a retry could be answered from: its Idempotency-Key is ignored
  // (recorded, too: each retry runs, as its client expects).
  if (!create.store && !create.background && !recorded)
    return runStateless(env, ctx, config, spec, keyCheck.onAccepted, request.signal);
  const start = (run: RunSpec, release?: () => Promise<void>) => startRun(route, run, keyCheck, release);
  if (key === null || (!create.store && !create.background)) return start(spec);
  const db = await tenantDb(env, caller.tenantId);
  return startIdempotently({ route, db, caller, key, body: create.body, stream: create.stream }, spec, start);
}

/** Runs a stored response: in this Worker (foreground) or in its Durable Object (background). */
async function startRun(
  route: RouteContext,
  spec: RunSpec,
  keyCheck: KeyCheck,
  releaseKey?: () => Promise<void>,
): Promise<Response> {
  const create = spec.request;
  // A recorded store:false run stops as soon as its client leaves, as an unrecorded one does.
  const config = create.store ? route.config : { ...route.config, disconnectGraceMs: 0 };
  if (!create.background) return runStoredForeground({ ...route, config, onNotKept: releaseKey }, spec, keyCheck);
  const run = runOf(route.env, { tenantId: spec.tenantId, id: spec.responseId });
  if (create.stream) {
    const started = await run.fetch("https://run/start", { method: "POST", body: JSON.stringify(spec) });
    // The run's events come from its object: a silent model gets keepalive comments here, as a foreground stream does.
    if (started.status !== 200 || started.body === null) return started;
    return new Response(
      withKeepalive(started.body as ReadableStream<Uint8Array>, route.config.streamKeepaliveMs),
      started,
    );
  }
  const result = (await run.start(spec)) as StartResult;
  if (result.ok) return json(result.response);
  return new Response(JSON.stringify({ error: result.error }), {
    status: result.status,
    headers: { "content-type": "application/json", ...result.headers },
  });
}
