// One `response.create` on its lane: continues from the socket's cache where the create path
// cannot (a `store: false` parent), runs the turn, forwards its events (with `stream_id` on a named
// lane) until the one that ends the request, and records the lane's new latest response. Used by
// the socket session, one call per create, never two at once on a lane.

import { ApiError, invalidRequest } from "../errors";
import { checkOneContext, INPUT_MAX_ITEMS, validateConversation, validateInput } from "../responses/create-request";
import type { InputItem, JsonObject } from "../responses/types";
import { TERMINAL_EVENTS } from "../responses/types";
import { ENCRYPTED_REASONING } from "../responses/validation";
import type { CachedResponse, ContinuationCache } from "./continuation-cache";
import type { Turn, TurnEvent, TurnRequest } from "./run-turn";
import { apiErrorEvent, errorEvent, withStreamId, type SocketError } from "./server-events";

export interface CreateContext {
  cache: ContinuationCache;
  /** Sends one text frame (ignored once the socket is closed). */
  send(json: string): void;
  /** Whether the client is still connected. */
  isOpen(): boolean;
  /** Starts a turn the session aborts if the client goes away, until `endTurn`. */
  startTurn(request: TurnRequest): Turn;
  endTurn(turn: Turn): void;
  /** A stored response's status (for a stream that stopped without a terminal event). */
  statusOf(id: string): Promise<string | null>;
  /**
   * The create path refused the connection's key (401) for a request, which has had its error: those
   * waiting get one too, those running end as they would, then the session closes with 1008.
   */
  keyRefused(): void;
  /** The create path's body limit (`MAX_REQUEST_BYTES`), which a cache-expanded input must fit. */
  maxRequestBytes(): number;
}

export interface CreateEvent {
  lane: string;
  body: JsonObject;
  generate: boolean;
}

/** Events whose `response` carries the echo a cache-expanded continuation restores. */
const ECHO_EVENTS = new Set(["response.created", "response.in_progress", ...TERMINAL_EVENTS]);

type Outcome = { kind: "response"; id: string; output: InputItem[] } | { kind: "error"; status: number };

export async function runCreate(context: CreateContext, create: CreateEvent): Promise<void> {
  const { lane } = create;
  let prepared: Prepared;
  try {
    prepared = prepare(context.cache, create.body, context.maxRequestBytes());
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    context.send(apiErrorEvent(error, lane));
    return;
  }
  const turn = context.startTurn({ body: prepared.body, warmUp: !create.generate });
  let outcome: Outcome | null;
  let running: string | null = null;
  const track = {
    created: (id: string) => {
      running = id;
      context.cache.running(id, lane, prepared.stored);
    },
    // Remembered before its terminal event goes out: a continuation the client sends on seeing it finds it.
    ended: (id: string, output: InputItem[]) => {
      context.cache.remember(entryFor(prepared, lane, id, output));
      context.cache.ended(id);
    },
  };
  try {
    outcome = await forward(context, turn, lane, prepared.echoPrevious, prepared.stored, track);
  } finally {
    if (running !== null) context.cache.ended(running);
    context.endTurn(turn);
  }
  const parent = prepared.parent;
  if (outcome?.kind === "error") {
    // A failed continuation on its parent's own lane takes the parent with it; a fork from another lane does not.
    if (parent !== undefined && parent.lane === lane) context.cache.evict(lane, parent.id);
    if (outcome.status === 401) context.keyRefused();
    return;
  }
}

interface Prepared {
  /** What the create path is sent. */
  body: JsonObject;
  stored: boolean;
  /** The socket-cached response this one continues, if any. */
  parent: CachedResponse | undefined;
  /** A `store: false` continuation expanded here: the `previous_response_id` its events echo. */
  echoPrevious: string | null;
  /** `store: false` without a conversation: the input as sent (the start of the new cache entry). */
  context: InputItem[] | null;
  contextBytes: number;
}

