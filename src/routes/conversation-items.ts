// /v1/conversations/{id}/items: list (cursor pagination, `order`, `include[]`), create (appended
// after the last item, in order, in one batch), and GET/DELETE of one item by id.

import {
  appendItemsStatements,
  deleteConversationItem as deleteItemRows,
  findConversationItem,
  pageConversationItems,
} from "../db/conversations";
import type { StoredItem } from "../db/responses";
import { ApiError, invalidRequest } from "../errors";
import { identifyItems, itemResource } from "../responses/items";
import type { InputItem, JsonObject } from "../responses/types";
import { missing } from "../responses/validation";
import { json, type RouteContext } from "./context";
import { conversationObject, findOwnConversation, readObjectBody, validateItems } from "./conversations";
import { parseLimit, parseOrder } from "./list-input-items";
import { pathParam } from "./lookup";

const itemNotFound = (id: string): ApiError =>
  new ApiError(404, `Item with id '${id.slice(0, 128)}' not found.`, { param: null, code: null });

const view = (item: StoredItem): JsonObject => itemResource(JSON.parse(item.data) as InputItem, item.itemId);

const list = (data: JsonObject[], hasMore: boolean): Response =>
  json({
    object: "list",
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: hasMore,
  });

export async function listConversationItems(route: RouteContext): Promise<Response> {
  const url = new URL(route.request.url);
  const limit = parseLimit(url.searchParams.get("limit"));
  const order = parseOrder(url.searchParams.get("order"));
  const after = url.searchParams.get("after");
  const { caller, db, row } = await findOwnConversation(route);
  const page = await pageConversationItems(db, caller.tenantId, row.id, { after: after || null, limit, order });
  if (page === "after_not_found")
    throw invalidRequest(
      `Invalid 'after': no item with id '${(after ?? "").slice(0, 128)}' in this conversation.`,
      "after",
      null,
    );
  return list(page.items.map(view), page.hasMore);
}

export async function createConversationItems(route: RouteContext): Promise<Response> {
  const { caller, db, row } = await findOwnConversation(route);
  const body = await readObjectBody(route);
  if (body.items === undefined) throw missing("items");
  const items = validateItems(body.items);
  if (items.length === 0)
    throw invalidRequest(
      "Invalid 'items': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      "items",
      "empty_array",
    );
  const stored = identifyItems(items).map(({ id, item }) => ({ itemId: id, data: JSON.stringify(item) }));
  const statements = appendItemsStatements(db, caller.tenantId, row.id, stored);
  await db.batch(statements as [(typeof statements)[number], ...typeof statements]);
  return list(stored.map(view), false);
}

export async function retrieveConversationItem(route: RouteContext): Promise<Response> {
  const { caller, db, row } = await findOwnConversation(route);
  const itemId = pathParam(route.request.params.itemId);
  const item = await findConversationItem(db, caller.tenantId, row.id, itemId);
  if (item === undefined) throw itemNotFound(itemId);
  return json(view(item));
}

export async function deleteConversationItem(route: RouteContext): Promise<Response> {
  const { caller, db, row } = await findOwnConversation(route);
  const itemId = pathParam(route.request.params.itemId);
  if (!(await deleteItemRows(db, caller.tenantId, row.id, itemId))) throw itemNotFound(itemId);
  return json(conversationObject(row));
}
