// Which Responses upstreams lack OpenAI's `/responses/compact` (vLLM answers 405, Ollama and
// llama.cpp 404, LM Studio a 200 saying "Unexpected endpoint or method"): the gateway compacts for
// them itself, as for a Chat Completions upstream. A route may say so up front (`"compaction":
// "gateway"`); otherwise the first such answer is remembered for the isolate, per server and model
// (a proxy may serve compaction for some models only), so later compactions (and create-time
// `context_management`) skip the call that would fail. A create that asks for compaction before
// the isolate knows has the endpoint asked first: vLLM and Ollama ignore `context_management`, so
// its answer could not tell. Used by the compact route and create-time compaction.

import { ApiError } from "../errors";
import { urlHost } from "../url-host";
import { callUpstream, type CallOptions, type UpstreamTarget } from "./client";

/** How long a missing endpoint is believed: a server may be upgraded, and an isolate can live for hours. */
const REMEMBERED_MS = 60 * 60 * 1000;
/**
 * How long an answer that told nothing (a server down, a 429) holds off asking again:
 * every compacting create would otherwise wait for the same question while the server is down.
 */
const INCONCLUSIVE_MS = 60 * 1000;
/** Servers and models remembered at most: the oldest is forgotten first. */
const MAX_REMEMBERED = 512;
/**
 * Hosts known to serve `/responses/compact`, never asked first: OpenAI's own, the default upstream,
 * where the question would add a call (and its wait) to the first compacting create of every isolate.
 */
const SERVES_COMPACTION: ReadonlySet<string> = new Set(["api.openai.com"]);

/**
 * Server and model -> whether it lacks `/responses/compact` (null: asked, and the answer told nothing),
 * and when that was seen (ms). Isolate state, not request state.
 */
const seen = new Map<string, { lacks: boolean | null; at: number }>();
/** Questions in flight, per server and model: creates that come meanwhile wait for the same answer. */
const asking = new Map<string, Promise<boolean | undefined>>();

/** The model name the server knows (a route's rewrite, else the request's), on its base URL. */
const keyOf = (target: UpstreamTarget, model: string): string => `${target.baseUrl} ${target.model ?? model}`;

function remember(target: UpstreamTarget, model: string, lacks: boolean | null): void {
  const key = keyOf(target, model);
  seen.delete(key);
  if (seen.size >= MAX_REMEMBERED) seen.delete(seen.keys().next().value as string);
  seen.set(key, { lacks, at: Date.now() });
}

/** Remembers that the server of `target` has no `/responses/compact` for `model`. */
export const rememberNoCompactEndpoint = (target: UpstreamTarget, model: string): void => remember(target, model, true);

/**
 * Whether the server of `target` was seen lacking `/responses/compact` for `model` (true), having it
 * (false), asked lately without an answer that told (null), or none of these.
 */
function known(target: UpstreamTarget, model: string): boolean | null | undefined {
  const key = keyOf(target, model);
  const entry = seen.get(key);
  if (entry === undefined) return undefined;
  if (Date.now() - entry.at < (entry.lacks === null ? INCONCLUSIVE_MS : REMEMBERED_MS)) return entry.lacks;
  seen.delete(key);
  return undefined;
}

/**
 * Whether the gateway compacts for `target` itself (summary call, sealed `gwc1.` item): a Chat
 * Completions upstream, a Responses route that says so, or a Responses server seen without the endpoint.
 */
export const gatewayCompacts = (target: UpstreamTarget, model: string): boolean =>
  target.protocol.name === "chat_completions" || target.gatewayCompaction === true || known(target, model) === true;

/**
 * `gatewayCompacts` for a create that asks for compaction (`context_management` or a
 * `compaction_trigger`): a Responses server not known either way is asked for `/responses/compact`
 * first, with an empty input (a server that has it answers at once, or refuses it), and its answer
 * remembered. Only a refusal that says the endpoint is missing makes the gateway compact; a server
 * that cannot be asked (down, the key refused) gets the create as it came, and is asked again after
 * INCONCLUSIVE_MS. Creates that come while the question is out wait for its answer: one question an
 * isolate, not one a create.
 */
export async function gatewayCompactsFor(
  target: UpstreamTarget,
  model: string,
  options: CallOptions,
): Promise<boolean> {
  if (gatewayCompacts(target, model)) return true;
  if (known(target, model) !== undefined || SERVES_COMPACTION.has(urlHost(target.baseUrl) ?? "")) return false;
  const key = keyOf(target, model);
  const pending = asking.get(key);
  // Another create's question: that caller going away (its abort) tells this one nothing.
  if (pending !== undefined) return (await pending.catch(() => undefined)) === true;
  const question = ask(target, model, options);
  asking.set(key, question);
  return (await question) === true;
}

/**
 * Asks, and remembers the answer (null for one that told nothing, not an abort). A refusal of the
 * caller's key is not remembered: in pass-through mode the next caller's key may be taken, and one
 * wrong key must not turn the question off for every tenant on that server.
 */
async function ask(target: UpstreamTarget, model: string, options: CallOptions): Promise<boolean | undefined> {
  try {
    const told = await lacksCompactEndpoint(target, model, options);
    if (told === KEY_REFUSED) return undefined;
    remember(target, model, told ?? null);
    return told;
  } finally {
    asking.delete(keyOf(target, model));
  }
}

/** The question's answer was a refusal of the key it was asked with (401, 403): nothing of the server. */
const KEY_REFUSED = "key_refused";

async function lacksCompactEndpoint(
  target: UpstreamTarget,
  model: string,
  options: CallOptions,
): Promise<boolean | undefined | typeof KEY_REFUSED> {
  const asked = { ...options, path: "/responses/compact", accept: "application/json", retries: 0, observer: undefined };
  try {
    const answer = await callUpstream(target, { model, input: [] }, asked);
    const text = await answer.text();
    try {
      return isMissingEndpointBody(JSON.parse(text));
    } catch {
      // Not JSON (a proxy's web page): nothing is learnt.
      return undefined;
    }
  } catch (error) {
    if (options.signal.aborted) throw error;
    if (!(error instanceof ApiError)) return undefined;
    if (isMissingEndpoint(error)) return true;
    if (error.status === 401 || error.status === 403) return KEY_REFUSED;
    // The endpoint answered the request itself (400 for the empty input, 422 from a FastAPI server);
    // a key refused or a server down says nothing of it.
    return error.status === 400 || error.status === 422 ? false : undefined;
  }
}

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
