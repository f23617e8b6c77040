// Calls an upstream model server: first-byte timeout, retries of failures before the first byte
// (connection errors, 429, 5xx) with backoff that honours `retry-after`, and OpenAI-shaped errors.
// Used by the ResponseRun DO, the store:false path and the input_tokens/compact routes.

import type { GatewayConfig } from "../config";
import { ApiError } from "../errors";
import { jsonBody } from "../json-text";
import { watchCall, type UpstreamCall } from "../observe/upstream-call";
import type { JsonObject } from "../responses/types";
import {
  connectionFailure,
  hostOf,
  isOriginFailure,
  operatorKeyRefused,
  originFailure,
  timedOut,
  unreachable,
  upstreamHttpError,
  withProtocolHint,
  withReasoningPlaceholderHint,
} from "./errors";
import { withAlternatingRoles } from "./chat-completions/alternate-roles";
import { withReasoningPlaceholder } from "./chat-completions/reasoning-placeholder";
import { withReasoningSentAs, type ReasoningSentAs } from "./chat-completions/reasoning-sent-as";
import type { UpstreamProtocol } from "./protocol";
import { withReasoningInput, type ReasoningInput } from "./reasoning-input";
import type { RequestFields } from "./routes";
import { warmUpAnswer } from "./warm-up";

export interface UpstreamTarget {
  baseUrl: string;
  protocol: UpstreamProtocol;
  apiKey: string | null;
  /** The model name this upstream knows the request's model by (a route's rewrite); null keeps it. */
  model?: string | null;
  /** A warm-up (`generate: false`): answered without any call (src/upstream/warm-up.ts). */
  warmUp?: boolean;
  /** The key is the caller's own (pass-through); otherwise it is the operator's (keys mode, a route's secret). */
  callersKey?: boolean;
  /** Top-level fields this server refuses: left out (null) or sent under another name (a route's `request_fields`). */
  requestFields?: RequestFields | null;
  /** Chat: the route's template writes the opening `<think>` into the prompt (`template_opens_think`). */
  templateOpensThink?: boolean;
  /** Chat: how earlier turns' reasoning is sent (a route's `reasoning_sent_as`); `reasoning_content` when unset. */
  reasoningSentAs?: ReasoningSentAs;
  /** Chat: consecutive user or assistant messages go as one (a route's `alternate_roles`). */
  alternateRoles?: boolean;
  /** Chat: `reasoning_content` for tool-calling turns that have none (a route's `reasoning_placeholder`). */
  reasoningPlaceholder?: string | null;
  /** Responses: the server has no `/responses/compact`, the gateway compacts (a route's `compaction: "gateway"`). */
  gatewayCompaction?: boolean;
  /** Responses: which earlier reasoning items go, and how (a route's `reasoning_input`); `keep` when unset. */
  reasoningInput?: ReasoningInput;
}

/** `body` with the route's fields left out or renamed; a renamed one never replaces a field the body has. */
function withRequestFields(body: JsonObject, fields: RequestFields | null | undefined): JsonObject {
  if (fields === null || fields === undefined) return body;
  const sent: JsonObject = { ...body };
  for (const [field, to] of Object.entries(fields)) {
    if (!(field in sent)) continue;
    const value = sent[field];
    delete sent[field];
    if (to !== null && !(to in sent)) sent[to] = value;
  }
  return sent;
}

export interface CallOptions {
  /** Aborts the call and, later, the body (cancel, idle timeout, max duration). */
  signal: AbortSignal;
  firstByteTimeoutMs: number;
  retries: number;
  requestId: string;
  /** Path after the base URL when it is not the protocol's own (`/responses/input_tokens`...). */
  path?: string;
  /** What the caller expects back; an event stream unless told otherwise. */
  accept?: string;
  /** The run's record of the call (attempts, time of the headers), for its response line. */
  observer?: UpstreamCall;
}

/** The configured first-byte timeout and retries of a call made for request `requestId`. */
export function callOptions(
  config: GatewayConfig,
  signal: AbortSignal,
  requestId: string,
  observer?: UpstreamCall,
): CallOptions {
  return {
    signal,
    firstByteTimeoutMs: config.firstByteTimeoutMs,
    retries: config.upstreamRetries,
    requestId,
    observer,
  };
}

