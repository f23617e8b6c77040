// Readers for Chat Completions wire payloads (untrusted and loosely shaped: every server differs).
// Used by the stream translator and the tool-call assembler; nothing else reads raw chat chunks.

import { isPlainObject } from "../../responses/validation";
import { responseError, type JsonObject, type ResponseError } from "../../responses/types";
import { CONTEXT_LENGTH_EXCEEDED, isContextOverflow } from "../errors";

export const objectOr = (value: unknown): JsonObject | undefined => (isPlainObject(value) ? value : undefined);

/** A string that carries something; "" and non-strings (null, absent) read as undefined. */
export const nonEmpty = (value: unknown): string | undefined =>
  typeof value === "string" && value !== "" ? value : undefined;

/** Text of a `content` field: a string, or (Mistral and some vLLM builds) an array of `text` parts. */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  let text = "";
  for (const part of content)
    if (isPlainObject(part) && part.type === "text" && typeof part.text === "string") text += part.text;
  return text;
}

/** The text of Mistral's `thinking` parts of a content array (each holds its own list of text parts). */
function thinkingText(content: unknown): string {
  if (!Array.isArray(content)) return "";
  let text = "";
  for (const part of content) if (isPlainObject(part) && part.type === "thinking") text += contentText(part.thinking);
  return text;
}

/**
 * Raw reasoning of a delta or message. Servers name it differently: `reasoning_content` (DeepSeek,
 * llama.cpp, older vLLM), `reasoning` (OpenRouter, Ollama, Groq, newer vLLM), OpenRouter's
 * `reasoning_details[]`, and Mistral's `thinking` parts of `content` (Magistral:
 * `[{type:"thinking", thinking:[{type:"text", text}]}]`). Some send the same text under two names
 * at once, so exactly one source is read, in that order; concatenating them would duplicate the text.
 */
export function reasoningText(source: JsonObject): string {
  const direct = nonEmpty(source.reasoning_content) ?? nonEmpty(source.reasoning);
  if (direct !== undefined) return direct;
  if (!Array.isArray(source.reasoning_details)) return thinkingText(source.content);
  let text = "";
  for (const detail of source.reasoning_details) {
    if (!isPlainObject(detail)) continue;
    if (detail.type === "reasoning.text") text += nonEmpty(detail.text) ?? "";
    else if (detail.type === "reasoning.summary") text += nonEmpty(detail.summary) ?? "";
  }
  return text;
}

/** A Responses logprob (`bytes` is required there; chat servers may send null). */
export interface Logprob extends JsonObject {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

const tokenOf = (entry: JsonObject) => ({
  token: typeof entry.token === "string" ? entry.token : "",
  logprob: typeof entry.logprob === "number" ? entry.logprob : 0,
  bytes: Array.isArray(entry.bytes) ? entry.bytes.filter((byte): byte is number => typeof byte === "number") : [],
});

/** Chat `logprobs.content[]` entries mapped to Responses `output_text` logprobs. */
export function mapLogprobs(entries: unknown): Logprob[] {
  if (!Array.isArray(entries)) return [];
  return entries.filter(isPlainObject).map((entry) => ({
    ...tokenOf(entry),
    top_logprobs: Array.isArray(entry.top_logprobs) ? entry.top_logprobs.filter(isPlainObject).map(tokenOf) : [],
  }));
}

/**
 * Reads an in-band error: a top-level `error` key (OpenRouter puts it on a chunk that also has
 * `choices`; Groq sends it as `event: error`), or, under `event: error`, the payload itself.
 * Numeric codes (OpenRouter's HTTP-like `400`) are not Responses error codes: they become `server_error`;
 * a context overflow (llama.cpp sends its own after the headers) becomes `context_length_exceeded`.
 */
export function upstreamErrorOf(payload: JsonObject, event: string | undefined): ResponseError | undefined {
  let error: unknown = payload.error;
  if (error === undefined || error === null || error === false) {
    if (event !== "error") return undefined;
    error = payload;
  }
  const fields = objectOr(error) ?? { message: error };
  if (isContextOverflow(fields))
    return responseError(
      CONTEXT_LENGTH_EXCEEDED,
      nonEmpty(fields.message) ?? "The input exceeds the model's context.",
      {
        type: "invalid_request_error",
        param: "input",
      },
    );
  return responseError(
    nonEmpty(fields.code) ?? "server_error",
    nonEmpty(fields.message) ?? "The upstream model server reported an error.",
    fields,
  );
}
