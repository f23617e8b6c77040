// A response whose D1 row is not written yet because D1 refused it (the DO's alarm retries): the
// record its ResponseRun keeps meanwhile, and what lookups answer from it. Used by the DO and by
// the routes under /v1/responses/{id} (via `awaitRecord`).

import { AFTER_NOT_FOUND, type AfterNotFound, type Page, type PageQuery } from "../db/client";
import type { NewResponseRow, ResponseRow, StoredItem } from "../db/responses";

/** The row and input items a run could not write to D1 yet. */
export interface PendingRow {
  row: NewResponseRow;
  inputItems: StoredItem[];
}

/** The row as D1 will hold it, and the input items, for lookups while D1 lacks them. */
export interface PendingRecord {
  row: ResponseRow;
  inputItems: StoredItem[];
}

/** What a ResponseRun says of a response whose row a lookup did not find in D1. */
export type RecordLookup = "stored" | "unknown" | PendingRecord;

export function pendingRecord({ row, inputItems }: PendingRow): PendingRecord {
  return {
    row: {
      id: row.id,
      tenantId: row.tenantId,
      // Never terminal: every route then asks the object for the current snapshot and events.
      status: row.status,
      model: row.model,
      background: row.background,
      store: row.store,
      createdAt: row.createdAt,
      completedAt: null,
      updatedAt: row.createdAt,
      previousResponseId: row.previousResponseId,
      conversationId: row.conversationId,
      metadata: JSON.stringify(row.metadata),
      request: JSON.stringify(row.request),
      snapshot: JSON.stringify(row.snapshot),
      inputTokens: null,
      outputTokens: null,
      eventCount: 0,
      apiKeyId: row.apiKeyId,
    },
    inputItems,
  };
}

/** A page of `items` (in position order) after the item `after`, as `pageInputItems` pages D1. */
export function pagePendingItems(items: StoredItem[], options: PageQuery): Page<StoredItem> | AfterNotFound {
  const ordered = options.order === "asc" ? items : [...items].reverse();
  let start = 0;
  if (options.after !== null) {
    const anchor = ordered.findIndex((item) => item.itemId === options.after);
    if (anchor === -1) return AFTER_NOT_FOUND;
    start = anchor + 1;
  }
  const page = ordered.slice(start, start + options.limit);
  return { items: page, hasMore: start + options.limit < ordered.length };
}
