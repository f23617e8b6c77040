// Builds the Response objects the gateway owns: the initial snapshot from a request (every field
// OpenAI serializes, nulls and defaults included, tools echoed as OpenAI echoes them), the echo of
// request fields over upstream snapshots, and the filling of what an upstream's snapshot left out.

import type { CreateRequest } from "./create-request";
import { echoTools } from "./tool-echo";
import type { JsonObject, ResponseObject, ResponseStatus } from "./types";

export interface ResponseIdentity {
  id: string;
  createdAt: number;
}

const or = <T>(value: unknown, fallback: T): T => (value === undefined || value === null ? fallback : (value as T));

const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** What OpenAI reports for a response that used no hosted tool (`tool_usage`). */
const NO_TOOL_USAGE = {
  image_gen: {
    input_tokens: 0,
    input_tokens_details: { image_tokens: 0, text_tokens: 0 },
    output_tokens: 0,
    total_tokens: 0,
  },
  web_search: { num_requests: 0 },
};

function withoutNullFormat(text: JsonObject): JsonObject {
  if (text.format !== null) return text;
  const { format: _format, ...rest } = text;
  return rest;
}

/** The Response as OpenAI would serialize it before any output exists. */
export function newResponseObject(
  request: CreateRequest,
  identity: ResponseIdentity,
  status: ResponseStatus,
): ResponseObject {
  const body = request.body;
  // `text.format: null` asks for the default, as leaving it out does: the Response always has a format.
  const text = isObject(body.text) ? withoutNullFormat(body.text) : {};
  const reasoning = isObject(body.reasoning) ? body.reasoning : {};
  return {
    id: identity.id,
    object: "response",
    created_at: identity.createdAt,
    status,
    access_programs: or(body.access_programs, null),
    background: request.background,
    completed_at: null,
    error: null,
    frequency_penalty: or(body.frequency_penalty, 0),
    incomplete_details: null,
    instructions: request.instructions,
    max_output_tokens: or(body.max_output_tokens, null),
    max_tool_calls: or(body.max_tool_calls, null),
    model: request.model,
    moderation: null,
    output: [],
    parallel_tool_calls: or(body.parallel_tool_calls, true),
    presence_penalty: or(body.presence_penalty, 0),
    previous_response_id: request.previousResponseId,
    prompt: or(body.prompt, null),
    prompt_cache_key: or(body.prompt_cache_key, null),
    prompt_cache_retention: or(body.prompt_cache_retention, null),
    reasoning: { context: null, effort: null, summary: null, ...reasoning },
    safety_identifier: or(body.safety_identifier, null),
    service_tier: or(body.service_tier, "auto"),
    store: request.store,
    temperature: or(body.temperature, 1),
    text: { format: { type: "text" }, verbosity: "medium", ...text },
    tool_choice: or(body.tool_choice, "auto"),
    tool_usage: structuredClone(NO_TOOL_USAGE),
    tools: echoTools(body.tools),
    top_logprobs: or(body.top_logprobs, 0),
    top_p: or(body.top_p, 1),
    truncation: or(body.truncation, "disabled"),
    usage: null,
    user: or(body.user, null),
    metadata: request.metadata,
    conversation: request.conversationId === null ? null : { id: request.conversationId },
  };
}

/** The fields the gateway owns on every snapshot, whatever the upstream echoed. */
export interface ResponseEcho {
  id: string;
  created_at: number;
  background: boolean;
  store: boolean;
  previous_response_id: string | null;
  conversation: { id: string } | null;
  metadata: Record<string, string>;
  instructions: string | null;
}

export function echoOf(request: CreateRequest, identity: ResponseIdentity): ResponseEcho {
  return {
    id: identity.id,
    created_at: identity.createdAt,
    background: request.background,
    store: request.store,
    previous_response_id: request.previousResponseId,
    conversation: request.conversationId === null ? null : { id: request.conversationId },
    metadata: request.metadata,
    instructions: request.instructions,
  };
}

/** Overwrites the gateway-owned fields of an upstream snapshot, in place. */
export function applyEcho(response: JsonObject, echo: ResponseEcho): void {
  Object.assign(response, echo);
}

const count = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 0);

/** `usage` with every detail OpenAI sends (older servers and chat translations omit some). */
function completeUsage(usage: JsonObject): void {
  const input = isObject(usage.input_tokens_details) ? usage.input_tokens_details : {};
  const output = isObject(usage.output_tokens_details) ? usage.output_tokens_details : {};
  const inputTokens = count(usage.input_tokens);
  const outputTokens = count(usage.output_tokens);
  usage.input_tokens = inputTokens;
  usage.output_tokens = outputTokens;
  usage.input_tokens_details = {
    ...input,
    cached_tokens: count(input.cached_tokens),
    cache_write_tokens: count(input.cache_write_tokens),
  };
  usage.output_tokens_details = { ...output, reasoning_tokens: count(output.reasoning_tokens) };
  if (typeof usage.total_tokens !== "number") usage.total_tokens = inputTokens + outputTokens;
}

/**
 * Fills, in place, what a snapshot must carry whatever the upstream sent: every top-level field of
 * `initial` the snapshot lacks, the usage details, the tools as OpenAI echoes them, and
 * `completed_at`, which a completed response always has and any other status never has. It is the
 * gateway's clock, as `created_at` is: an upstream's own (its clock, its start) could come before it.
 */
export function completeSnapshot(snapshot: JsonObject, initial: ResponseObject, nowSeconds: number): void {
  // Only objects are copied (the snapshot owns what it holds), and by their keys: structuredClone of a
  // null or a number, and Object.entries, were most of this function's CPU, three times a response.
  for (const field of Object.keys(initial)) {
    if (field in snapshot) continue;
    const value = initial[field];
    snapshot[field] = typeof value === "object" && value !== null ? structuredClone(value) : value;
  }
  if (isObject(snapshot.usage)) completeUsage(snapshot.usage);
  if (Array.isArray(snapshot.tools)) snapshot.tools = echoTools(snapshot.tools);
  if (snapshot.status === "completed") {
    snapshot.completed_at = Math.max(nowSeconds, typeof snapshot.created_at === "number" ? snapshot.created_at : 0);
  } else {
    snapshot.completed_at = null;
  }
}
