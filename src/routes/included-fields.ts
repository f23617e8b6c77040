// What an item list shows of the fields `include` asks for: an assistant text's `logprobs` are listed
// only when asked for, as OpenAI lists them. A reasoning item's `encrypted_content` is always listed,
// unlike OpenAI: the gateway calls its upstream statelessly and cannot find a reasoning item by id as
// OpenAI does, so a client that replays listed items (the Agents SDK's OpenAIConversationsSession
// lists a conversation's items without `include` and sends them back as input) needs it.

import type { JsonObject } from "../responses/types";

const LOGPROBS = "message.output_text.logprobs";

/** Leaves out of a listed item (itemResource's view, a fresh object) the fields `include` did not ask for. */
export function withIncluded(listed: JsonObject, include: readonly string[]): JsonObject {
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
