// A tool output in a request must answer a call the model made: OpenAI refuses one whose call_id no
// call in the context carries (400, param `input`). Checked on the expanded context by run/context.ts,
// so every upstream gets OpenAI's answer, not its own (a chat server's template error, or a reply to
// a tool message that answers nothing).

import { invalidRequest } from "../errors";
import type { InputItem } from "./types";

/** Output item type -> the call type it answers, and the words OpenAI's message uses for it. */
const ANSWERS: ReadonlyMap<string, { call: string; words: string }> = new Map([
  ["function_call_output", { call: "function_call", words: "function call output" }],
  ["custom_tool_call_output", { call: "custom_tool_call", words: "custom tool call output" }],
]);

/**
 * Items that may hold calls the gateway cannot see: a compaction summary (its calls are sealed in it)
 * and a reference to a stored item (the upstream resolves it). With one of them in the context, an
 * output is given the benefit of the doubt.
 */
const OPAQUE_TYPES: ReadonlySet<string> = new Set(["compaction", "item_reference"]);

/**
 * Throws OpenAI's error for the first of the request's own outputs (`context` from index `ownFrom`)
 * whose call_id no call of the matching type in the whole context carries. History is not checked:
 * what the gateway stored was accepted when it was sent.
 */
export function checkToolOutputs(context: readonly InputItem[], ownFrom: number): void {
  const own = context.slice(ownFrom);
  if (!own.some((item) => typeof item.type === "string" && ANSWERS.has(item.type))) return;
  const calls = new Set<string>();
  for (const item of context) {
    if (typeof item.type !== "string") continue;
    if (OPAQUE_TYPES.has(item.type)) return;
    if (typeof item.call_id === "string") calls.add(`${item.type}:${item.call_id}`);
  }
  for (const item of own) {
    const answer = typeof item.type === "string" ? ANSWERS.get(item.type) : undefined;
    if (answer === undefined || typeof item.call_id !== "string") continue;
    if (!calls.has(`${answer.call}:${item.call_id}`))
      throw invalidRequest(`No tool call found for ${answer.words} with call_id ${item.call_id}.`, "input");
  }
}
