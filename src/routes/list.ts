// Cursor lists as OpenAI serves them: the `limit`, `order` and `after` query parameters, the 400
// for an `after` that is not one of the caller's rows, and the envelope
// `{object: "list", data, first_id, last_id, has_more}`. Used by every list route.

import type { ListOrder, PageQuery } from "../db/client";
import { invalidRequest, type ApiError } from "../errors";
import { checkEnum, checkRange } from "../responses/validation";

/** Page sizes OpenAI's lists accept, and the size when none is asked for. */
export const MAX_PAGE_LIMIT = 100;
export const DEFAULT_PAGE_LIMIT = 20;

export function parseLimit(value: string | null): number {
  if (value === null || value === "") return DEFAULT_PAGE_LIMIT;
  // Any run of digits is an integer (a large one is then out of range); only a non-integer is the wrong type.
  if (!/^-?\d+$/.test(value))
    throw invalidRequest(
      `Invalid 'limit': expected an integer, but got '${value.slice(0, 64)}' instead.`,
      "limit",
      "invalid_type",
    );
  const limit = Number(value);
  checkRange("limit", limit, 1, MAX_PAGE_LIMIT);
  return limit;
}

/** `desc` (newest first) unless `asc` is asked for. */
export function parseOrder(value: string | null): ListOrder {
  const order = value === null || value === "" ? "desc" : value;
  checkEnum("order", order, ["asc", "desc"]);
  return order as ListOrder;
}

/** `after` and `limit`, for lists in one fixed order. */
export function parseCursor(params: URLSearchParams): { after: string | null; limit: number } {
  return { limit: parseLimit(params.get("limit")), after: params.get("after") || null };
}

/** `after`, `limit` and `order`. */
export function parsePageQuery(params: URLSearchParams): PageQuery {
  const { limit, after } = parseCursor(params);
  return { limit, order: parseOrder(params.get("order")), after };
}

/** The 400 for an `after` the caller has no row for: `what` names the row, `where` the list (" in this response"). */
export const unknownCursor = (after: string | null, what: string, where = ""): ApiError =>
  invalidRequest(`Invalid 'after': no ${what} with id '${(after ?? "").slice(0, 128)}'${where}.`, "after", null);

export interface ListObject<T> {
  object: "list";
  data: T[];
  first_id: unknown;
  last_id: unknown;
  has_more: boolean;
}

/** OpenAI's list envelope; the SDK's cursor pages read `last_id` and `has_more`. */
export function listObject<T extends { id?: unknown }>(data: T[], hasMore: boolean): ListObject<T> {
  return { object: "list", data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: hasMore };
}
