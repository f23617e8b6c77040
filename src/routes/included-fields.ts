// What an item list shows of the fields `include` asks for: a reasoning item's `encrypted_content`
// and an assistant text's `logprobs` are listed only when asked for, as OpenAI lists them. The
// stored item keeps both: a later turn sends the encrypted reasoning upstream whatever was listed.

import { GATEWAY_REASONING_MARK } from "../upstream/reasoning-seal";
import type { JsonObject } from "../responses/types";
import { ENCRYPTED_REASONING } from "../responses/validation";

const LOGPROBS = "message.output_text.logprobs";

/** Leaves out of a listed item (itemResource's view, a fresh object) the fields `include` did not ask for. */
export function withIncluded(listed: JsonObject, include: readonly string[]): JsonObject {
  // The gateway's bare mark holds nothing encrypted: it stays, so an item replayed from a list is
  // still known as the gateway's own (a Responses upstream must not get it).
  if (
    listed.type === "reasoning" &&
    "encrypted_content" in listed &&
    listed.encrypted_content !== GATEWAY_REASONING_MARK &&
    !include.includes(ENCRYPTED_REASONING)
  ) {
    const { encrypted_content: _left, ...rest } = listed;
    return rest;
  }
  if (listed.type === "message" && Array.isArray(listed.content) && !include.includes(LOGPROBS))
    return { ...listed, content: listed.content.map(withoutLogprobs) };
  return listed;
}

function withoutLogprobs(part: unknown): unknown {
  if (typeof part !== "object" || part === null) return part;
  const text = part as JsonObject;
  return text.type === "output_text" && Array.isArray(text.logprobs) && text.logprobs.length > 0
    ? { ...text, logprobs: [] }
    : part;
}
