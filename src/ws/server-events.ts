// The events the socket itself writes (everything else is the create path's own SSE events, passed
// through): the `error` that ends one request, `response.steer.failed`, and the `stream_id` a named
// lane adds to every event. Used by the socket session.

import { ApiError } from "../errors";

/** The `error` object of a WebSocket `error` event, as OpenAI's SDK types it (`ResponseWsError.Error`). */
export interface SocketError {
  type: string;
  code: string | null;
  message: string;
  param: string | null;
  /** Headers the HTTP answer carried that a client acts on (`retry-after`). */
  headers?: Record<string, string>;
}

/** Headers of an HTTP error answer worth passing on to the client. */
const PASSED_HEADERS = ["retry-after", "retry-after-ms", "x-should-retry"];

export function errorFromHeaders(headers: Headers): Record<string, string> | undefined {
  const passed = PASSED_HEADERS.flatMap((name) => {
    const value = headers.get(name);
    return value === null ? [] : [[name, value] as const];
  });
  return passed.length === 0 ? undefined : Object.fromEntries(passed);
}

/**
 * `{"type":"error","status":…,"error":{…}}`: ends one request, never the socket. `status` is always
 * set: Codex maps it to an HTTP error and counts a status-less `error` as a protocol fault.
 */
export function errorEvent(status: number, error: SocketError, lane: string): string {
  const event: Record<string, unknown> = { type: "error", status, error };
  if (lane !== "") event.stream_id = lane;
  return JSON.stringify(event);
}

export const apiErrorEvent = (error: ApiError, lane: string): string => {
  const { type, code, message, param } = error.body().error;
  const headers = Object.keys(error.headers).length > 0 ? error.headers : undefined;
  return errorEvent(error.status, { type, code, message, param, ...(headers ? { headers } : {}) }, lane);
};

/** Adds `stream_id` to an event serialized by the create path (a JSON object), without reparsing it. */
export function withStreamId(json: string, lane: string): string {
  if (lane === "") return json;
  return `${json.slice(0, json.lastIndexOf("}"))},"stream_id":${JSON.stringify(lane)}}`;
}

/** The answer to every `response.steer` until the gateway steers: the input handed back, unapplied. */
export function steerFailed(previousResponseId: unknown, input: unknown, lane: string): string {
  const event: Record<string, unknown> = {
    type: "response.steer.failed",
    sequence_number: 0,
    error: {
      type: "invalid_request_error",
      code: "steering_not_supported",
      message: "This gateway does not support steering; send the input with the next response.create instead.",
    },
    steer: { previous_response_id: previousResponseId, input },
  };
  if (lane !== "") event.stream_id = lane;
  return JSON.stringify(event);
}