/** Longest `retry-after` the gateway waits out itself; longer ones go back to the client. */
const MAX_RETRY_WAIT_MS = 10_000;
/** Upstream error bodies read for the client's error message. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
/** Shorter keys are not looked for in error bodies: replacing them would garble ordinary words. */
const MIN_REDACTED_KEY_LENGTH = 8;

const RETRYABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

export class UpstreamTimeout extends Error {
  constructor(readonly phase: "first_byte" | "idle") {
    super(phase === "first_byte" ? "upstream first-byte timeout" : "upstream idle timeout");
  }
}

/** The upstream's own wait (`retry-after-ms`, else `retry-after` in seconds or as a date), in ms. */
function requestedWait(response: Response | undefined): number | null {
  const ms = response?.headers.get("retry-after-ms") ?? null;
  if (ms !== null && ms.trim() !== "" && Number.isFinite(Number(ms))) return Number(ms);
  const seconds = response?.headers.get("retry-after") ?? null;
  if (seconds === null) return null;
  const wait = Number.isFinite(Number(seconds)) ? Number(seconds) * 1000 : Date.parse(seconds) - Date.now();
  return Number.isNaN(wait) ? null : wait;
}

/** How long to wait before the next attempt; null when the upstream asks for longer than the gateway waits. */
function retryDelay(attempt: number, response: Response | undefined): number | null {
  const wait = requestedWait(response);
  if (wait !== null) return wait > MAX_RETRY_WAIT_MS ? null : Math.max(0, wait);
  return Math.min(200 * 2 ** attempt, 2000) * (0.75 + Math.random() * 0.5);
}

/**
 * Some servers quote the key they refused; the client must never see the gateway's key. Also its forms
 * in a JSON text (`/` may be written `\/`, which parsing turns back), in a URL, masked, elided
 * (`sk-upstr...a6`, `sk-…abcd`), and any run of 8 or more of its characters: a quote that shows more
 * of the key than OpenAI's own (`sk-proj-` and 4 characters, which this takes out too) narrows a
 * guess at it, and the client may not be the key's owner (the operator's key in keys mode).
 */
export function redact(text: string, key: string | null): string {
  if (key === null || key.length < MIN_REDACTED_KEY_LENGTH) return text;
  let out = text;
  for (const form of new Set([
    key,
    JSON.stringify(key).slice(1, -1),
    key.replaceAll("/", "\\/"),
    encodeURIComponent(key),
  ]))
    out = out.replaceAll(form, "[redacted]");
  // A masked quote (OpenAI's `sk-proj-****…abcd`) still shows the key's first and last characters.
  out = out.replace(MASKED_KEY, "[redacted]");
  // An elided one: the key's head and tail around `...`, `…` or fewer stars (either may be missing,
  // not both). One or two characters are no quote: "It's..." is not `s…` of an `sk-` key.
  out = out.replace(ELIDED_QUOTE, (quote, head: string, tail: string) =>
    head.length + tail.length >= MIN_ELIDED_SHOWN && key.startsWith(head) && key.endsWith(tail) ? "[redacted]" : quote,
  );
  return withoutKeyRuns(out, key);
}

/** The fewest characters of a key in a row that are taken out wherever they appear. */
const MIN_KEY_RUN = 8;

/** `text` with each run of at least MIN_KEY_RUN characters that is also in `key` taken out, in time linear in `text`. */
function withoutKeyRuns(text: string, key: string): string {
  const grams = new Set<string>();
  for (let i = 0; i + MIN_KEY_RUN <= key.length; i++) grams.add(key.slice(i, i + MIN_KEY_RUN));
  let out = "";
  let kept = 0;
  let at = 0;
  while (at + MIN_KEY_RUN <= text.length) {
    if (!grams.has(text.slice(at, at + MIN_KEY_RUN))) {
      at++;
      continue;
    }
    // The run goes on while each next window is in the key too (a key is short: this stays cheap).
    let end = at + MIN_KEY_RUN;
    while (end < text.length && grams.has(text.slice(end + 1 - MIN_KEY_RUN, end + 1))) end++;
    out += `${text.slice(kept, at)}[redacted]`;
    kept = at = end;
  }
  return out + text.slice(kept);
}

