// Compaction the gateway does itself for Chat Completions upstreams and for Responses ones without
// `/responses/compact` (src/upstream/compact-support.ts): POST /v1/responses/compact's answer (the
// kept messages and one sealed compaction item), and create-time compaction when the context
// crosses `context_management`'s `compact_threshold`. Used by the compact route and where the
// upstream body of a create is built (see prepareUpstreamInput).

import { invalidRequest } from "../errors";
import type { CreateRequest } from "../responses/create-request";
import { newId, newResponseId } from "../responses/ids";
import { itemResource } from "../responses/items";
import type { InputItem, JsonObject, OutputItem } from "../responses/types";
import { isPlainObject } from "../responses/validation";
import type { GatewayConfig } from "../config";
import type { UpstreamCall } from "../observe/upstream-call";
import { SSE_HEADERS } from "../sse";
import { callOptions, type CallOptions, type UpstreamTarget } from "../upstream/client";
import { gatewayCompactsFor } from "../upstream/compact-support";
import { gatewayReasoningFor } from "../upstream/gateway-reasoning";
import { reasoningSeal, type ReasoningSeal } from "../upstream/reasoning-seal";
import { estimateInputTokens } from "./estimate";
import { expandCompactionItems, keptMessages } from "./expand";
import { compactionSecret, seal } from "./seal";
import { summarize, type Summary } from "./summarize";

export interface CompactionDeps {
  tenantId: string;
  /** `COMPACTION_SECRET`. */
  secret: string | null;
  /** The upstream whose model writes the summary (Chat Completions, or Responses without compaction). */
  target: UpstreamTarget;
  options: CallOptions;
  /** `UPSTREAM_IDLE_TIMEOUT_MS`, which bounds the summary answer's reading. */
  idleTimeoutMs: number;
}

/** A compaction item holding `summary`, sealed for the tenant. */
async function compactionItem(summary: Summary, tenantId: string, secret: string): Promise<OutputItem> {
  const payload = {
    v: 1 as const,
    summary: summary.text,
    created_at: Math.floor(Date.now() / 1000),
    model: summary.model,
  };
  return { id: newId("cmp"), type: "compaction", encrypted_content: await seal(payload, tenantId, secret) };
}

/** Whether compacting could make the context smaller: it holds more than the messages compaction keeps. */
const compactable = (input: InputItem[]): boolean =>
  input.some((item) => !((item.type === undefined || item.type === "message") && item.role !== "assistant"));

export interface CompactRequest {
  model: string;
  /** The request body (its tools name the calls of history). */
  body: JsonObject;
  /** The context to compact: the chain or conversation expanded, then the request's own input. */
  input: InputItem[];
  /** Index in `input` of the request's own first item. */
  ownFrom: number;
}

/** POST /v1/responses/compact done by the gateway: OpenAI's `CompactedResponse`. */
export async function compactBySummary(request: CompactRequest, deps: CompactionDeps): Promise<JsonObject> {
  const secret = compactionSecret(deps.secret);
  const input = await expandCompactionItems(request.input, { ...deps, ownFrom: request.ownFrom });
  if (input.length === 0)
    throw invalidRequest("There is nothing to compact: 'input' is empty.", "input", "empty_input");
  const summary = await summarize({
    target: deps.target,
    model: request.model,
    body: request.body,
    input,
    options: deps.options,
    idleTimeoutMs: deps.idleTimeoutMs,
  });
  const item = await compactionItem(summary, deps.tenantId, secret);
  return {
    id: newResponseId(),
    object: "response.compaction",
    created_at: Math.floor(Date.now() / 1000),
    // Kept from the context as given: an earlier item's summary (a message once expanded) is in the
    // new one, and stays sealed rather than coming back to the client as a user message.
    output: [...keptMessages(request.input).map((message) => itemResource(message, newId("msg"))), item],
    usage: summary.usage,
  };
}

