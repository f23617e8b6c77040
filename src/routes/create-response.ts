// POST /v1/responses: authenticate, validate, then hand the run to its Durable Object (stored or
// background) or stream it straight through the Worker (store:false). An `Idempotency-Key` makes
// a stored create safe to retry.

import { openDb } from "../db/client";
import { identify } from "../http/auth";
import { readJson } from "../http/json-body";
import { validateCreateRequest, type CreateRequest } from "../responses/create-request";
import { newResponseId } from "../responses/ids";
import type { RunSpec, StartResult } from "../run/spec";
import { runStateless } from "../run/stateless";
import { isWarmUp } from "../http/internal-request";
import { chooseUpstream, protocolFor, warmUpChoice, type UpstreamChoice } from "../upstream/registry";
import { json, type RouteContext } from "./context";
import { idempotencyKeyOf, startIdempotently } from "./idempotent-create";

export async function createResponse({ request, env, ctx, config, requestId }: RouteContext): Promise<Response> {
  const { caller, admitted } = await identify(request, env, ctx);
  let create: CreateRequest;
  let upstream: UpstreamChoice;
  try {
    // Read and validated while the rate limiter answers; nothing happens before it admits the call.
    create = validateCreateRequest(await readJson(request, config.maxBodyBytes));
    upstream = chooseUpstream(config, create.model, caller.upstreamKey);
    protocolFor(upstream.protocol).validate(create);
    // ISSUE 13 HOOK (websocket branch): a socket's `generate: false` warm-up runs this same path with
    // an upstream that answers by itself (src/upstream/warm-up.ts); only the socket owner can mark it.
    if (isWarmUp(request)) upstream = warmUpChoice(upstream);
  } finally {
    await admitted;
  }
  const key = idempotencyKeyOf(request);
  const spec: RunSpec = {
    responseId: newResponseId(),
    tenantId: caller.tenantId,
    apiKeyId: caller.apiKeyId,
    requestId,
    createdAt: Math.floor(Date.now() / 1000),
    request: create,
    upstream,
  };
  // store:false records nothing a retry could be answered from: its Idempotency-Key is ignored.
  if (!create.store && !create.background) return runStateless(env, ctx, config, spec);
  if (key === null) return startRun(env, spec);
  const db = openDb(env.DB);
  return startIdempotently({ env, db, caller, key, body: create.body, stream: create.stream }, spec, (retried) =>
    startRun(env, retried),
  );
}

/** Starts (or, for an idempotent retry, joins) the run in the response's Durable Object. */
async function startRun(env: Env, spec: RunSpec): Promise<Response> {
  const create = spec.request;
  const run = env.RESPONSE_RUN.getByName(spec.responseId);
  if (create.stream) {
    const mode = create.background ? "background" : "stream";
    return run.fetch(`https://run/start?mode=${mode}`, { method: "POST", body: JSON.stringify(spec) });
  }
  const result = (await run.start(spec, create.background ? "background" : "wait")) as StartResult;
  if (result.ok) return json(result.response);
  return new Response(JSON.stringify({ error: result.error }), {
    status: result.status,
    headers: { "content-type": "application/json", ...result.headers },
  });
}
