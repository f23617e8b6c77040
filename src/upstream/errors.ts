// Maps what an upstream answered instead of a stream (a 4xx/5xx body in whatever shape the server
// uses) to OpenAI's error envelope with the upstream's status, and says why an upstream could not
// be reached at all, naming its host. Used by the upstream client for every protocol.

import { ApiError } from "../errors";
import { isPlainObject } from "../responses/validation";
import { urlHost } from "../url-host";
import type { ProtocolName } from "./protocol";

const str = (value: unknown): string | null => (typeof value === "string" ? value : null);

/**
 * A message that is not a string: FastAPI/pydantic validation errors, as a `detail` list (FastAPI's
 * own 422, SGLang) or nested in `message` (Mistral: `{"message":{"detail":[{"loc":["body",
 * "stream_options"],"msg":"Extra inputs are not permitted",...}]}}`), read as `body.stream_options:
 * Extra inputs are not permitted`, so the client learns which field the server refused.
 */
function messageOf(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (isPlainObject(value)) return messageOf(value.detail) ?? str(value.msg) ?? str(value.message);
  if (!Array.isArray(value)) return null;
  const lines = value.flatMap((entry) => {
    if (!isPlainObject(entry)) return typeof entry === "string" ? [entry] : [];
    const msg = str(entry.msg) ?? str(entry.message);
    if (msg === null) return [];
    const loc = Array.isArray(entry.loc) ? entry.loc.filter((part) => typeof part !== "object").join(".") : "";
    return [loc === "" ? msg : `${loc}: ${msg}`];
  });
  return lines.length === 0 ? null : lines.join("; ");
}

/**
 * How servers say a prompt does not fit the model's context: vLLM, DeepSeek, Mistral and OpenAI's chat
 * API ("maximum context length"), llama.cpp ("exceeds the available context size", its type
 * `exceed_context_size_error`), SGLang ("longer than the model's context length"), Ollama ("the input
 * length exceeds the context length").
 */
const CONTEXT_OVERFLOW =
  /maximum context length|exceeds the available context size|longer than the model's context length|input length exceeds the context length/i;

export const CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded";

/**
 * A context overflow in OpenAI's words: code `context_length_exceeded` on `input`, as OpenAI answers
 * it. Clients act on that code (Codex CLI stops and compacts on it, where it retries any other
 * failure of a stream as if it could pass next time), not on each server's wording.
 */
export function isContextOverflow(fields: { message?: unknown; type?: unknown; code?: unknown }): boolean {
  return (
    fields.code === CONTEXT_LENGTH_EXCEEDED ||
    fields.type === "exceed_context_size_error" ||
    (typeof fields.message === "string" && CONTEXT_OVERFLOW.test(fields.message))
  );
}

/** The message of an upstream error whose body says nothing. */
const fallbackMessage = (status: number): string => `The upstream model server answered with HTTP ${status}.`;

/** Longest upstream error message passed to a client; bodies can be whole HTML pages. */
const MAX_MESSAGE_LENGTH = 2000;

export function upstreamHttpError(status: number, bodyText: string, headers?: Headers): ApiError {
  let message: string | null = null;
  let type: string | null = null;
  let param: string | null = null;
  let code: string | null = null;
  try {
    const parsed: unknown = JSON.parse(bodyText);
    if (isPlainObject(parsed)) {
      const error = parsed.error;
      if (isPlainObject(error)) {
        message = messageOf(error.message);
        type = str(error.type);
        param = str(error.param);
        code = typeof error.code === "number" ? String(error.code) : str(error.code);
      } else if (typeof error === "string") {
        message = error;
      } else {
        message = messageOf(parsed.message) ?? messageOf(parsed.detail);
      }
    }
  } catch {
    message = bodyText.trim() === "" ? null : bodyText.trim();
  }
  message ??= fallbackMessage(status);
  // A chat server's `param` is a chat field (`messages`), which a Responses client does not send.
  if (status >= 400 && status < 500 && isContextOverflow({ message, type, code }))
    [type, param, code] = ["invalid_request_error", "input", CONTEXT_LENGTH_EXCEEDED];
  if (message.length > MAX_MESSAGE_LENGTH) message = `${message.slice(0, MAX_MESSAGE_LENGTH)}…`;
  const extra: Record<string, string> = {};
  // The client's SDK waits as the upstream asked (openai-node honours both headers), and does not
  // retry what the upstream said not to (`x-should-retry: false`): the gateway already did its retries.
  for (const name of ["retry-after", "retry-after-ms", "x-should-retry"]) {
    const value = headers?.get(name);
    if (value) extra[name] = value;
  }
  return new ApiError(status, message, {
    type: type ?? (status >= 500 ? "server_error" : status === 429 ? "rate_limit_error" : "invalid_request_error"),
    param,
    code,
    headers: extra,
    fromUpstream: true,
  });
}

