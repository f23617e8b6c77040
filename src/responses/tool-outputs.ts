// A tool output in a request must answer a call the model made: OpenAI refuses one whose call_id no
// call in the context carries (400, param `input`). Checked on the expanded context by run/context.ts,
// so every upstream gets OpenAI's answer, not its own (a chat server's template error, or a reply to
// a tool message that answers nothing). The other way round, a call left without its output, is
// checked here for the Chat Completions protocol only (a Responses upstream answers it itself). History
// is checked only where a client can change it: a conversation's items, one of which may be deleted.

import { invalidRequest } from "../errors";
import type { InputItem } from "./types";

/** The outputs checked, and the words OpenAI's message uses for each. */
const CHECKED_OUTPUTS: ReadonlyMap<string, string> = new Map([
  ["function_call_output", "function call output"],
  ["custom_tool_call_output", "custom tool call output"],
]);

/**
 * Items that may hold calls the gateway cannot see: a compaction summary (its calls are sealed in it)
 * and a reference to a stored item not resolved yet (a request's own references are resolved before
 * this check, src/run/item-references.ts; a conversation may keep one from before they were). With one of them in the context, an
 * output is given the benefit of the doubt.
 */
const OPAQUE_TYPES: ReadonlySet<string> = new Set(["compaction", "item_reference"]);

/**
 * The index of the first output among `context[from, to)` whose call_id no call in the whole context
 * carries (-1 when there is none, or an opaque item may hold its call). A call of any kind will do:
 * Codex answers a `local_shell_call` with a `function_call_output`.
 */
function firstOrphanOutput(context: readonly InputItem[], from: number, to: number): number {
  const range = context.slice(from, to);
  if (!range.some((item) => typeof item.type === "string" && CHECKED_OUTPUTS.has(item.type))) return -1;
  const calls = new Set<string>();
  for (const item of context) {
    if (typeof item.type !== "string") continue;
    if (OPAQUE_TYPES.has(item.type)) return -1;
    if (!item.type.endsWith("_output") && typeof item.call_id === "string") calls.add(item.call_id);
  }
  const orphan = range.findIndex(
    (item) =>
      typeof item.type === "string" &&
      CHECKED_OUTPUTS.has(item.type) &&
      typeof item.call_id === "string" &&
      !calls.has(item.call_id),
  );
  return orphan === -1 ? -1 : from + orphan;
}

/** OpenAI's words for an output that answers no call; the call_id is the client's own text, cut short. */
const noToolCall = (item: InputItem): string =>
  `No tool call found for ${CHECKED_OUTPUTS.get(item.type as string) ?? "tool call output"} with call_id ${String(item.call_id).slice(0, 128)}.`;

/**
 * Throws OpenAI's error for the first of the request's own outputs (`context` from index `ownFrom`)
 * whose call_id no call in the whole context carries.
 */
export function checkToolOutputs(context: readonly InputItem[], ownFrom: number): void {
  const orphan = firstOrphanOutput(context, ownFrom, context.length);
  const item = context[orphan];
  if (item !== undefined) throw invalidRequest(noToolCall(item), "input");
}

/**
 * Throws, naming the item, for the first of a conversation's items (`context` before `ownFrom`, ids
 * in `itemIds`) that is an output whose call the conversation no longer holds: its call was deleted
 * (or never added). Sent on, a Responses upstream refuses it (400, no item named) and a chat server
 * gets a tool message that answers nothing; the client can delete the item or add the call back.
 */
export function checkConversationOutputs(
  context: readonly InputItem[],
  ownFrom: number,
  itemIds: readonly string[],
  conversationId: string,
): void {
  const orphan = firstOrphanOutput(context, 0, ownFrom);
  const item = context[orphan];
  if (item === undefined) return;
  throw invalidRequest(
    `${noToolCall(item)} Item '${itemIds[orphan] ?? ""}' of conversation '${conversationId}' answers a call the conversation does not hold (was the call deleted?): delete the item, or add its call back.`,
    "conversation",
  );
}

/** The calls a client must answer before the model is asked again, and the words OpenAI's message uses. */
const ANSWERED_CALLS: ReadonlyMap<string, string> = new Map([
  ["function_call", "function call"],
  ["custom_tool_call", "custom tool call"],
]);

/**
 * Throws OpenAI's error for the first function or custom tool call in the context whose call_id no
 * output carries, wherever it is (a call answered later in the same input is answered). The chat
 * protocol asks it of the expanded context (and the compact route of its context): a chat server
 * sent such a call refuses it in its own words or answers as if the call had run. Outputs of any
 * kind answer (as checkToolOutputs pairs them); a server-executed tool search is not checked.
 * Only what follows the latest compaction item is checked: what it replaced is not sent (its
 * messages aside), and a call after it can be answered only after it.
 */
export function checkCallsAnswered(context: readonly InputItem[]): void {
  const live = context.slice(context.findLastIndex((item) => item.type === "compaction") + 1);
  const answered = new Set<string>();
  for (const item of live) {
    if (typeof item.type !== "string") continue;
    if (item.type === "item_reference") return;
    if (item.type.endsWith("_output") && typeof item.call_id === "string") answered.add(item.call_id);
  }
  for (const item of live) {
    const words = typeof item.type === "string" ? ANSWERED_CALLS.get(item.type) : undefined;
    if (words === undefined || typeof item.call_id !== "string" || answered.has(item.call_id)) continue;
    throw invalidRequest(`No tool output found for ${words} ${item.call_id.slice(0, 128)}.`, "input");
  }
}