/** The `compact_threshold` of a create's `context_management` (its `compaction` entry), if any. */
export function compactThreshold(body: JsonObject): number | undefined {
  const entries = Array.isArray(body.context_management) ? body.context_management : [];
  for (const entry of entries)
    if (isPlainObject(entry) && entry.type === "compaction" && typeof entry.compact_threshold === "number")
      return entry.compact_threshold;
  return undefined;
}

export interface Compacted {
  /** The context to send upstream. */
  input: InputItem[];
  /**
   * The upstream to send it to: with `gatewayCompaction` set where the gateway compacted, so the
   * call leaves `context_management` out without deciding again (a decision remembered may change meanwhile).
   */
  target: UpstreamTarget;
  /** The compaction item the response's output opens with, and what making it cost. */
  compaction?: { item: OutputItem; usage: JsonObject };
  /** The upstream's answer when the gateway gives it itself (in its protocol): no model call follows a `compaction_trigger`. */
  answer?: Response;
  /** A chat upstream's: what the reasoning items of the answer get as their `encrypted_content`. */
  sealReasoning?: ReasoningSeal;
}

/** Whether the request's input ends with a `compaction_trigger` (Codex CLI's remote compaction): compact now. */
export const triggersCompaction = (request: CreateRequest): boolean =>
  request.input.at(-1)?.type === "compaction_trigger";

/**
 * An empty answer in the upstream's protocol: the response's output is the compaction item alone,
 * as OpenAI answers a trigger (the translator puts the item first).
 */
function compactedAnswer(model: string, target: UpstreamTarget): Response {
  if (target.protocol.name === "responses") {
    const usage = { input_tokens: 0, output_tokens: 0, total_tokens: 0 };
    const body = { object: "response", model, status: "completed", output: [], usage };
    return new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
  }
  const chunk = {
    id: `chatcmpl-${newId("cmp")}`,
    object: "chat.completion.chunk",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
  };
  return new Response(`data: ${JSON.stringify(chunk)}\n\ndata: [DONE]\n\n`, { headers: SSE_HEADERS });
}

/**
 * Create-time compaction the gateway does (a chat upstream, a Responses one without compaction): when the context's estimated size reaches the
 * request's `compact_threshold`, the upstream model summarizes all of it, and the model then
 * answers from the kept messages and that summary, as it will on every later turn of the chain.
 * An input ending with a `compaction_trigger` is compacted whatever its size, and answered with the
 * compaction item alone.
 */
export async function compactIfNeeded(
  request: CreateRequest,
  input: InputItem[],
  deps: CompactionDeps,
): Promise<Omit<Compacted, "target">> {
  if (triggersCompaction(request)) {
    // The context before the trigger (the last item) is summarized, whatever its size; no model answers it.
    const context = input.slice(0, -1);
    if (context.length === 0)
      throw invalidRequest(
        "There is nothing to compact: 'input' holds only the compaction_trigger.",
        "input",
        "empty_input",
      );
    const secret = compactionSecret(deps.secret);
    const summary = await summarize({
      target: deps.target,
      model: request.model,
      body: request.body,
      input: context,
      options: deps.options,
      idleTimeoutMs: deps.idleTimeoutMs,
    });
    const item = await compactionItem(summary, deps.tenantId, secret);
    return {
      input: context,
      compaction: { item, usage: summary.usage },
      answer: compactedAnswer(request.model, deps.target),
    };
  }
  const threshold = compactThreshold(request.body);
  if (threshold === undefined || !compactable(input)) return { input };
  if (estimateInputTokens({ instructions: request.instructions, input, tools: request.body.tools }) < threshold)
    return { input };
  const secret = compactionSecret(deps.secret);
  const summary = await summarize({
    target: deps.target,
    model: request.model,
    body: request.body,
    input,
    options: deps.options,
    idleTimeoutMs: deps.idleTimeoutMs,
  });
  const item = await compactionItem(summary, deps.tenantId, secret);
  const compacted = await expandCompactionItems([...input, item], { ...deps, secret, ownFrom: input.length });
  // The model answers the turn the context ends with: its user messages come after the summary, which
  // a model would otherwise take for what to answer (the stored item keeps OpenAI's order).
  let turnStart = input.length;
  while (turnStart > 0 && isUserMessage(input[turnStart - 1] as InputItem)) turnStart--;
  const turn = new Set(input.slice(turnStart));
  const reordered = [...compacted.filter((entry) => !turn.has(entry)), ...compacted.filter((entry) => turn.has(entry))];
  return { input: reordered, compaction: { item, usage: summary.usage } };
}

