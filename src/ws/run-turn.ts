// Runs one `response.create` of a socket through the gateway's own `POST /v1/responses` (stream:
// true, the handshake's key), so a turn over a socket is stored, chained, counted and limited exactly
// as over HTTP. The one seam between the socket layer and the create path: a direct call into the
// streaming pipeline can replace this file without touching the rest of src/ws/.

import { markWarmUp } from "../http/internal-request";
import { causeOf, emit } from "../observe/log";
import type { JsonObject } from "../responses/types";
import { SseDecoder } from "../sse";
import { errorEvent, errorFromHeaders } from "./server-events";

/** One server event of a turn: its type and its JSON exactly as the create path serialized it. */
export interface TurnEvent {
  type: string;
  json: string;
  /** Set only on the `error` that ends a turn the create path refused (its HTTP status). */
  status?: number;
}

export interface Turn {
  events: AsyncIterable<TurnEvent>;
  /** Stops reading: to the create path this is a client that went away, as for an SSE client. */
  abort(): void;
}

/** The gateway's own fetch handler, with the connection's bindings and execution context. */
export type GatewayFetch = (request: Request) => Promise<Response>;

export interface TurnRequest {
  /** The create body (`type`, `stream_id` and `generate` already removed). */
  body: JsonObject;
  /** `generate: false`: the response is created with no model call. */
  warmUp: boolean;
}

/** Largest event the create path can send: a whole Response in `response.completed`, over the upstream cap. */
const MAX_EVENT_BYTES = 64 * 1024 * 1024;

export function runTurn(gateway: GatewayFetch, origin: URL, credentials: Headers, turn: TurnRequest): Turn {
  const stop = new AbortController();
  return {
    events: readTurn(gateway, origin, credentials, turn, stop.signal),
    abort: () => stop.abort(),
  };
}

async function* readTurn(
  gateway: GatewayFetch,
  origin: URL,
  credentials: Headers,
  turn: TurnRequest,
  stopped: AbortSignal,
): AsyncGenerator<TurnEvent> {
  if (stopped.aborted) return;
  const headers = new Headers(credentials);
  headers.set("content-type", "application/json");
  // The turn's stop (its socket gone) is the create's signal, as a client's disconnect is an HTTP one's.
  const request = new Request(new URL("/v1/responses", origin), {
    method: "POST",
    headers,
    body: JSON.stringify({ ...turn.body, stream: true }),
    signal: stopped,
  });
  const response = await gateway(turn.warmUp ? markWarmUp(request) : request);
  if (!(response.headers.get("content-type") ?? "").startsWith("text/event-stream") || response.body === null) {
    yield await refusal(response);
    return;
  }
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const cancel = () => void reader.cancel().catch(() => undefined);
  if (stopped.aborted) {
    cancel();
    return;
  }
  stopped.addEventListener("abort", cancel);
  const decoder = new SseDecoder(MAX_EVENT_BYTES);
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        // Cancelled by `abort()`, or the stream broke: either way it ends here, and the session
        // answers a request left without its terminal event.
        if (!stopped.aborted) emit("warn", "failure", `websocket turn stream broke: ${causeOf(error)}`);
        return;
      }
      const messages = chunk.done ? decoder.end() : decoder.feed(chunk.value);
      for (const message of messages) yield { type: message.event ?? typeOf(message.data), json: message.data };
      if (chunk.done) return;
    }
  } finally {
    stopped.removeEventListener("abort", cancel);
    // A consumer that stops early (the socket closed) leaves the stream as an SSE client would.
    cancel();
  }
}

const typeOf = (json: string): string => {
  const type = (JSON.parse(json) as { type?: unknown }).type;
  return typeof type === "string" ? type : "";
};

/** The create path's refusal (a 4xx/5xx JSON envelope) as the `error` event that ends the turn. */
async function refusal(response: Response): Promise<TurnEvent> {
  let envelope: { error?: Record<string, unknown> } = {};
  try {
    envelope = await response.json();
  } catch {
    // Not our envelope: the status still says what happened.
  }
  const error = envelope.error ?? {};
  const text = (value: unknown) => (typeof value === "string" ? value : null);
  const status = response.ok ? 500 : response.status;
  const headers = errorFromHeaders(response.headers);
  const json = errorEvent(
    status,
    {
      type: text(error.type) ?? (status >= 500 ? "server_error" : "invalid_request_error"),
      code: text(error.code),
      message: text(error.message) ?? `The request failed with status ${status}.`,
      param: text(error.param),
      ...(headers ? { headers } : {}),
    },
    "",
  );
  return { type: "error", json, status };
}

/**
 * The status of a stored response, read through `GET /v1/responses/{id}` with the connection's key
 * (null when it cannot be read): tells a cancelled run from a stream that broke.
 */
export async function responseStatus(
  gateway: GatewayFetch,
  origin: URL,
  credentials: Headers,
  id: string,
): Promise<string | null> {
  const response = await gateway(
    new Request(new URL(`/v1/responses/${encodeURIComponent(id)}`, origin), { headers: credentials }),
  );
  if (!response.ok) {
    await response.body?.cancel();
    return null;
  }
  const status = (await response.json<{ status?: unknown }>()).status;
  return typeof status === "string" ? status : null;
}
