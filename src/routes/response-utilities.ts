// POST /v1/responses/input_tokens and POST /v1/responses/compact. A `responses` upstream is called
// statelessly, so `previous_response_id` or `conversation` is expanded into `input` first and the
// call forwarded. A Chat Completions upstream has neither endpoint: the gateway compacts itself
// (the upstream model writes the summary) and estimates input tokens, saying it is an estimate. It
// compacts itself too for a Responses server without `/responses/compact` (a route's
// `compaction: "gateway"`, or its refusal seen: src/upstream/compact-support.ts).
// Nothing is stored but a compaction's usage: its tokens were spent upstream, so the tenant's usage
// counts it as a response (src/db/usage.ts).

import { compactBySummary, compactionDeps, type CompactionDeps } from "../compaction/compact";
import { estimateInputTokens } from "../compaction/estimate";
import { expandCompactionItems } from "../compaction/expand";
import { tenantDb, tenantStore } from "../db/shards";
import { countUnstoredUsage, tokensOf } from "../db/usage";
import { ApiError } from "../errors";
import { authenticate, type Caller } from "../http/auth";
import { requireAcceptedKey } from "../http/key-acceptance";
import { readJsonObject } from "../http/json-body";
import {
  checkOneContext,
  validateConversation,
  validateInput,
  validateModelConfiguration,
} from "../responses/create-request";
import { checkDuplicateIds } from "../responses/duplicate-items";
import { checkToolOutputs } from "../responses/tool-outputs";
import type { InputItem, JsonObject } from "../responses/types";
import { missing, optional } from "../responses/validation";
import { expandContext } from "../run/context";
import { hasItemReferences, resolveItemReferences } from "../run/item-references";
import { callUpstream, redactErrorBody, type UpstreamTarget } from "../upstream/client";
import {
  gatewayCompacts,
  isMissingEndpoint,
  isMissingEndpointBody,
  rememberNoCompactEndpoint,
} from "../upstream/compact-support";
import { gatewayReasoningFor } from "../upstream/gateway-reasoning";
import { hostOf, upstreamHttpError, withProtocolHint } from "../upstream/errors";
import { chooseUpstream, targetOf } from "../upstream/registry";
import { json, type RouteContext } from "./context";

type Utility = "/responses/input_tokens" | "/responses/compact";

/** A request's own input as its whole context: its tool outputs and ids checked as expandContext checks them. */
function checkedInput(input: InputItem[]): InputItem[] {
  checkToolOutputs(input, 0);
  checkDuplicateIds(input, 0);
  return input;
}