const isUserMessage = (item: InputItem): boolean => item.role === "user" && (item.type ?? "message") === "message";

export interface PrepareRequest {
  request: CreateRequest;
  /** The expanded context (`expandContext`). */
  input: InputItem[];
  deps: CompactionDeps;
}

/**
 * What a create sends upstream, from its expanded context: gateway-made compaction items expanded
 * (any protocol: no upstream can read them), gateway-made reasoning opened for a chat upstream and
 * left out for a Responses one (gateway-reasoning.ts), and create-time compaction where the gateway
 * compacts (a chat upstream, a Responses one without compaction).
 * The call sites pass `input` to `buildBody` and both fields into the TranslationContext. The two
 * steps are also exported apart: a stored create expands before its response exists (a bad item is
 * a 400) and summarizes as part of its upstream call (a failed summary is a failed response).
 */
export async function prepareUpstreamInput({ request, input, deps }: PrepareRequest): Promise<Compacted> {
  return compactForUpstream(request, await expandForUpstream({ request, input, deps }), deps);
}

/** The context with gateway-made items expanded; refuses one it cannot open (a 400). */
export async function expandForUpstream({ request, input, deps }: PrepareRequest): Promise<InputItem[]> {
  const ownFrom = input.length - request.input.length;
  // Reasoning first: its errors name `input[i]` by the context as given, before compaction shortens it.
  const reasoned = gatewayReasoningFor(deps.target.protocol.name, input, { ...deps, ownFrom });
  return expandCompactionItems(reasoned, { ...deps, ownFrom });
}

/** Whether a create asks for compaction: a `context_management` entry, or a `compaction_trigger` ending its input. */
const asksCompaction = (request: CreateRequest): boolean =>
  request.body.context_management !== undefined || triggersCompaction(request);

/**
 * Create-time compaction of an expanded context where the gateway compacts (a summary call when over
 * its threshold); a Responses upstream with its own compaction gets `context_management` and the
 * trigger as they came. Whether the gateway compacts is decided here once, for the call too.
 */
export async function compactForUpstream(
  request: CreateRequest,
  expanded: InputItem[],
  deps: CompactionDeps,
): Promise<Compacted> {
  const { target } = deps;
  if (target.protocol.name === "responses" && target.gatewayCompaction !== true) {
    if (!asksCompaction(request) || !(await gatewayCompactsFor(target, request.model, deps.options)))
      return { input: expanded, target };
  }
  const decided: UpstreamTarget =
    target.protocol.name === "responses" ? { ...target, gatewayCompaction: true } : target;
  const compacted = { ...(await compactIfNeeded(request, expanded, { ...deps, target: decided })), target: decided };
  if (target.protocol.name !== "chat_completions") return compacted;
  return { ...compacted, sealReasoning: reasoningSeal(request, deps.tenantId, deps.secret) };
}

/** The dependencies of compaction for a request made with `config` to `target`. */
export function compactionDeps(
  config: GatewayConfig,
  call: { tenantId: string; target: UpstreamTarget; requestId: string; signal: AbortSignal; observer?: UpstreamCall },
): CompactionDeps {
  return {
    tenantId: call.tenantId,
    secret: config.compactionSecret,
    target: call.target,
    // A run's summary calls count in its response line (attempts, retries) and their failure lines carry its ids.
    options: callOptions(config, call.signal, call.requestId, call.observer),
    idleTimeoutMs: config.idleTimeoutMs,
  };
}