/**
 * The upstream refused the key the gateway sent it, which is the operator's (`UPSTREAM_API_KEY` or a
 * route's secret), not the caller's: a 502 the caller cannot fix by changing its key, never a 401
 * its SDK (or a WebSocket session, which closes on a refused key) would take for its own.
 */
export const operatorKeyRefused = (host: string, refusal: ApiError): ApiError =>
  new ApiError(
    502,
    `The upstream model server at ${host} refused the gateway's key for it (HTTP ${refusal.status}: ${refusal.message}). Your API key is not at fault: the gateway's operator must fix UPSTREAM_API_KEY or the route's api_key_secret.`,
    { type: "server_error", code: "upstream_key_refused", headers: { "x-should-retry": "false" } },
  );

// ---- an upstream that could not be reached ----

export const unreachable = (host: string, reason: string): ApiError =>
  new ApiError(502, `The upstream model server at ${host} could not be reached: ${reason}.`, {
    type: "server_error",
    code: "upstream_unreachable",
  });

export const timedOut = (host: string, ms: number): ApiError =>
  new ApiError(
    504,
    `The upstream model server at ${host} did not answer within ${Math.round(ms / 1000)} seconds (UPSTREAM_FIRST_BYTE_TIMEOUT_MS).`,
    { type: "server_error", code: "upstream_timeout" },
  );

/** `host[:port]` of a base URL: what an error may name (never its path, which may carry a deployment name). */
export const hostOf = (baseUrl: string): string => urlHost(baseUrl) ?? "(unparsable URL)";

/** An IPv4 or bracketed IPv6 literal: no name to resolve. */
const IP_LITERAL = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/i;

/**
 * Why a fetch that threw could not connect, from what workerd says (checked against `wrangler dev`):
 * a closed port is "Network connection lost."; a name that does not resolve and a failed TLS
 * handshake are both an opaque "internal error; reference = …" (workerd logs the real reason next
 * to it), narrowed here by what the URL rules out: no DNS for an IP, no TLS for http.
 */
export function connectionFailure(error: unknown, baseUrl: string): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/^Network connection lost/i.test(message))
    return "the connection was refused or cut (is the server running, and listening on that port?)";
  if (!/^internal error/i.test(message)) return "the connection failed";
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return "the connection failed";
  }
  const named = !IP_LITERAL.test(url.hostname);
  if (url.protocol === "http:")
    return named ? "its name does not resolve (DNS), or the network is down" : "the network is down";
  return named
    ? "its name does not resolve (DNS), or the TLS handshake failed (does it serve https?)"
    : "the TLS handshake failed (does it serve https?)";
}

/**
 * Cloudflare's own statuses for a subrequest whose origin failed (a deployed Worker's fetch answers
 * these instead of throwing), by what failed. Retried like a connection error.
 */
const ORIGIN_FAILURES: ReadonlyMap<number, string> = new Map([
  [520, "it answered with an empty or unknown response (Cloudflare 520)"],
  [521, "it refused the connection (Cloudflare 521)"],
  [522, "the connection timed out (Cloudflare 522)"],
  [523, "there is no route to it (Cloudflare 523)"],
  [524, "it accepted the connection but did not answer in time (Cloudflare 524)"],
  [525, "the TLS handshake failed (Cloudflare 525)"],
  [526, "its TLS certificate is not valid (Cloudflare 526)"],
  [530, "it could not be reached (Cloudflare 530)"],
]);