async function utility(route: RouteContext, path: Utility): Promise<Response> {
  const { env, config, requestId } = route;
  const caller = await authenticate(route.request, env, route.ctx);
  const body = await readJsonObject(route.request, config.maxBodyBytes);
  const model = optional<string>(body, "model", "string");
  if (path === "/responses/compact" && model === undefined) throw missing("model");
  // Nothing of it is stored: no item count of its own (Codex compacts its whole history here).
  const given = validateInput(body.input, Infinity);
  const input = hasItemReferences(given)
    ? await resolveItemReferences(await tenantDb(env, caller.tenantId), caller.tenantId, given)
    : given;
  const instructions = optional<string>(body, "instructions", "string") ?? null;
  // Checked here too: over Chat Completions the gateway answers itself, with no upstream to refuse them.
  validateModelConfiguration(body);
  const previousResponseId = optional<string>(body, "previous_response_id", "string") ?? null;
  const conversationId = validateConversation(body.conversation);
  checkOneContext(previousResponseId, conversationId);
  const upstream = chooseUpstream(config, model ?? "", caller.upstreamKey);
  // Pass-through: as for a create, a route's own key is not used, nor a compaction's usage written,
  // for a key no upstream has accepted; a call made with the caller's own key is itself the check.
  const callsUpstream = path === "/responses/compact" || upstream.protocol !== "chat_completions";
  if (callsUpstream && upstream.apiKey !== caller.upstreamKey) await requireAcceptedKey(caller, config);
  const expandedContext =
    previousResponseId === null && conversationId === null
      ? checkedInput(input)
      : await expandContext((await tenantStore(env, caller.tenantId)).reads(), caller.tenantId, {
          input,
          previousResponseId,
          conversationId,
        });
  const ownFrom = expandedContext.length - input.length;
  const target = targetOf(upstream);
  const signal = new AbortController().signal;
  const deps = compactionDeps(config, { tenantId: caller.tenantId, target, requestId, signal });
  const context = gatewayReasoningFor(upstream.protocol, expandedContext, { ...deps, ownFrom });

  const compactHere = async (): Promise<Response> => {
    // Its summary call sends the calls as a create would: a call without its output is refused alike.
    target.protocol.checkContext?.(context);
    const compaction = await compactBySummary({ model: model ?? "", body, input: context, ownFrom }, deps);
    await countCompaction(env, caller, model ?? "", requestId, compaction.usage);
    return json(compaction);
  };
  if (path === "/responses/compact" && gatewayCompacts(target, model ?? "")) return compactHere();

  if (upstream.protocol === "chat_completions") {
    // vLLM, Ollama and the rest have no token-counting endpoint: an estimate, flagged as one.
    const expanded = await expandCompactionItems(context, { ...deps, ownFrom });
    const estimate = estimateInputTokens({ instructions, input: expanded, tools: body.tools });
    return json({ object: "response.input_tokens", input_tokens: estimate, estimated: true });
  }

  // The upstream can read neither the gateway's stored history nor its compaction items.
  const expanded = await expandCompactionItems(context, { ...deps, ownFrom });
  const forwarded = { ...body };
  if (expanded !== given) {
    forwarded.input = expanded;
    delete forwarded.previous_response_id;
    delete forwarded.conversation;
  }
  const answer = await forward(target, forwarded, path, deps);
  if (answer === null) {
    rememberNoCompactEndpoint(target, model ?? "");
    return compactHere();
  }
  // Relayed as JSON only if it is: a proxy's web page or a cut body would reach the SDK as a parse failure.
  const text = await answer.text();
  if (!isJsonObject(text)) throw notJson(hostOf(target.baseUrl), answer.headers.get("content-type"));
  if (isMissingEndpointBody(JSON.parse(text))) {
    if (path === "/responses/input_tokens") throw missingInputTokens(target, text);
    rememberNoCompactEndpoint(target, model ?? "");
    return compactHere();
  }
  if (path === "/responses/compact" && answer.ok)
    await countCompaction(env, caller, model ?? "", requestId, (JSON.parse(text) as { usage?: unknown }).usage);
  return new Response(text, { status: answer.status, headers: { "content-type": "application/json" } });
}

/** The upstream's answer to a forwarded call; null when it has no `/responses/compact` (the gateway compacts instead). */
async function forward(
  target: UpstreamTarget,
  body: JsonObject,
  path: Utility,
  deps: CompactionDeps,
): Promise<Response | null> {
  try {
    return await callUpstream(target, body, { ...deps.options, path, accept: "application/json" });
  } catch (error) {
    if (path === "/responses/compact" && error instanceof ApiError && isMissingEndpoint(error)) return null;
    throw error;
  }
}

/**
 * Adds a compaction's tokens to the caller's usage, as a store:false response's are: one response
 * of `model` today. A write D1 refuses is logged; the compaction is answered all the same.
 */
async function countCompaction(env: Env, caller: Caller, model: string, requestId: string, usage: unknown) {
  const { tenantId, apiKeyId } = caller;
  const entry = { tenantId, apiKeyId, model, createdAt: Math.floor(Date.now() / 1000), ...tokensOf(usage) };
  const ids = { request_id: requestId, tenant: tenantId, key_id: apiKeyId };
  await countUnstoredUsage(tenantDb(env, tenantId), entry, ids, "a compaction");
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

/** LM Studio's 200 for an endpoint it lacks, as the 404 other servers answer: the same error and hint. */
const missingInputTokens = (target: UpstreamTarget, text: string): ApiError =>
  withProtocolHint(
    upstreamHttpError(404, redactErrorBody(text, target.apiKey)),
    hostOf(target.baseUrl),
    "responses",
    "/responses/input_tokens",
  );

const notJson = (host: string, contentType: string | null): ApiError =>
  new ApiError(
    502,
    /^\s*text\/html/i.test(contentType ?? "")
      ? `The upstream model server at ${host} answered with a web page (text/html), not JSON: is its base URL the API's?`
      : `The upstream model server at ${host} answered with a body that is not a JSON object.`,
    { type: "server_error", code: "upstream_invalid_response" },
  );

export const countInputTokens = (route: RouteContext): Promise<Response> => utility(route, "/responses/input_tokens");

export const compactResponse = (route: RouteContext): Promise<Response> => utility(route, "/responses/compact");
