// Reads a JSON request body with a size cap, without trusting Content-Length alone.
// Used by every route that takes a body.

import { ApiError, invalidRequest } from "../errors";
import { invalidType, isPlainObject } from "../responses/validation";

export const INVALID_JSON_MESSAGE =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The API expects a JSON payload, but what was sent was not valid JSON.)";

function tooLarge(limit: number): ApiError {
  return new ApiError(413, `Request body too large: the limit is ${limit} bytes.`, {
    type: "invalid_request_error",
    code: "request_too_large",
  });
}

async function readCapped(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  if (request.body === null) return new Uint8Array();
  const reader = (request.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Deepest nesting accepted: deeper values could exhaust the stack of later copies and encoders. */
export const MAX_JSON_DEPTH = 64;

/** Whether `value` nests deeper than `limit` (also used for WebSocket frames, src/ws/client-events.ts). */
export function depthExceeds(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (typeof current !== "object" || current === null) continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Parses the body as JSON; invalid UTF-8 or JSON, or nesting deeper than the cap, is a 400. */
export async function readJson(request: Request, limit: number): Promise<unknown> {
  const bytes = await readCapped(request, limit);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw invalidRequest(INVALID_JSON_MESSAGE);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidRequest(INVALID_JSON_MESSAGE);
  }
  if (depthExceeds(value, MAX_JSON_DEPTH))
    throw invalidRequest(`The JSON body is nested too deeply: at most ${MAX_JSON_DEPTH} levels are accepted.`);
  return value;
}

/** A JSON object body; an absent (empty) body counts as `{}`. */
export async function readJsonObject(request: Request, limit: number): Promise<Record<string, unknown>> {
  if (request.body === null || request.headers.get("content-length") === "0") return {};
  const body = await readJson(request, limit);
  if (!isPlainObject(body)) throw invalidType("body", "an object", body);
  return body;
}
