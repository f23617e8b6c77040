// Merging consecutive messages of one role, for a route whose chat template requires user and
// assistant turns to alternate (`alternate_roles`: Gemma's, and older Mistral templates on vLLM,
// raise "Conversation roles must alternate user/assistant/user/assistant/..." otherwise). A Responses
// input often has two user messages in a row (a client's several input items, a late developer
// message sent as `user`). Applied to the built body by the client, as `reasoning_sent_as` is.

import type { JsonObject } from "../../responses/types";
import { isPlainObject } from "../../responses/validation";

/** Roles whose consecutive messages are merged; tool messages answer one call each and stay apart. */
const MERGED_ROLES: ReadonlySet<string> = new Set(["user", "assistant"]);

const asParts = (content: unknown): unknown[] =>
  typeof content === "string"
    ? content === ""
      ? []
      : [{ type: "text", text: content }]
    : Array.isArray(content)
      ? content
      : [];

const isText = (content: unknown): content is string | null | undefined =>
  typeof content === "string" || content === null || content === undefined;

/** Texts joined by a blank line, the empty ones left out. */
const joined = (a: unknown, b: unknown): string =>
  [a, b].filter((text): text is string => typeof text === "string" && text !== "").join("\n\n");

/** One message holding both: text joined by a blank line (parts in order), an assistant's reasoning and calls kept. */
function merged(first: JsonObject, second: JsonObject): JsonObject {
  const message: JsonObject = { ...first, ...second };
  const a = first.content;
  const b = second.content;
  message.content = isText(a) && isText(b) ? joined(a, b) : [...asParts(a), ...asParts(b)];
  if (first.reasoning_content !== undefined || second.reasoning_content !== undefined)
    message.reasoning_content = joined(first.reasoning_content, second.reasoning_content);
  const calls = [first.tool_calls, second.tool_calls].flatMap((list) =>
    Array.isArray(list) ? (list as unknown[]) : [],
  );
  if (calls.length > 0) message.tool_calls = calls;
  return message;
}

/** `body` with consecutive user (or assistant) messages merged into one; unchanged when `alternate` is false. */
export function withAlternatingRoles(body: JsonObject, alternate: boolean): JsonObject {
  if (!alternate || !Array.isArray(body.messages)) return body;
  const messages: unknown[] = [];
  for (const message of body.messages as unknown[]) {
    const last = messages.at(-1);
    if (
      isPlainObject(message) &&
      isPlainObject(last) &&
      message.role === last.role &&
      typeof message.role === "string" &&
      MERGED_ROLES.has(message.role) &&
      // An assistant message with calls must be followed by their tool messages: nothing merges after it.
      !(last.role === "assistant" && Array.isArray(last.tool_calls) && last.tool_calls.length > 0)
    )
      messages[messages.length - 1] = merged(last, message);
    else messages.push(message);
  }
  return { ...body, messages };
}
