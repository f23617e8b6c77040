// /v1/conversations/{id}/items: list (cursor pagination, `order`, `include[]`), create (appended
// after the last item, in order, in one batch), and GET/DELETE of one item by id.

import { AFTER_NOT_FOUND, runBatch } from "../db/client";
import {
  appendItemsStatements,
  conversationItemIdsAmong,
  deleteConversationItem as deleteItemRows,
  findConversationItem,
  pageConversationItems,
} from "../db/conversations";
import type { StoredItem } from "../db/item-rows";
import { ApiError, historyMiss, invalidRequest } from "../errors";
import { readJsonObject } from "../http/json-body";
import { requireAcceptedKey } from "../http/key-acceptance";
import { checkDuplicateIds, ownItemId } from "../responses/duplicate-items";
import { itemResource, storedItems } from "../responses/items";
import type { InputItem, JsonObject } from "../responses/types";
import { checkIncludeQuery, missing } from "../responses/validation";
import { json, pathParam, type RouteContext } from "./context";
import { withIncluded } from "./included-fields";
import { resolveItemReferences } from "../run/item-references";
import { checkGatewaySeals } from "./conversation-seals";
import { conversationObject, findOwnConversation, validateItems } from "./conversations";
import { listObject, parsePageQuery, unknownCursor } from "./list";

const itemNotFound = (id: string): ApiError =>
  historyMiss(new ApiError(404, `Item with id '${id.slice(0, 128)}' not found.`, { param: null, code: null }));

/** An item as listed, with the fields `include` asks for. */
const view =
  (include: readonly string[]) =>
  (item: StoredItem): JsonObject =>
    withIncluded(itemResource(JSON.parse(item.data) as InputItem, item.itemId), include);

export async function listConversationItems(route: RouteContext): Promise<Response> {
  const params = new URL(route.request.url).searchParams;
  const query = parsePageQuery(params);
  const include = checkIncludeQuery(params);
  const { caller, db, row } = await findOwnConversation(route);
  const page = await pageConversationItems(db, caller.tenantId, row.id, query);
  if (page === AFTER_NOT_FOUND) throw unknownCursor(query.after, "item", " in this conversation");
  return json(listObject(page.items.map(view(include)), page.hasMore));
}

export async function createConversationItems(route: RouteContext): Promise<Response> {
  const include = checkIncludeQuery(new URL(route.request.url).searchParams);
  const { caller, db, row } = await findOwnConversation(route);
  const body = await readJsonObject(route.request, route.config.maxBodyBytes);
  if (body.items === undefined) throw missing("items");
  const items = validateItems(body.items);
  if (items.length === 0)
    throw invalidRequest(
      "Invalid 'items': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      "items",
      "empty_array",
    );
  await checkGatewaySeals(items, caller.tenantId, route.config.compactionSecret);
  const resolved = await resolveItemReferences(db, caller.tenantId, items, "items");
  // Ids stay unique within a conversation: its item list pages by them.
  const ids = resolved.map(ownItemId).filter((id): id is string => id !== undefined);
  checkDuplicateIds(resolved, 0, "items", await conversationItemIdsAmong(db, caller.tenantId, row.id, ids));
  const stored = storedItems(resolved);
  await requireAcceptedKey(caller, route.config);
  await runBatch(db, appendItemsStatements(db, caller.tenantId, row.id, stored));
  return json(listObject(stored.map(view(include)), false));
}

export async function retrieveConversationItem(route: RouteContext): Promise<Response> {
  const include = checkIncludeQuery(new URL(route.request.url).searchParams);
  const { caller, db, row } = await findOwnConversation(route);
  const itemId = pathParam(route.request.params.itemId);
  const item = await findConversationItem(db, caller.tenantId, row.id, itemId);
  if (item === undefined) throw itemNotFound(itemId);
  return json(view(include)(item));
}

export async function deleteConversationItem(route: RouteContext): Promise<Response> {
  const { caller, db, row } = await findOwnConversation(route);
  const itemId = pathParam(route.request.params.itemId);
  await requireAcceptedKey(caller, route.config);
  if (!(await deleteItemRows(db, caller.tenantId, row.id, itemId))) throw itemNotFound(itemId);
  return json(conversationObject(row));
}
