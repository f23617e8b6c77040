// GET /v1/responses/{id}/input_items: the response's own input items, as a cursor-paginated list.

import { AFTER_NOT_FOUND, pageOf, type AfterNotFound, type Page, type PageQuery } from "../db/client";
import { readInput, type StoredInput } from "../db/responses";
import { itemResource } from "../responses/items";
import type { JsonObject } from "../responses/types";
import { json, type RouteContext } from "./context";
import { withIncluded } from "./included-fields";
import { listObject, parsePageQuery, unknownCursor } from "./list";
import { findOwnResponse } from "./lookup";
import { checkIncludeQuery } from "../responses/validation";

/** A page of `items` (in position order) after the item `after` (the first with that id). */
export function pageInput(items: StoredInput, query: PageQuery): Page<StoredInput[number]> | AfterNotFound {
  const ordered = query.order === "asc" ? items : [...items].reverse();
  let start = 0;
  if (query.after !== null) {
    const anchor = ordered.findIndex((item) => item.id === query.after);
    if (anchor === -1) return AFTER_NOT_FOUND;
    start = anchor + 1;
  }
  return pageOf(ordered.slice(start, start + query.limit + 1), query.limit);
}

export async function listInputItems(route: RouteContext): Promise<Response> {
  const params = new URL(route.request.url).searchParams;
  const query = parsePageQuery(params);
  const include = checkIncludeQuery(params);
  const { db, row } = await findOwnResponse(route);
  const page = pageInput(await readInput(db, row), query);
  if (page === AFTER_NOT_FOUND) throw unknownCursor(query.after, "input item", " in this response");
  const data: JsonObject[] = page.items.map(({ id, item }) => withIncluded(itemResource(item, id), include));
  return json(listObject(data, page.hasMore));
}