function prepare(cache: ContinuationCache, body: JsonObject, maxRequestBytes: number): Prepared {
  const stored = body.store !== false;
  const previous = typeof body.previous_response_id === "string" ? body.previous_response_id : null;
  const parent = previous === null ? undefined : cache.find(previous);
  // A store:false response of this socket that has not ended yet (another lane's): as over HTTP for a
  // running response, not `previous_response_not_found`, which would say it is gone for good.
  if (previous !== null && parent === undefined && cache.isRunning(previous))
    throw invalidRequest(
      `Previous response with id '${previous}' is still in_progress. Wait for it to finish before continuing from it.`,
      "previous_response_id",
      "previous_response_in_progress",
    );
  let request = body;
  let echoPrevious: string | null = null;
  let context: InputItem[] | null = null;
  let contextBytes = 0;
  if (parent !== undefined && !parent.stored && parent.items !== null) {
    // Only this socket knows a store:false parent: its context goes into `input`, and the chain
    // continues from the stored response it was built on, if any. Validated here first, so an
    // error names the client's own item indexes. `conversation` with it is refused as over HTTP (the
    // expansion below drops `previous_response_id`, so the create path could no longer tell).
    checkOneContext(previous, validateConversation(body.conversation));
    const own = validateInput(body.input, stored ? INPUT_MAX_ITEMS : Infinity);
    contextBytes = parent.bytes + JSON.stringify(own).length;
    // The create path would refuse what only this socket added in its own words (a 413 for the body,
    // 2,048 items for a stored input), naming sizes the client never sent.
    checkExpansion(previous, parent.items, own, stored, contextBytes, maxRequestBytes);
    request = { ...body, input: [...parent.items, ...own] };
    if (parent.base === null) delete request.previous_response_id;
    else request.previous_response_id = parent.base;
    // A stored response keeps what was recorded (its input holds the context); store:false echoes the id asked for.
    if (!stored) echoPrevious = previous;
    context = request.input as InputItem[];
    cache.touch(parent.lane);
  } else if (!stored && body.conversation == null) {
    context = asItems(body.input);
    contextBytes = context === null ? 0 : JSON.stringify(context).length;
  }
  // The gateway calls its upstream statelessly: a reasoning item this socket sends back later must
  // carry its encrypted content (OpenAI's socket returns it by default; a model that sends it only
  // when asked fails the next turn with 'Item with id ... not found').
  if (!stored && context !== null) request = withEncryptedReasoning(request);
  return { body: request, stored, parent, echoPrevious, context: stored ? null : context, contextBytes };
}

/** Refuses a cache-expanded input the create path would refuse, saying that the socket's context is in it. */
function checkExpansion(
  previous: string | null,
  context: InputItem[],
  own: InputItem[],
  stored: boolean,
  bytes: number,
  maxRequestBytes: number,
): void {
  const kept = `the context this socket keeps for the store: false response '${previous ?? ""}'`;
  if (bytes > maxRequestBytes)
    throw new ApiError(
      413,
      `Request too large: ${kept} and this input come to about ${bytes} bytes, over the ${maxRequestBytes}-byte request limit it is sent under. Start a new chain with the items you need, or store the chain (store: true from its first response), which is read from storage instead.`,
      { param: "previous_response_id", code: "request_too_large" },
    );
  const items = context.length + own.length;
  if (stored && items > INPUT_MAX_ITEMS)
    throw invalidRequest(
      `Invalid 'input': a stored response records ${kept} as its input: ${context.length} items kept and ${own.length} sent, ${items} in all, over the ${INPUT_MAX_ITEMS} a stored input may have. Continue with store: false, or start a stored chain with the items you need.`,
      "input",
      "array_above_max_length",
    );
}

/** `include` with the encrypted reasoning asked for; a malformed one is left for the create path to refuse. */
function withEncryptedReasoning(body: JsonObject): JsonObject {
  const include: unknown = body.include ?? [];
  if (!Array.isArray(include) || include.includes(ENCRYPTED_REASONING)) return body;
  return { ...body, include: [...(include as unknown[]), ENCRYPTED_REASONING] };
}

/** `input` as items the way the create path reads it; null when it is invalid (the create path says why). */
function asItems(input: unknown): InputItem[] | null {
  if (input === undefined || input === null) return [];
  if (typeof input === "string") return [{ role: "user", content: input }];
  return Array.isArray(input) ? (input as InputItem[]) : null;
}

function entryFor(prepared: Prepared, lane: string, id: string, output: InputItem[]): CachedResponse {
  if (prepared.stored) return { id, lane, stored: true, base: null, items: null, bytes: 0 };
  const previous = prepared.body.previous_response_id;
  const base = typeof previous === "string" ? previous : null;
  if (prepared.context === null) return { id, lane, stored: false, base, items: null, bytes: 0 };
  const bytes = prepared.contextBytes + JSON.stringify(output).length;
  return { id, lane, stored: false, base, items: [...prepared.context, ...output], bytes };
}

