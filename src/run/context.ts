// Builds the full context sent upstream: the `previous_response_id` chain expanded into input items
// (inputs and outputs of every ancestor, oldest first; `instructions` are never inherited), or the
// `conversation`'s items, in order, before the request's own input; the request's own tool outputs
// and item ids are checked against it.
// A parent D1 shows running may have ended in its background object, D1 having refused the end: the
// object is asked; a create ends a running foreground parent whose client left (`endLeft`). Used by
// the stored runs, the store:false path and the input_tokens/compact routes (which end nothing);
// runs before anything is written.

import type { Db } from "../db/client";
import { findConversation, readConversationItems, readConversationItemsBefore } from "../db/conversations";
import { clientGone, findResponse, readChain, type ResponseRow } from "../db/responses";
import { ApiError, conversationNotFound, historyMiss, invalidRequest } from "../errors";
import type { CreateRequest } from "../responses/create-request";
import { checkDuplicateIds } from "../responses/duplicate-items";
import { checkConversationOutputs, checkToolOutputs } from "../responses/tool-outputs";
import type { InputItem, ResponseObject } from "../responses/types";
import { TERMINAL_STATUSES } from "../responses/types";
import { runningStreams } from "../stream/client-checks";
import { leftMarkWritten, rowWritten } from "../stream/unwritten-rows";

export const previousNotFound = (id: string) =>
  historyMiss(
    invalidRequest(
      `Previous response with id '${id}' not found.`,
      "previous_response_id",
      "previous_response_not_found",
    ),
  );

/** What context expansion reads of a request. */
export type ContextRequest = Pick<CreateRequest, "input" | "previousResponseId" | "conversationId">;

/** A parent that ended (its object says so) but whose end D1 refuses yet: retryable, as any storage fault. */
const parentNotRecorded = (id: string): ApiError =>
  new ApiError(
    503,
    `Previous response with id '${id}' has ended, but the gateway could not record its end yet because its storage is unavailable; try again.`,
    {
      type: "server_error",
      param: "previous_response_id",
      code: "storage_unavailable",
      headers: { "retry-after": "1" },
    },
  );

/**
 * A background response's snapshot from its object (null when it runs nothing). Asking it also makes
 * it write an end D1 refused before, or end a run it lost, as any read of it does.
 */
export type BackgroundSnapshot = (responseId: string) => Promise<ResponseObject | null>;

/**
 * Ends a running foreground response whose client left (src/stream/dead-run.ts `endLeftRun`): a chat
 * UI that stopped a stream continues from it at once, its partial answer in context.
 */
export type EndLeftRun = (row: ResponseRow) => Promise<void>;

/**
 * The status of a parent that D1 shows running, as its background object knows it (null when it is
 * not a background run): it may have ended, its end refused by D1, and a client polling it may chain
 * at once; or it may be running where D1 still shows it queued. A foreground parent whose client
 * left is ended first (`endLeft`): its status is then the one D1 has.
 */
async function liveStatus(
  db: Db,
  tenantId: string,
  id: string,
  background: BackgroundSnapshot | undefined,
  endLeft: EndLeftRun | undefined,
): Promise<string | null> {
  if (background === undefined && endLeft === undefined) return null;
  let row = await findResponse(db, tenantId, id);
  if (row === undefined) return null;
  if (!row.background) {
    if (endLeft === undefined) return null;
    // Its client left a moment ago in this isolate: the row is marked so once that flush lands.
    if (!clientGone(row) && (await leftMarkWritten(tenantId, id))) row = (await findResponse(db, tenantId, id)) ?? row;
    // A stream of this isolate whose client may have left unnoticed (a model thinking silently):
    // asked, a run whose client is gone marks its row left, and the row is read again.
    if (!clientGone(row) && (await runningStreams.check(tenantId, id)))
      row = (await findResponse(db, tenantId, id)) ?? row;
    // Its client is there: it may have ended meanwhile (the checks can wait a second or two).
    if (!clientGone(row)) return (await findResponse(db, tenantId, id))?.status ?? null;
    await endLeft(row);
    // Its end, or the run's own if that came first (the chain is read again after).
    return (await findResponse(db, tenantId, id))?.status ?? null;
  }
  return (await background?.(id))?.status ?? null;
}

/** The full context of `request`, its own tool outputs checked against the calls in it (tool-outputs.ts). */
export async function expandContext(
  db: Db,
  tenantId: string,
  request: ContextRequest,
  background?: BackgroundSnapshot,
  endLeft?: EndLeftRun,
): Promise<InputItem[]> {
  const context = await gatherContext(db, tenantId, request, background, endLeft);
  const ownFrom = context.length - request.input.length;
  checkToolOutputs(context, ownFrom);
  checkDuplicateIds(context, ownFrom);
  return context;
}

async function gatherContext(
  db: Db,
  tenantId: string,
  request: ContextRequest,
  background: BackgroundSnapshot | undefined,
  endLeft: EndLeftRun | undefined,
): Promise<InputItem[]> {
  if (request.conversationId !== null) return expandConversation(db, tenantId, request.conversationId, request.input);
  const previous = request.previousResponseId;
  if (previous === null) return request.input;
  let { links, items, rootItemIds } = await readChain(db, tenantId, previous);
  // A response this isolate runs may not have written its row yet (it does with its end, or a second in).
  if (links.at(-1)?.id !== previous && (await rowWritten(tenantId, previous)))
    ({ links, items, rootItemIds } = await readChain(db, tenantId, previous));
  const parent = links.at(-1);
  if (parent === undefined || parent.id !== previous) throw previousNotFound(previous);
  const root = links[0];
  // A chain whose oldest stored link still points further back lost an ancestor (deleted).
  if (root?.previousResponseId) throw previousNotFound(root.previousResponseId);
  if (!TERMINAL_STATUSES.has(parent.status)) {
    const status = (await liveStatus(db, tenantId, previous, background, endLeft)) ?? parent.status;
    if (!TERMINAL_STATUSES.has(status))
      throw invalidRequest(
        `Previous response with id '${previous}' is still ${status}. Wait for it to finish before continuing from it.`,
        "previous_response_id",
        "previous_response_in_progress",
      );
    // Asked, its object wrote the end it kept (or the left run was ended): read again. Still running
    // in D1: D1 refuses it yet.
    ({ links, items, rootItemIds } = await readChain(db, tenantId, previous));
    if (!TERMINAL_STATUSES.has(links.at(-1)?.status ?? "")) throw parentNotRecorded(previous);
  }
  // A chain that starts at a conversation's turn was answered after the conversation's earlier items
  // (OpenAI prepends them to that turn's input): they come first, as that turn saw them.
  const conversation = root?.conversationId ?? null;
  const before =
    conversation === null ? [] : await readConversationItemsBefore(db, tenantId, conversation, rootItemIds);
  return [...before.map((data) => JSON.parse(data) as InputItem), ...items, ...request.input];
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
  // Items the gateway named keep their id beside the item, not in it: the request may not reuse one.
  checkDuplicateIds(input, 0, "input", new Set(history.map((item) => item.itemId)));
  const context = [...history.map((item) => JSON.parse(item.data) as InputItem), ...input];
  checkConversationOutputs(
    context,
    history.length,
    history.map((item) => item.itemId),
    conversationId,
  );
  return context;
}
