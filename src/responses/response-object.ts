// Builds the Response objects the gateway owns: the initial snapshot from a request (every field
// OpenAI serializes, nulls included) and the echo of request fields over upstream snapshots.

import type { CreateRequest } from "./create-request";
import type { JsonObject, ResponseObject, ResponseStatus } from "./types";

export interface ResponseIdentity {
  id: string;
  createdAt: number;
}

const or = <T>(value: unknown, fallback: T): T => (value === undefined || value === null ? fallback : (value as T));

/** The Response as OpenAI would serialize it before any output exists. */
export function newResponseObject(
  request: CreateRequest,
  identity: ResponseIdentity,
  status: ResponseStatus,
): ResponseObject {
  const body = request.body;
  const text = typeof body.text === "object" && body.text !== null ? (body.text as JsonObject) : {};
  return {
    id: identity.id,
    object: "response",
    created_at: identity.createdAt,
    status,
    background: request.background,
    completed_at: null,
    error: null,
    incomplete_details: null,
    instructions: request.instructions,
    max_output_tokens: or(body.max_output_tokens, null),
    max_tool_calls: or(body.max_tool_calls, null),
    model: request.model,
    output: [],
    parallel_tool_calls: or(body.parallel_tool_calls, true),
    previous_response_id: request.previousResponseId,
    prompt: or(body.prompt, null),
    prompt_cache_key: or(body.prompt_cache_key, null),
    prompt_cache_retention: or(body.prompt_cache_retention, null),
    reasoning: or(body.reasoning, { effort: null, summary: null }),
    safety_identifier: or(body.safety_identifier, null),
    service_tier: or(body.service_tier, "auto"),
    store: request.store,
    temperature: or(body.temperature, 1),
    text: { format: { type: "text" }, verbosity: "medium", ...text },
    tool_choice: or(body.tool_choice, "auto"),
    tools: or(body.tools, []),
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