export const isOriginFailure = (status: number): boolean => ORIGIN_FAILURES.has(status);

/** What a Cloudflare origin-failure answer means; error 1016 in a 530 is a name that does not resolve. */
export function originFailure(status: number, bodyText: string): string | null {
  if (status === 530 && /\b1016\b/.test(bodyText)) return "its name does not resolve (DNS; Cloudflare error 1016)";
  return ORIGIN_FAILURES.get(status) ?? null;
}

/**
 * What a 404 to one of OpenAI's utility endpoints means: the server answers `/responses` (creates
 * work) but not this one, as servers that implement only the create do. (Without
 * `/responses/compact` the gateway compacts itself: src/upstream/compact-support.ts.)
 */
const UTILITY_HINTS: ReadonlyMap<string, (host: string) => string> = new Map([
  [
    "/responses/input_tokens",
    (host: string) =>
      `(The upstream at ${host} has no /responses/input_tokens endpoint: it serves the Responses API without OpenAI's ` +
      `token counting. Over UPSTREAM_PROTOCOL=chat_completions (or "protocol": "chat_completions" in its UPSTREAM_ROUTES entry) the gateway answers an estimate.)`,
  ],
]);

/**
 * A 404 (405 from vLLM, for a utility path) for the protocol's own path, or a utility's, from a server that has no such route (Ollama answers
 * `404 page not found`, llama.cpp `{"error":{"code":404,...}}`), not a 404 about a model
 * (OpenAI's `model_not_found`) or naming a param (OpenAI's `Item with id '…' not found` for `input`):
 * for `/responses` the likely fix is the protocol; for `/chat/completions`, which every chat server
 * has, the base URL (Ollama's without its `/v1`).
 */
export function withProtocolHint(error: ApiError, host: string, protocol: ProtocolName, path?: string): ApiError {
  // vLLM answers a utility path with 405: it has `GET /responses/{id}`, which the path matches.
  const missingStatus = error.status === 404 || (path !== undefined && error.status === 405);
  const routeMissing = error.param === null && (error.code === null || error.code === String(error.status));
  // A 404 with no message of its own (an empty body, `{}`) reads as the fallback, which says "model server".
  const aboutModel = error.message !== fallbackMessage(error.status) && /model/i.test(error.message);
  if (!missingStatus || !routeMissing || aboutModel) return error;
  if (path !== undefined) {
    const utility = UTILITY_HINTS.get(path);
    return utility === undefined ? error : error.with({ message: `${error.message} ${utility(host)}` });
  }
  const hint =
    protocol === "responses"
      ? `(The upstream at ${host} has no /responses endpoint. If it serves only Chat Completions, as Ollama and ` +
        `llama.cpp do, set UPSTREAM_PROTOCOL=chat_completions, or "protocol": "chat_completions" in its UPSTREAM_ROUTES entry.)`
      : `(The upstream at ${host} has no /chat/completions endpoint at its base URL. Check UPSTREAM_BASE_URL, or ` +
        `the "base_url" of its UPSTREAM_ROUTES entry: it is the API's root, as Ollama's http://127.0.0.1:11434/v1.)`;
  return error.with({ message: `${error.message} ${hint}` });
}

/**
 * A thinking chat server's refusal of an assistant tool-call message without `reasoning_content`
 * (DeepSeek: "Missing `reasoning_content` field…", "…must be passed back"; Kimi: "…reasoning_content
 * is missing in assistant tool call message"): a call made by a model that gave no reasoning. The
 * fix is the operator's, so the message names the route option (docs/upstreams.md).
 */
export function withReasoningPlaceholderHint(error: ApiError): ApiError {
  const refusedForReasoning =
    error.status === 400 && /reasoning_content/i.test(error.message) && /missing|passed back/i.test(error.message);
  if (!refusedForReasoning) return error;
  const hint =
    "(The model server wants reasoning on an assistant tool call that has none, as one made by another model. " +
    'Set "reasoning_placeholder" in this model\'s UPSTREAM_ROUTES entry to send a stand-in.)';
  return error.with({ message: `${error.message} ${hint}` });
}
