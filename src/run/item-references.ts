// `item_reference` input items replaced by the stored items they name, before anything else reads the
// input: the gateway calls a `responses` upstream statelessly (`store: false`), so the upstream could
// not resolve them, and a Chat Completions server has no stored items at all. The Vercel AI SDK sends
// one for every earlier assistant item of a chat by default. Used by the create route and the
// input_tokens and compact routes.

import type { Db } from "../db/client";
import {
  CLOSED_LIST_CONVERSATIONS,
  CONVERSATION_LOOKUP_BYTES,
  CONVERSATION_LOOKUP_WINDOW,
  findConversationItems,
  findPastLists,
  type ConversationLookupBounds,
} from "../db/conversation-item-lookup";
import { ITEM_IDS_MAX_CHARS } from "../db/conversations";
import { findOutputItems, ITEM_LOOKUP_WINDOW, pastItemLookupWindow } from "../db/item-lookup";
import { historyMiss, invalidRequest } from "../errors";
import type { InputItem } from "../responses/types";

/**
 * Distinct ids one request may reference: each chunk of them reads the tenant's windows of responses
 * and conversations in D1 (their item id lists), so the body's JSON-values limit alone let a store:false
 * create name some 50,000 and run over a thousand such reads. A stored input holds at most this many
 * items anyway (INPUT_MAX_ITEMS), so no client chaining stored items sends more.
 */
export const MAX_ITEM_REFERENCES = 2048;

const isReference = (item: InputItem): boolean => item.type === "item_reference" && typeof item.id === "string";

export const hasItemReferences = (input: readonly InputItem[]): boolean => input.some(isReference);

/** What the lookup read: each bound named only where it left something out. */
function lookedIn(pastResponses: boolean, bounds: ConversationLookupBounds): string {
  const count = (n: number) => n.toLocaleString("en-US");
  const responses = pastResponses
    ? `your ${count(ITEM_LOOKUP_WINDOW)} most recent stored responses`
    : "all your stored responses";
  let conversations = bounds.pastWindow
    ? `your ${count(CONVERSATION_LOOKUP_WINDOW)} most recent conversations`
    : "all your conversations";
  if (bounds.pastBytes)
    conversations += `, newest first, as far as their lists of item ids total ${count(CONVERSATION_LOOKUP_BYTES / 1_000_000)} MB (older ones were not looked in)`;
  if (bounds.closedUnread > 0)
    conversations +=
      `; items added after a conversation's list of item ids filled (${count(ITEM_IDS_MAX_CHARS)} characters) are looked for ` +
      `in your ${count(CLOSED_LIST_CONVERSATIONS)} most recent such conversations only, and ${count(bounds.closedUnread)} more were not read`;
  return `The gateway looked for it in the output of ${responses} and the items of ${conversations}.`;
}

const itemNotFound = (id: string, param: string, where: string) =>
  historyMiss(
    invalidRequest(
      `Item with id '${id.slice(0, 128)}' not found. Items are not persisted when \`store\` is set to false. ` +
        `Try again with \`store\` set to true, or remove this item from your input. (${where})`,
      param,
    ),
  );

/**
 * `input` with each reference replaced by the stored item it names: a stored response's output item,
 * else an item of one of the tenant's conversations; refuses one it cannot find (`param`: where the
 * items came from).
 */
export async function resolveItemReferences(
  db: Db,
  tenantId: string,
  input: InputItem[],
  param = "input",
): Promise<InputItem[]> {
  const ids = [...new Set(input.filter(isReference).map((item) => item.id as string))];
  if (ids.length === 0) return input;
  if (ids.length > MAX_ITEM_REFERENCES)
    throw invalidRequest(
      `Invalid '${param}': too many item references. Expected at most ${MAX_ITEM_REFERENCES} distinct \`item_reference\` ids, but got ${ids.length} instead.`,
      param,
      // OpenAI's code for an array over its limit.
      "array_above_max_length",
    );
  const found: Map<string, InputItem> = await findOutputItems(db, tenantId, ids);
  const elsewhere = ids.filter((id) => !found.has(id));
  if (elsewhere.length > 0)
    for (const [id, item] of await findConversationItems(db, tenantId, elsewhere)) found.set(id, item);
  const unlisted = ids.filter((id) => !found.has(id));
  if (unlisted.length > 0) {
    // Not in any list read: in a conversation whose list is closed, or named where the lookup stopped.
    const past = await findPastLists(db, tenantId, unlisted);
    for (const [id, item] of past.found) found.set(id, item);
    const absent = unlisted.find((id) => !found.has(id));
    if (absent !== undefined)
      throw itemNotFound(absent, param, lookedIn(await pastItemLookupWindow(db, tenantId), past.bounds));
  }
  return input.map((item) => (isReference(item) ? (found.get(item.id as string) as InputItem) : item));
}
