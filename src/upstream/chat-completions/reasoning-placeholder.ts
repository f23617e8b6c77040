// A stand-in `reasoning_content` for a route whose server refuses a tool-calling turn without one
// (`reasoning_placeholder`): DeepSeek in thinking mode answers `400 Missing reasoning_content ...`
// (or "The reasoning_content in the thinking mode must be passed back"), Kimi K2 thinking "thinking
// is enabled but reasoning_content is missing in assistant tool call message". A turn made by a
// model that gave no reasoning (OpenAI's, whose reasoning is encrypted; a plain chat model; a client
// that dropped the item) has none to send. Applied to the built body by the client, after the
// reasoning that exists was attached: a message with its own reasoning keeps it.

import type { JsonObject } from "../../responses/types";
import { isPlainObject } from "../../responses/validation";

const hasCalls = (message: unknown): boolean =>
  isPlainObject(message) && Array.isArray(message.tool_calls) && message.tool_calls.length > 0;

const lacksReasoning = (message: JsonObject): boolean =>
  typeof message.reasoning_content !== "string" || message.reasoning_content === "";

/**
 * `body` with `placeholder` as the `reasoning_content` of each assistant message that has none, in
 * each turn (the messages between two user messages) where the model called tools: DeepSeek's rule
 * covers every assistant message of such a turn, Kimi's the ones with calls. Other turns are left
 * as they are (DeepSeek ignores their reasoning; nothing there is refused). Unchanged when null.
 */
export function withReasoningPlaceholder(body: JsonObject, placeholder: string | null): JsonObject {
  if (placeholder === null || !Array.isArray(body.messages)) return body;
  const messages = [...(body.messages as unknown[])];
  let start = 0;
  const fillTurn = (end: number) => {
    const turn = messages.slice(start, end);
    if (turn.some(hasCalls))
      turn.forEach((message, offset) => {
        if (isPlainObject(message) && message.role === "assistant" && lacksReasoning(message))
          messages[start + offset] = { ...message, reasoning_content: placeholder };
      });
  };
  messages.forEach((message, index) => {
    if (!isPlainObject(message) || message.role !== "user") return;
    fillTurn(index);
    start = index + 1;
  });
  fillTurn(messages.length);
  return { ...body, messages };
}
