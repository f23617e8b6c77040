// Reads a JSON request body with a size cap, without trusting Content-Length alone.
// Used by every route that takes a body.

import { ApiError, invalidRequest } from "../errors";
import { invalidType, isPlainObject } from "../responses/validation";
import { unpairedSurrogateError } from "./unpaired-surrogates";

export const INVALID_JSON_MESSAGE =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The API expects a JSON payload, but what was sent was not valid JSON.)";

function tooLarge(limit: number): ApiError {
  return new ApiError(413, `Request body too large: the limit is ${limit} bytes.`, {
    type: "invalid_request_error",
    code: "request_too_large",
  });
}

/**
 * A body sent compressed (`Content-Encoding` other than identity) is a 415: no client of this API
 * compresses its requests (the openai SDKs, undici, curl do not), and inflating one safely would need
 * an inflater bounded by its output, where the runtime's DecompressionStream inflates each chunk it is
 * given whole (a chunk of a gzip bomb could be tens of MB before any size check). Without this, a
 * compressed body was a 400 "could not parse the JSON", and a plain one labelled `br` was trusted.
 */
function refuseCompressed(request: Request): void {
  const codings = (request.headers.get("content-encoding") ?? "")
    .split(",")
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== "" && coding !== "identity");
  if (codings.length > 0)
    throw new ApiError(
      415,
      `Unsupported Content-Encoding '${codings.join(", ").slice(0, 64)}': send the request body uncompressed.`,
      {
        type: "invalid_request_error",
        code: "unsupported_content_encoding",
        headers: { "accept-encoding": "identity" },
      },
    );
}

async function readCapped(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  refuseCompressed(request);
  if (request.body === null) return new Uint8Array();
  const reader = (request.body as ReadableStream<Uint8Array>).getReader();
  // Chunks are copied into one buffer as they come, which grows by doubling up to the declared length
  // (kept until the end and then joined, a 16 MiB body was held twice). It never grows past twice what
  // has come: a client declaring 16 MiB and sending a trickle must not make each request hold 16 MiB.
  const cap = Number.isInteger(declared) && declared > 0 ? declared : limit;
  let buffer = new Uint8Array(0);
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const needed = size + value.byteLength;
    if (needed > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    if (needed > buffer.byteLength) {
      const grown = new Uint8Array(Math.max(needed, Math.min(cap, 2 * needed)));
      grown.set(buffer.subarray(0, size));
      buffer = grown;
    }
    buffer.set(value, size);
    size = needed;
  }
  return buffer.subarray(0, size);
}

/** Deepest nesting accepted: deeper values could exhaust the stack of later copies and encoders. */
export const MAX_JSON_DEPTH = 64;

/**
 * Most arrays, objects and their elements and members accepted in one body or frame. Parsing builds
 * every one of them: 16 MiB of `{},` is over 5 million objects and over 300 MB of heap, where an
 * isolate has 128 MB for every request it serves. A create with 2,048 input items and large tool
 * schemas stays far below.
 */
export const MAX_JSON_VALUES = 200_000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;

/** Whether the quote at `at` is escaped: an odd run of backslashes before it. */
function escapedQuote(text: string, at: number): boolean {
  let backslashes = 0;
  while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes++;
  return backslashes % 2 === 1;
}

/**
 * What makes JSON text too costly to parse, read before parsing it: nesting deeper than
 * MAX_JSON_DEPTH, or more than MAX_JSON_VALUES values (counted by `{`, `[` and `,`). Strings are
 * skipped by `indexOf`, so a large string (an image's data URL) costs little. Malformed text passes:
 * the parse refuses it. Also used for WebSocket frames (src/ws/client-events.ts).
 */
export function jsonShapeProblem(text: string): "depth" | "values" | undefined {
  let depth = 0;
  let values = 1;
  for (let at = 0; at < text.length; at++) {
    const code = text.charCodeAt(at);
    if (code === QUOTE) {
      let end = text.indexOf('"', at + 1);
      while (end !== -1 && escapedQuote(text, end)) end = text.indexOf('"', end + 1);
      if (end === -1) return undefined;
      at = end;
    } else if (code === OPEN_OBJECT || code === OPEN_ARRAY) {
      if (++depth > MAX_JSON_DEPTH) return "depth";
      if (++values > MAX_JSON_VALUES) return "values";
    } else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) depth--;
    else if (code === COMMA && ++values > MAX_JSON_VALUES) return "values";
  }
  return undefined;
}

/** The message refusing JSON text for `problem`; `what` is "body" or "event". */
export function jsonShapeMessage(problem: "depth" | "values", what: string): string {
  return problem === "depth"
    ? `The JSON ${what} is nested too deeply: at most ${MAX_JSON_DEPTH} levels are accepted.`
    : `The JSON ${what} has too many values: at most ${MAX_JSON_VALUES.toLocaleString("en-US")} arrays, objects, elements and members are accepted.`;
}

/**
 * The body as UTF-8 text (null when empty and `whenEmpty` is given); invalid UTF-8 is a 400. Its own
 * function so the bytes are let go once decoded: held by readJson through the parse, a 16 MiB body
 * was held three times at once (bytes, text, parsed value).
 */
async function readText(request: Request, limit: number, whenEmpty?: unknown): Promise<string | null> {
  const bytes = await readCapped(request, limit);
  if (bytes.byteLength === 0 && whenEmpty !== undefined) return null;
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw invalidRequest(INVALID_JSON_MESSAGE);
  }
}

/**
 * Parses the body as JSON (an empty one is `whenEmpty` when given); invalid UTF-8 or JSON, nesting deeper than the cap, too many values, or
 * a string with an unpaired surrogate (`"\ud800"`), is a 400.
 */
export async function readJson(request: Request, limit: number, whenEmpty?: unknown): Promise<unknown> {
  const text = await readText(request, limit, whenEmpty);
  if (text === null) return whenEmpty;
  const problem = jsonShapeProblem(text);
  if (problem !== undefined) throw invalidRequest(jsonShapeMessage(problem, "body"));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidRequest(INVALID_JSON_MESSAGE);
  }
  const unpaired = unpairedSurrogateError(text, value);
  if (unpaired !== undefined) throw unpaired;
  return value;
}

/** A JSON object body; an absent or empty body (a length of 0, or a stream of none) counts as `{}`. */
export async function readJsonObject(request: Request, limit: number): Promise<Record<string, unknown>> {
  if (request.body === null || request.headers.get("content-length") === "0") return {};
  const body = await readJson(request, limit, {});
  if (!isPlainObject(body)) throw invalidType("body", "an object", body);
  return body;
}
