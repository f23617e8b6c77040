// Which Responses upstreams lack OpenAI's `/responses/compact` (vLLM answers 405, Ollama and
// llama.cpp 404, LM Studio a 200 saying "Unexpected endpoint or method"): the gateway compacts for
// them itself, as for a Chat Completions upstream. A route may say so up front (`"compaction":
// "gateway"`); otherwise the first such answer is remembered for the isolate, per server and model
// (a proxy may serve compaction for some models only), so later compactions (and create-time
// `context_management`) skip the call that would fail. Used by the compact route,
// create-time compaction and the upstream client.

import type { ApiError } from "../errors";
import type { UpstreamTarget } from "./client";

/** How long a missing endpoint is believed: a server may be upgraded, and an isolate can live for hours. */
const REMEMBERED_MS = 60 * 60 * 1000;
/** Servers and models remembered at most: the oldest is forgotten first. */
const MAX_REMEMBERED = 512;

/** Server and model -> when its missing `/responses/compact` was seen (ms). Isolate state, not request state. */
const lacking = new Map<string, number>();

/** The model name the server knows (a route's rewrite, else the request's), on its base URL. */
const keyOf = (target: UpstreamTarget, model: string): string => `${target.baseUrl} ${target.model ?? model}`;

/** Remembers that the server of `target` has no `/responses/compact` for `model`. */
export function rememberNoCompactEndpoint(target: UpstreamTarget, model: string): void {
  const key = keyOf(target, model);
  lacking.delete(key);
  if (lacking.size >= MAX_REMEMBERED) lacking.delete(lacking.keys().next().value as string);
  lacking.set(key, Date.now());
}

function knownToLack(target: UpstreamTarget, model: string): boolean {
  const key = keyOf(target, model);
  const seen = lacking.get(key);
  if (seen === undefined) return false;
  if (Date.now() - seen < REMEMBERED_MS) return true;
  lacking.delete(key);
  return false;
}

/**
 * Whether the gateway compacts for `target` itself (summary call, sealed `gwc1.` item): a Chat
 * Completions upstream, a Responses route that says so, or a Responses server seen without the endpoint.
 */
export const gatewayCompacts = (target: UpstreamTarget, model: string): boolean =>
  target.protocol.name === "chat_completions" || target.gatewayCompaction === true || knownToLack(target, model);

/**
 * An upstream's refusal of `/responses/compact` that says the endpoint is not there: 404 (Ollama's
 * `404 page not found`, llama.cpp's `File Not Found`), 405 (vLLM, which has `GET /responses/{id}`)
 * or 501, with no `param` or code of its own and not about a model (OpenAI's `model_not_found` is a 404 too).
 */
export function isMissingEndpoint(error: ApiError): boolean {
  if (error.status !== 404 && error.status !== 405 && error.status !== 501) return false;
  // A code of its own (OpenAI's `model_not_found`) says what is missing; llama.cpp's is the status.
  if (error.param !== null || (error.code !== null && error.code !== String(error.status))) return false;
  // The gateway's own message for an empty body says "model server": that is not about a model.
  return !/\bmodel\b/i.test(error.message.replaceAll("model server", ""));
}

/** LM Studio answers an endpoint it does not have with 200 and `{"error":"Unexpected endpoint or method. (POST …)"}`. */
export function isMissingEndpointBody(body: unknown): boolean {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return false;
  const error = (body as { error?: unknown }).error;
  const message =
    typeof error === "string"
      ? error
      : typeof error === "object" && error !== null
        ? (error as { message?: unknown }).message
        : undefined;
  return typeof message === "string" && /unexpected endpoint or method/i.test(message);
}