/**
 * Sends the turn's events until the one that ends the request. An `error` inside a stream is not
 * sent: on a socket the Agents SDK takes any `error` as the end of the request and Codex fails the
 * turn on one, while the create path follows it with `response.failed` (which carries the error) or
 * goes on to another terminal event. So each request ends with exactly one terminal event; the
 * stored record keeps the `error` (its sequence number is the one missing on the socket).
 */
async function forward(
  context: CreateContext,
  turn: Turn,
  lane: string,
  echoPrevious: string | null,
  stored: boolean,
  track: { created: (id: string) => void; ended: (id: string, output: InputItem[]) => void },
): Promise<Outcome | null> {
  let outcome: Outcome | null = null;
  /** The last in-stream `error`: its message ends a stream that stops without a terminal event. */
  let held: TurnEvent | undefined;
  let responseId: string | null = null;
  for await (const event of turn.events) {
    if (outcome !== null) continue;
    if (event.status !== undefined) {
      context.send(withStreamId(event.json, lane));
      outcome = { kind: "error", status: event.status };
      continue;
    }
    if (event.type === "error") {
      held = event;
      continue;
    }
    let json = event.json;
    const terminal = TERMINAL_EVENTS.has(event.type);
    // Parsed only where the socket needs something: the id, the echo, a store:false response's output
    // (a stored response's whole final snapshot, possibly megabytes, is passed on unread).
    const read =
      event.type === "response.created" ||
      (echoPrevious !== null && ECHO_EVENTS.has(event.type)) ||
      (terminal && !stored);
    const parsed = read ? (JSON.parse(json) as { response: JsonObject }) : undefined;
    const response = parsed?.response;
    if (typeof response?.id === "string") responseId = response.id;
    if (event.type === "response.created" && responseId !== null) track.created(responseId);
    if (response !== undefined && echoPrevious !== null && ECHO_EVENTS.has(event.type)) {
      response.previous_response_id = echoPrevious;
      json = JSON.stringify(parsed);
    }
    if (terminal) {
      const output = Array.isArray(response?.output) ? (response.output as InputItem[]) : [];
      outcome = { kind: "response", id: responseId ?? "", output };
      track.ended(outcome.id, output);
    }
    context.send(withStreamId(json, lane));
  }
  if (outcome !== null || !context.isOpen()) return outcome;
  // The stream stopped without ending the request: say so, or the lane would wait forever.
  const status = responseId !== null && stored ? await context.statusOf(responseId) : null;
  if (status === "cancelled") {
    context.send(
      errorEvent(
        400,
        {
          type: "invalid_request_error",
          code: "response_cancelled",
          message: `Response '${responseId ?? ""}' was cancelled.`,
          param: null,
        },
        lane,
      ),
    );
    return { kind: "error", status: 400 };
  }
  const { status: code, error } = endingError(held);
  context.send(errorEvent(code, error, lane));
  return { kind: "error", status: code };
}

/**
 * The storage faults a stream tells in an `error` event, with the status and headers HTTP answers
 * them with (src/errors.ts): a client retries a 503 after its `retry-after`, and is told by a 500 and
 * `x-should-retry: false` not to retry a missing migration.
 */
const STORAGE_ERRORS = new Map<string, { status: number; headers: Record<string, string> }>([
  ["storage_unavailable", { status: 503, headers: { "retry-after": "1" } }],
  ["database_not_migrated", { status: 500, headers: { "x-should-retry": "false" } }],
]);

/** The error of a stream that stopped without a terminal event: its last in-stream `error`, if any. */
function endingError(held: TurnEvent | undefined): { status: number; error: SocketError } {
  const fallback = { type: "server_error", code: "server_error", param: null };
  if (held === undefined)
    return {
      status: 500,
      error: { ...fallback, message: "The response stream ended before the response was complete." },
    };
  const event = JSON.parse(held.json) as { code?: unknown; message?: unknown; error?: { type?: unknown } };
  const code = typeof event.code === "string" ? event.code : fallback.code;
  const error: SocketError = {
    ...fallback,
    type: typeof event.error?.type === "string" ? event.error.type : fallback.type,
    code,
    message: typeof event.message === "string" ? event.message : "The response failed.",
  };
  const storage = STORAGE_ERRORS.get(code);
  if (storage === undefined) return { status: 500, error };
  return { status: storage.status, error: { ...error, headers: storage.headers } };
}
