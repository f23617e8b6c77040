// Which reasoning items of a create's context the gateway leaves out of its upstream call, for the
// Response's `input_transformations` (src/responses/input-transformations.ts): the gateway's own
// (made over Chat Completions) to a Responses route (gateway-reasoning.ts); what a Responses route's
// `reasoning_input` leaves out (reasoning-input.ts); on a chat route, every item whose text does
// not go on an assistant message (none, or no assistant message follows it: chat-completions/messages.ts),
// and all of them with `reasoning_sent_as: null`. Each is reported
// as `model_mismatch`, the nearest of OpenAI's reasons; an item without an id cannot be named.

import { NOTHING_WITHHELD, removedEntry, type WithheldReasoning } from "../responses/input-transformations";
import type { InputItem } from "../responses/types";
import type { CreateRequest } from "../responses/create-request";
import { toMessages } from "./chat-completions/messages";
import { ChatToolSet } from "./chat-completions/tool-set";
import type { UpstreamTarget } from "./client";
import { leavesOut } from "./reasoning-input";
import { isGatewayReasoning } from "./reasoning-seal";

/** The reasoning items a chat route sends the text of: those an assistant message follows, before any other. */
function chatSent(request: CreateRequest, sent: InputItem[]): Set<InputItem> {
  const went: InputItem[] = [];
  try {
    toMessages(request.instructions, sent, ChatToolSet.from(request.body, sent), went);
  } catch {
    // The body cannot be built either: no call is made.
  }
  return new Set(went);
}

/** Whether `target` sends nothing of each reasoning item of `sent` (as given to `buildBody`). */
function leftOut(target: UpstreamTarget, request: CreateRequest, sent: InputItem[]): (item: InputItem) => boolean {
  if (target.protocol.name === "responses") return (item) => leavesOut(item, target.reasoningInput ?? "keep");
  if (target.reasoningSentAs === null) return () => true;
  const went = chatSent(request, sent);
  return (item) => !went.has(item);
}

const named = (item: InputItem): boolean => item.type === "reasoning" && typeof item.id === "string" && item.id !== "";

/**
 * The reasoning items of `context` (the chain, conversation and input expanded) that `target` is not
 * sent; `sent` is what was given to `buildBody` (gateway reasoning handled, compaction done).
 */
export function withheldReasoning(
  target: UpstreamTarget,
  request: CreateRequest,
  context: readonly InputItem[],
  sent: InputItem[],
): WithheldReasoning {
  // A warm-up calls no model (warm-up.ts).
  if (target.warmUp === true) return NOTHING_WITHHELD;
  // Most contexts hold no reasoning item: a chat route's would be translated a second time for nothing.
  if (!context.some(named) && !sent.some(named)) return NOTHING_WITHHELD;
  const removed = new Set<string>();
  if (target.protocol.name === "responses")
    for (const item of context) if (named(item) && isGatewayReasoning(item)) removed.add(item.id as string);
  const isLeftOut = leftOut(target, request, sent);
  for (const item of sent) if (named(item) && isLeftOut(item)) removed.add(item.id as string);
  const order = [...new Set([...context, ...sent].filter(named).map((item) => item.id as string))];
  return { entries: order.filter((id) => removed.has(id)).map(removedEntry), order };
}
