// store:false (and not background): the Worker calls the upstream and streams the normalized
// events straight to the client, writing nothing. A client that goes away cancels the upstream
// call, since nothing would record the rest.

import type { GatewayConfig } from "../config";
import { openDb } from "../db/client";
import { tokensOf, usageStatement } from "../db/usage";
import { StreamNormalizer, type NormalizedEvent } from "../responses/normalizer";
import { echoOf, newResponseObject } from "../responses/response-object";
import { encodeFrame } from "../sse";
import { callUpstream } from "../upstream/client";
import { targetOf } from "../upstream/registry";
import { expandContext } from "./context";
import { MAX_UPSTREAM_BODY_BYTES, pump } from "./pump";
import { SSE_HEADERS } from "./response-run";
import type { RunSpec } from "./spec";

const encoder = new TextEncoder();

export async function runStateless(
  env: Env,
  ctx: ExecutionContext,
  config: GatewayConfig,
  spec: RunSpec,
): Promise<Response> {
  const { request } = spec;
  const target = targetOf(spec.upstream);
  const input = await expandContext(openDb(env.DB), spec.tenantId, request);
  const identity = { id: spec.responseId, createdAt: spec.createdAt };
  const base = newResponseObject(request, identity, "in_progress");
  const normalizer = new StreamNormalizer({ echo: echoOf(request, identity), initial: base, background: false });
  const abort = new AbortController();
  const upstream = await callUpstream(target, target.protocol.buildBody(request, input), {
    signal: abort.signal,
    firstByteTimeoutMs: config.firstByteTimeoutMs,
    retries: config.upstreamRetries,
    requestId: spec.requestId,
  });
  const options = { abort, idleTimeoutMs: config.idleTimeoutMs, maxBodyBytes: MAX_UPSTREAM_BODY_BYTES };
  const context = { request, base };
  // Nothing of a store:false response is written, except what it adds to the tenant's usage.
  const countUsage = async () => {
    const { tenantId, apiKeyId, createdAt } = spec;
    const entry = { tenantId, apiKeyId, createdAt, model: request.model, ...tokensOf(normalizer.snapshot.usage) };
    try {
      const db = openDb(env.DB);
      await db.batch([usageStatement(db, entry)]);
    } catch (error) {
      console.warn(`usage of ${spec.responseId} not recorded: ${error instanceof Error ? error.message : "?"}`);
    }
  };

  if (!request.stream) {
    await pump(upstream, target.protocol, context, normalizer, () => undefined, options);
    ctx.waitUntil(countUsage());
    return new Response(JSON.stringify(normalizer.snapshot), { headers: { "content-type": "application/json" } });
  }

  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const send = async (events: NormalizedEvent[]) => {
    let text = "";
    for (const event of events) text += encodeFrame(event.type, event.json);
    try {
      await writer.write(encoder.encode(text));
    } catch {
      abort.abort(new Error("client disconnected"));
    }
  };
  ctx.waitUntil(
    pump(upstream, target.protocol, context, normalizer, send, options).then(
      () => Promise.all([writer.close().catch(() => undefined), countUsage()]),
      () => writer.abort().catch(() => undefined),
    ),
  );
  return new Response(readable, { headers: SSE_HEADERS });
}
