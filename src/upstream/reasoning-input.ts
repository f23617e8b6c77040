// What of earlier turns' reasoning items goes to a Responses server, per route (`reasoning_input`).
// OpenAI needs each one as it came (its `encrypted_content` is the reasoning); open-source servers
// refuse or misread another model's: vLLM answers 400 "Encrypted content is not supported." to any
// `encrypted_content`, Ollama reads `encrypted_content` as the thinking text (its own items carry
// the text there in the clear), llama.cpp refuses an item without `reasoning_text` content.
// `keep` leaves out an item with neither `encrypted_content` nor `content`: called statelessly
// (store false), OpenAI can only look it up by id and answers 404 "Item with id … not found" (a
// store:false response recorded under RECORD_STORE_FALSE whose client did not ask for encrypted
// reasoning keeps such items).
// Applied to the built body by the client; what is stored is never changed.

import { REASONING_INPUTS } from "../config";
import type { JsonObject } from "../responses/types";
import { isPlainObject } from "../responses/validation";

/**
 * `keep`: as it came (the default), unless it carries nothing but its id. `drop_encrypted`: without `encrypted_content`, except the
 * server's own text in the clear (Ollama's), and left out when no text is left. `raw_text_only`:
 * only items with raw `reasoning_text` content, without `encrypted_content`. `drop`: none.
 */
export type ReasoningInput = (typeof REASONING_INPUTS)[number];

/** Listed in config, which reads `UPSTREAM_REASONING_INPUT` and may not import the upstream layer. */
export const REASONING_INPUT: readonly ReasoningInput[] = REASONING_INPUTS;

/** The texts of `parts` of `type`, joined; "" for none. */
function textOf(parts: unknown, type: string): string {
  if (!Array.isArray(parts)) return "";
  return parts
    .filter((part): part is JsonObject => isPlainObject(part) && part.type === type && typeof part.text === "string")
    .map((part) => part.text as string)
    .join("");
}

/** Neither its reasoning sealed nor its text: an id that a stateless server cannot look up. */
const byIdOnly = (item: JsonObject): boolean =>
  (typeof item.encrypted_content !== "string" || item.encrypted_content === "") &&
  (!Array.isArray(item.content) || item.content.length === 0);

/** The item as `mode` sends it; null leaves it out. */
function sentAs(item: JsonObject, mode: ReasoningInput): JsonObject | null {
  if (mode === "keep") return byIdOnly(item) ? null : item;
  if (mode === "drop") return null;
  const raw = textOf(item.content, "reasoning_text");
  const summary = textOf(item.summary, "summary_text");
  if (mode === "raw_text_only" && raw === "") return null;
  // Ollama's own items carry their thinking as plain `encrypted_content` (the summary's text): it reads only that.
  const clear =
    typeof item.encrypted_content === "string" && item.encrypted_content !== "" && item.encrypted_content === summary;
  if (mode === "drop_encrypted" && clear) return item;
  if (mode === "drop_encrypted" && raw === "" && summary === "") return null;
  if (!("encrypted_content" in item)) return item;
  const { encrypted_content: _dropped, ...rest } = item;
  return rest;
}

/** Whether `mode` leaves the reasoning item out (the gateway reports it: src/upstream/withheld-reasoning.ts). */
export const leavesOut = (item: JsonObject, mode: ReasoningInput): boolean => sentAs(item, mode) === null;

/** `body` with its input's reasoning items as the route's `reasoning_input` says. */
export function withReasoningInput(body: JsonObject, mode: ReasoningInput): JsonObject {
  if (!Array.isArray(body.input)) return body;
  const input = body.input.flatMap((item: unknown) => {
    if (!isPlainObject(item) || item.type !== "reasoning") return [item];
    const sent = sentAs(item, mode);
    return sent === null ? [] : [sent];
  });
  return { ...body, input };
}