/**
 * An upstream's error body with the key taken out: read as JSON without needless escapes first, so
 * a key quoted as `\u0073k-…` is found too (parsing the body would turn it back into the key).
 */
export const redactErrorBody = (text: string, key: string | null): string => redact(plainJson(text), key);

/**
 * A word with a run of four or more `*` in it: how servers quote a key they refused. It starts only
 * where a word does: tried from every character of a long word without stars, `[\w-]*` would read to
 * the word's end each time, quadratic time for an error that quotes a long input (60,000 characters
 * took seconds).
 */
const MASKED_KEY = /(?<![\w-])[\w-]*\*{4,}[\w-]*/g;

/** The fewest of a key's characters an elided quote shows (head and tail) to be taken out. */
const MIN_ELIDED_SHOWN = 4;

/** A word cut by `...`, `…` or stars, its head and tail captured; as MASKED_KEY, it starts only where a word does. */
const ELIDED_QUOTE = /(?<![\w-])([\w-]*)(?:\.{2,}|…|\*+)([\w-]*)/g;

/**
 * The field an upstream error's `param` names, as the gateway's body named it before the route's
 * `request_fields` renamed it (Mistral's `max_tokens` was the body's `max_completion_tokens`).
 */
function unrenamed(param: string, fields: RequestFields | null | undefined, sent: object): string {
  for (const [field, renamed] of Object.entries(fields ?? {})) {
    if (renamed === null || !Object.hasOwn(sent, field) || !param.startsWith(renamed)) continue;
    const rest = param.slice(renamed.length);
    if (rest === "" || rest.startsWith(".") || rest.startsWith("[")) return field + rest;
  }
  return param;
}

/** A JSON text written without needless escapes (`\u0073`, `\/`), so a key in it shows as itself; other text as it is. */
function plainJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return text;
  }
}

/**
 * A body as text, read until it ends or passes `maxChars` (then the read is cancelled and `cut`
 * is true, the text holding what came so far): an upstream's error body, or a compaction's summary.
 * With `idleMs`, a body that sends nothing for that long is cancelled too and `cut` is true.
 */
export async function readBoundedText(
  response: Response,
  maxChars: number,
  idleMs?: number,
): Promise<{ text: string; cut: boolean }> {
  if (response.body === null) return { text: "", cut: false };
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const idle =
      idleMs === undefined
        ? null
        : new Promise<"idle">((resolve) => {
            timer = setTimeout(() => resolve("idle"), idleMs);
          });
    const read = await (idle === null ? reader.read() : Promise.race([reader.read(), idle])).finally(() =>
      clearTimeout(timer),
    );
    if (read === "idle") {
      reader.cancel().catch(() => undefined);
      return { text: text + decoder.decode(), cut: true };
    }
    if (read.done) return { text: text + decoder.decode(), cut: false };
    text += decoder.decode(read.value, { stream: true });
    if (text.length > maxChars) {
      await reader.cancel();
      return { text, cut: true };
    }
  }
}

/** Longest wait for an error body's next bytes: they come with the status, so a pause means a stalled server. */
const ERROR_BODY_IDLE_MS = 10_000;

