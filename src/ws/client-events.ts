// Reads one client frame: `response.create` (the create body plus `stream_id` and `generate`) or
// `response.steer`; anything else is a bad frame, answered with an `error` event or a close code.
// Pure: no bindings, no I/O. Used by the socket session.

import { invalidRequest, type ApiError } from "../errors";
import { INVALID_JSON_MESSAGE, jsonShapeMessage, jsonShapeProblem } from "../http/json-body";
import type { JsonObject } from "../responses/types";
import { invalidType, isPlainObject, missing } from "../responses/validation";
import { CLOSE, STREAM_ID_PATTERN } from "./limits";

export type ClientEvent =
  | {
      kind: "create";
      /** `""` is the default lane. */
      lane: string;
      /** The create body: the frame without `type`, `stream_id` and `generate`. */
      body: JsonObject;
      generate: boolean;
      /** Serialized size, for the queue's budget. */
      bytes: number;
    }
  | { kind: "steer"; previousResponseId: unknown; input: unknown }
  /** A frame refused with an `error` event; the socket stays open. `lane`: the lane it named, if valid. */
  | { kind: "refused"; error: ApiError; lane: string }
  /** A frame that ends the connection. */
  | { kind: "close"; code: number; reason: string };

const FRAME_TYPES = ["response.create", "response.steer"];

/** UTF-8 size of a text frame; exact only near the cap, where it matters. */
function byteLength(text: string, cap: number): number {
  return text.length * 3 <= cap ? text.length : new TextEncoder().encode(text).byteLength;
}

export function readClientEvent(data: string | ArrayBuffer, maxFrameBytes: number): ClientEvent {
  if (typeof data !== "string")
    return { kind: "close", code: CLOSE.unsupportedData, reason: "Binary frames are not supported; send JSON text." };
  const bytes = byteLength(data, maxFrameBytes);
  if (bytes > maxFrameBytes)
    return { kind: "close", code: CLOSE.tooBig, reason: `Frame too large: the limit is ${maxFrameBytes} bytes.` };
  const problem = jsonShapeProblem(data);
  if (problem !== undefined)
    return { kind: "refused", error: invalidRequest(jsonShapeMessage(problem, "event")), lane: "" };
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    return { kind: "refused", error: invalidRequest(INVALID_JSON_MESSAGE), lane: "" };
  }
  if (!isPlainObject(frame)) return { kind: "refused", error: invalidType("event", "an object", frame), lane: "" };
  const { type, stream_id: streamId, generate, ...body } = frame;
  if (type === "response.steer")
    return { kind: "steer", previousResponseId: frame.previous_response_id, input: frame.input };
  if (type !== "response.create") return { kind: "refused", error: unknownType(type), lane: "" };
  if (streamId !== undefined && (typeof streamId !== "string" || !STREAM_ID_PATTERN.test(streamId)))
    return { kind: "refused", error: invalidStreamId(streamId), lane: "" };
  const lane = streamId ?? "";
  if (generate !== undefined && typeof generate !== "boolean")
    return { kind: "refused", error: invalidType("generate", "a boolean", generate), lane };
  // `stream` is implicit here (the turn always streams), but a value HTTP would refuse is refused too.
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== "boolean")
    return { kind: "refused", error: invalidType("stream", "a boolean", body.stream), lane };
  if (body.background === true)
    return {
      kind: "refused",
      error: invalidRequest(
        "Background responses are not supported over WebSocket: create them with POST /v1/responses.",
        "background",
        "unsupported_parameter",
      ),
      lane,
    };
  return { kind: "create", lane, body, generate: generate ?? true, bytes };
}

function unknownType(type: unknown): ApiError {
  if (typeof type !== "string") return type === undefined ? missing("type") : invalidType("type", "a string", type);
  return invalidRequest(
    `Invalid value: '${type.slice(0, 64)}'. Supported values are: ${FRAME_TYPES.map((t) => `'${t}'`).join(" and ")}.`,
    "type",
    "invalid_value",
  );
}

function invalidStreamId(value: unknown): ApiError {
  const shown = typeof value === "string" ? `'${value.slice(0, 64)}'` : JSON.stringify(value)?.slice(0, 64);
  return invalidRequest(
    `Invalid 'stream_id': ${shown}. Expected 1 to 256 characters from A-Z, a-z, 0-9, '_', '.' and '-'.`,
    "stream_id",
    "invalid_stream_id",
  );
}
