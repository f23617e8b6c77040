// Builds the full context sent upstream: the `previous_response_id` chain expanded into input items
// (inputs and outputs of every ancestor, oldest first; `instructions` are never inherited), or the
// `conversation`'s items, in order, before the request's own input.
// Used by the ResponseRun DO, the store:false path and the input_tokens/compact routes; runs before
// anything is written.

import type { Db } from "../db/client";
import { findConversation, readConversationItems } from "../db/conversations";
import { readChain } from "../db/responses";
import { conversationNotFound, invalidRequest } from "../errors";
import type { CreateRequest } from "../responses/create-request";
import type { InputItem } from "../responses/types";
import { TERMINAL_STATUSES } from "../responses/types";

export const previousNotFound = (id: string) =>
  invalidRequest(`Previous response with id '${id}' not found.`, "previous_response_id", "previous_response_not_found");

/** What context expansion reads of a request. */
export type ContextRequest = Pick<CreateRequest, "input" | "previousResponseId" | "conversationId">;

export async function expandContext(db: Db, tenantId: string, request: ContextRequest): Promise<InputItem[]> {
  if (request.conversationId !== null) return expandConversation(db, tenantId, request.conversationId, request.input);
  const previous = request.previousResponseId;
  if (previous === null) return request.input;
  const { links, items } = await readChain(db, tenantId, previous);
  const parent = links.at(-1);
  if (parent === undefined || parent.id !== previous) throw previousNotFound(previous);
  const root = links[0];
  // A chain whose oldest stored link still points further back lost an ancestor (deleted).
  if (root?.previousResponseId) throw previousNotFound(root.previousResponseId);
  if (!TERMINAL_STATUSES.has(parent.status))
    throw invalidRequest(
      `Previous response with id '${previous}' is still ${parent.status}. Wait for it to finish before continuing from it.`,
      "previous_response_id",
      "previous_response_in_progress",
    );
  return [...items, ...request.input];
}

async function expandConversation(
  db: Db,
  tenantId: string,
  conversationId: string,
  input: InputItem[],
): Promise<InputItem[]> {
  // Another tenant's conversation answers exactly like an unknown one.
  if ((await findConversation(db, tenantId, conversationId)) === undefined)
    throw conversationNotFound(conversationId.slice(0, 128), "conversation");
  const history = await readConversationItems(db, tenantId, conversationId);
  return [...history.map((data) => JSON.parse(data) as InputItem), ...input];
}