/** An upstream's error body, bounded in size and in waiting (the call's first-byte timeout, at most 10 s). */
export async function readErrorBody(response: Response, idleMs = ERROR_BODY_IDLE_MS): Promise<string> {
  return (await readBoundedText(response, MAX_ERROR_BODY_BYTES, Math.min(idleMs, ERROR_BODY_IDLE_MS))).text;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

/**
 * A create's body without `context_management` for a Responses server the gateway compacts for
 * (decided once per create, compactForUpstream): the gateway did it, and a server that compacted
 * again would add its own item.
 */
function withoutGatewayCompaction(target: UpstreamTarget, body: JsonObject): JsonObject {
  if (target.protocol.name !== "responses" || !("context_management" in body)) return body;
  if (target.gatewayCompaction !== true) return body;
  const { context_management: _done, ...rest } = body;
  return rest;
}

/** POSTs `body`; resolves with a 2xx response whose body is unread, or throws an `ApiError`. */
export async function callUpstream(target: UpstreamTarget, body: JsonObject, options: CallOptions): Promise<Response> {
  if (target.warmUp) return warmUpAnswer();
  const url = `${target.baseUrl}${options.path ?? target.protocol.path}`;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: options.accept ?? "text/event-stream",
    "x-client-request-id": options.requestId,
  };
  if (target.apiKey !== null) headers.authorization = `Bearer ${target.apiKey}`;
  // The placeholder goes last: on the messages as sent, after any merge of consecutive ones.
  const sent = withReasoningPlaceholder(
    withAlternatingRoles(
      withReasoningSentAs(
        withReasoningInput(withoutGatewayCompaction(target, body), target.reasoningInput ?? "keep"),
        target.reasoningSentAs ?? "reasoning_content",
      ),
      target.alternateRoles === true,
    ),
    target.reasoningPlaceholder ?? null,
  );
  // Made as it is sent: held as one string (and the runtime's copy of it) until the model answered.
  const payload = jsonBody(
    withRequestFields(target.model ? { ...sent, model: target.model } : sent, target.requestFields),
  );
  const host = hostOf(target.baseUrl);
  const httpError = async (response: Response): Promise<ApiError> => {
    const text = redactErrorBody(await readErrorBody(response, options.firstByteTimeoutMs), target.apiKey);
    const origin = originFailure(response.status, text);
    if (origin !== null) return unreachable(host, origin);
    let error = upstreamHttpError(response.status, text, response.headers);
    const chatParam = error.param === null ? null : unrenamed(error.param, target.requestFields, sent);
    const param = chatParam === null ? null : (target.protocol.errorParam?.(chatParam) ?? chatParam);
    if (param !== error.param) error = error.with({ param });
    if ((error.status === 401 || error.status === 403) && target.callersKey !== true)
      return operatorKeyRefused(host, error);
    if (target.protocol.name === "chat_completions" && (target.reasoningPlaceholder ?? null) === null)
      error = withReasoningPlaceholderHint(error);
    return withProtocolHint(error, host, target.protocol.name, options.path);
  };
  const watch = watchCall(target.baseUrl, options);
  for (let attempt = 0; ; attempt++) {
    watch.attempt();
    const firstByte = new AbortController();
    const timer = setTimeout(() => firstByte.abort(new UpstreamTimeout("first_byte")), options.firstByteTimeoutMs);
    let response: Response | undefined;
    try {
      response = await fetch(url, {
        method: "POST",
        headers,
        body: payload(),
        signal: AbortSignal.any([options.signal, firstByte.signal]),
      });
    } catch (error) {
      if (options.signal.aborted) throw error;
      watch.failed(attempt, firstByte.signal.aborted ? "first_byte_timeout" : error);
      if (firstByte.signal.aborted) throw timedOut(host, options.firstByteTimeoutMs);
      if (attempt >= options.retries) throw unreachable(host, connectionFailure(error, target.baseUrl));
    } finally {
      clearTimeout(timer);
    }
    if (response?.ok) return watch.answered(response);
    if (response !== undefined) watch.failed(attempt, response.status);
    // An upstream that says `x-should-retry: false` (as OpenAI does for some errors) is not asked again.
    const refusesRetry = response?.headers.get("x-should-retry") === "false";
    const retryable =
      response === undefined ||
      (!refusesRetry && (RETRYABLE_STATUSES.has(response.status) || isOriginFailure(response.status)));
    if (response !== undefined && (!retryable || attempt >= options.retries)) throw await httpError(response);
    const wait = retryDelay(attempt, response);
    if (response !== undefined) {
      if (wait === null) throw await httpError(response);
      await response.body?.cancel();
    }
    await sleep(wait ?? 0, options.signal);
    if (options.signal.aborted) throw new DOMException("aborted", "AbortError");
  }
}
