// GET /v1/responses/{id}/input_items: the response's own input items, as a cursor-paginated list.

import { pageInputItems } from "../db/responses";
import { invalidRequest } from "../errors";
import { itemResource } from "../responses/items";
import type { InputItem } from "../responses/types";
import { checkEnum, checkRange } from "../responses/validation";
import { json, type RouteContext } from "./context";
import { pageItems } from "../run/pending-record";
import { findOwnResponse } from "./lookup";

export function parseLimit(value: string | null, fallback = 20): number {
  if (value === null || value === "") return fallback;
  if (!/^-?\d{1,6}$/.test(value))
    throw invalidRequest(
      `Invalid 'limit': expected an integer, but got '${value.slice(0, 64)}' instead.`,
      "limit",
      "invalid_type",
    );
  const limit = Number(value);
  checkRange("limit", limit, 1, 100);
  return limit;
}

export function parseOrder(value: string | null): "asc" | "desc" {
  const order = value === null || value === "" ? "desc" : value;
  checkEnum("order", order, ["asc", "desc"]);
  return order as "asc" | "desc";
}

export async function listInputItems(route: RouteContext): Promise<Response> {
  const url = new URL(route.request.url);
  const limit = parseLimit(url.searchParams.get("limit"));
  const order = parseOrder(url.searchParams.get("order"));
  const after = url.searchParams.get("after");
  const { caller, db, row, pendingInputItems } = await findOwnResponse(route);
  const options = { after: after || null, limit, order };
  const page =
    pendingInputItems === undefined
      ? await pageInputItems(db, caller.tenantId, row.id, options)
      : pageItems(pendingInputItems, options);
  if (page === "after_not_found")
    throw invalidRequest(
      `Invalid 'after': no input item with id '${(after ?? "").slice(0, 128)}' in this response.`,
      "after",
      null,
    );
  const data = page.items.map((item) => itemResource(JSON.parse(item.data) as InputItem, item.itemId));
  return json({
    object: "list",
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: page.hasMore,
  });
}
