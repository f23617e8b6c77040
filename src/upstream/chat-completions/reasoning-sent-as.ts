// How the raw reasoning of earlier turns goes back to a chat server, per route (`reasoning_sent_as`):
// as `reasoning_content` on the assistant message (the default: DeepSeek, vLLM, llama.cpp, and the
// Qwen templates read it), as Mistral's `thinking` content part (Magistral answers `422 Extra inputs
// are not permitted` to any other field), or not at all. Applied to the built body by the client.

import type { JsonObject } from "../../responses/types";
import { isPlainObject } from "../../responses/validation";

export type ReasoningSentAs = "reasoning_content" | "thinking" | null;

export const REASONING_SENT_AS: readonly ReasoningSentAs[] = ["reasoning_content", "thinking", null];

/** Mistral's shape: a `thinking` chunk, then the message's text as a `text` chunk (as @ai-sdk/mistral sends it). */
function asThinkingParts(message: JsonObject, reasoning: string): JsonObject {
  const content = message.content;
  const parts: unknown[] =
    typeof content === "string"
      ? content === ""
        ? []
        : [{ type: "text", text: content }]
      : Array.isArray(content)
        ? (content as unknown[])
        : [];
  return {
    ...message,
    content: [{ type: "thinking", thinking: [{ type: "text", text: reasoning }], closed: true }, ...parts],
  };
}

/** `body` with each message's `reasoning_content` sent as `as` says (unchanged for the default). */
export function withReasoningSentAs(body: JsonObject, as: ReasoningSentAs): JsonObject {
  if (as === "reasoning_content" || !Array.isArray(body.messages)) return body;
  const messages = body.messages.map((message: unknown) => {
    if (!isPlainObject(message) || typeof message.reasoning_content !== "string") return message;
    const { reasoning_content: reasoning, ...rest } = message;
    return as === null ? rest : asThinkingParts(rest, reasoning);
  });
  return { ...body, messages };
}
