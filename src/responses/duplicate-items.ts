// Item ids are unique within a context, as OpenAI requires: a request whose own items repeat an id
// (among themselves, or of an item of the chain or conversation they join) is refused with OpenAI's
// `400 Duplicate item found with id …` before any upstream call or write. The item lists page by
// item id (`after`), so a repeated id would make a cursor ambiguous: the SDK's auto-pagination
// looped on it forever, and a conversation's newest-first pages skipped items.

import { invalidRequest, type ApiError } from "../errors";
import type { InputItem } from "./types";

/**
 * Types whose `id` does not name the item itself: a reference names the item it stands for, and a
 * local shell output names its call by `id`.
 */
const NOT_OWN_ID: ReadonlySet<string> = new Set(["item_reference", "local_shell_call_output"]);

export const duplicateItem = (id: string, param: string): ApiError =>
  invalidRequest(
    `Duplicate item found with id ${id.slice(0, 128)}. Remove duplicate items from your input and try again.`,
    param,
  );

/** The item's own id, if it carries one. */
export function ownItemId(item: InputItem): string | undefined {
  if (typeof item.type === "string" && NOT_OWN_ID.has(item.type)) return undefined;
  return typeof item.id === "string" && item.id !== "" ? item.id : undefined;
}

/**
 * Throws OpenAI's error for the first of the request's own items (`context` from index `ownFrom`)
 * whose id an earlier item of the context, or of the request, already has. `existing` adds ids the
 * context holds elsewhere (a conversation's items, for an append). History is not checked against
 * itself: what the gateway stored was accepted when it was sent.
 */
export function checkDuplicateIds(
  context: readonly InputItem[],
  ownFrom: number,
  param = "input",
  existing: ReadonlySet<string> = new Set(),
): void {
  const seen = new Set(existing);
  context.forEach((item, index) => {
    const id = ownItemId(item);
    if (id === undefined) return;
    if (index >= ownFrom && seen.has(id)) throw duplicateItem(id, param);
    seen.add(id);
  });
}
