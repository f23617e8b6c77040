// Items stored as ordered rows (`response_items`, `conversation_items`): one position per item, a
// large item continuing over parts 1, 2... Splitting items into rows, joining the parts back, and
// the cursor page by item id that `input_items` and a conversation's items share. Used by
// src/db/responses.ts and src/db/conversations.ts.

import { and, asc, between, desc, eq, gt, lt, type SQL } from "drizzle-orm";
import { AFTER_NOT_FOUND, pageOf, type AfterNotFound, type Db, type Page, type PageQuery } from "./client";
import type { conversationItems, responseItems } from "./schema";
import { splitText } from "./split";

export interface StoredItem {
  itemId: string;
  /** The item as sent upstream, JSON. */
  data: string;
}

/** The columns both item tables share. */
export interface ItemPart {
  position: number;
  part: number;
  itemId: string;
  data: string;
}

/** The rows of `items` from position `first` on, each item split into parts that fit a row. */
export function itemParts(first: number, items: readonly StoredItem[]): ItemPart[] {
  return items.flatMap((item, index) =>
    splitText(item.data).map((data, part) => ({ position: first + index, part, itemId: item.itemId, data })),
  );
}

/** Rows read in (position, part) order, joined back into one row per position (the first part's fields). */
export function joinParts<R extends { position: number; data: string }>(rows: readonly R[]): R[] {
  const joined: R[] = [];
  for (const row of rows) {
    const last = joined.at(-1);
    if (last !== undefined && last.position === row.position) last.data += row.data;
    else joined.push({ ...row });
  }
  return joined;
}

type ItemTable = typeof responseItems | typeof conversationItems;

/**
 * A page of the items of `table` within `scope`, after the item `after` (exclusive; the first
 * item with that id, should a client have reused one) in `order`. Reads positions first, so a
 * page of split items is `limit` items, not `limit` rows. An `after` the scope no longer holds
 * pages on from the position `deletedAt` gives it, if any (where a deleted item stood).
 */
export async function pageItems(
  db: Db,
  table: ItemTable,
  scope: SQL | undefined,
  query: PageQuery,
  deletedAt: (itemId: string) => Promise<number | undefined> = () => Promise.resolve(undefined),
): Promise<Page<StoredItem> | AfterNotFound> {
  let cursor: SQL | undefined;
  if (query.after !== null) {
    const [anchor] = await db
      .select({ position: table.position })
      .from(table)
      .where(and(scope, eq(table.itemId, query.after)))
      .orderBy(asc(table.position))
      .limit(1);
    const position = anchor?.position ?? (await deletedAt(query.after));
    if (position === undefined) return AFTER_NOT_FOUND;
    cursor = query.order === "asc" ? gt(table.position, position) : lt(table.position, position);
  }
  const positions = await db
    .selectDistinct({ position: table.position })
    .from(table)
    .where(and(scope, cursor))
    .orderBy(query.order === "asc" ? asc(table.position) : desc(table.position))
    .limit(query.limit + 1);
  const page = pageOf(
    positions.map((row) => row.position),
    query.limit,
  );
  if (page.items.length === 0) return { items: [], hasMore: false };
  // The page's positions are the first of the scope's in order, so its range holds no others. A
  // range, not `IN (...)`: D1 binds at most 100 values a statement, and a page has up to 100 items.
  const low = Math.min(...page.items);
  const high = Math.max(...page.items);
  const rows = await db
    .select({ position: table.position, itemId: table.itemId, data: table.data })
    .from(table)
    .where(and(scope, between(table.position, low, high)))
    .orderBy(asc(table.position), asc(table.part));
  const byPosition = new Map(joinParts(rows).map((row) => [row.position, row]));
  return {
    items: page.items.flatMap((position) => {
      const row = byPosition.get(position);
      return row === undefined ? [] : [{ itemId: row.itemId, data: row.data }];
    }),
    hasMore: page.hasMore,
  };
}
