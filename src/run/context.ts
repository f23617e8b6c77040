// Builds the full context sent upstream: the `previous_response_id` chain expanded into input items
// (inputs and outputs of every ancestor, oldest first; `instructions` are never inherited).
// Used by the ResponseRun DO and by the store:false path; runs before anything is written.

import type { Db } from "../db/client";
import { readChain, readChainItems } from "../db/responses";
import { invalidRequest } from "../errors";
import type { CreateRequest } from "../responses/create-request";
import type { InputItem } from "../responses/types";
import { TERMINAL_STATUSES } from "../responses/types";

export const previousNotFound = (id: string) =>
  invalidRequest(`Previous response with id '${id}' not found.`, "previous_response_id", "previous_response_not_found");

export async function expandContext(db: Db, tenantId: string, request: CreateRequest): Promise<InputItem[]> {
  const previous = request.previousResponseId;
  if (previous === null) return request.input;
  const chain = await readChain(db, tenantId, previous);
  const parent = chain.at(-1);
  if (parent === undefined || parent.id !== previous) throw previousNotFound(previous);
  const root = chain[0];
  // A chain whose oldest stored link still points further back lost an ancestor (deleted).
  if (root?.previousResponseId) throw previousNotFound(root.previousResponseId);
  if (!TERMINAL_STATUSES.has(parent.status))
    throw invalidRequest(
      `Previous response with id '${previous}' is still ${parent.status}. Wait for it to finish before continuing from it.`,
      "previous_response_id",
      "previous_response_in_progress",
    );
  const history = await readChainItems(
    db,
    tenantId,
    chain.map((link) => link.id),
  );
  return [...history.map((data) => JSON.parse(data) as InputItem), ...request.input];
}
