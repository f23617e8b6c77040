// GET /v1/responses/{id}/input_items: the response's own input items, as a cursor-paginated list.

import { AFTER_NOT_FOUND } from "../db/client";
import { pageInputItems } from "../db/responses";
import { itemResource } from "../responses/items";
import type { InputItem } from "../responses/types";
import { json, type RouteContext } from "./context";
import { listObject, parsePageQuery, unknownCursor } from "./list";
import { pagePendingItems } from "../run/pending-record";
import { findOwnResponse } from "./lookup";

export async function listInputItems(route: RouteContext): Promise<Response> {
  const query = parsePageQuery(new URL(route.request.url).searchParams);
  const { caller, db, row, pendingInputItems } = await findOwnResponse(route);
  const page =
    pendingInputItems === undefined
      ? await pageInputItems(db, caller.tenantId, row.id, query)
      : pagePendingItems(pendingInputItems, query);
  if (page === AFTER_NOT_FOUND) throw unknownCursor(query.after, "input item", " in this response");
  const data = page.items.map((item) => itemResource(JSON.parse(item.data) as InputItem, item.itemId));
  return json(listObject(data, page.hasMore));
}
