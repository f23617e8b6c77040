// Finds the conversation items an `item_reference` names. A conversation's row lists its items' ids
// (`item_ids`), and a lookup reads that list over the tenant's most recent conversations, newest
// first, then the named items' rows of the conversation that has each: no index on item ids, which
// would cost a billed row per item on every append for a lookup few clients make. Rows read: one a
// conversation of the window (by the `conversations_tenant` index), in one query however many ids,
// then the item rows of the conversations found, a hundred conversations a query, each by its key. Used by
// src/run/item-references.ts.

import { sql } from "drizzle-orm";
import type { InputItem } from "../responses/types";
import type { Db } from "./client";
import { idArrays, listAsJson } from "./id-lists";
import { CLOSED_LIST_END } from "./conversations";
import { joinParts } from "./item-rows";

/** How many of a tenant's most recent conversations a reference is looked up among. */
export const CONVERSATION_LOOKUP_WINDOW = 10_000;

/**
 * Bytes of item id lists a lookup reads, newest conversation first: older conversations past them are
 * not looked in. Splitting the lists is the query's work (some 15 ms a MB in local SQLite); the
 * window's 10,000 lists of up to ITEM_IDS_MAX_CHARS each could hold 5 GB, past D1's 30 s a query.
 */
export const CONVERSATION_LOOKUP_BYTES = 20_000_000;

/** Conversations whose item rows one query reads (each conversation's by its key). */
const CONVERSATIONS_PER_QUERY = 100;

interface ItemRow {
  conversationId: string;
  position: number;
  itemId: string;
  data: string;
}

/** The conversation items with these ids, as sent upstream (each from the newest conversation that has it); absent ids are left out. */
export async function findConversationItems(
  db: Db,
  tenantId: string,
  ids: readonly string[],
): Promise<Map<string, InputItem>> {
  /** For each id, the conversations whose list has it, newest first. */
  const candidates = new Map<string, string[]>();
  /** When each conversation found was created: the newest that has an id gives it. */
  const createdAt = new Map<string, number>();
  // A list separates its ids with spaces: an id with one cannot be told from two neighbours in it.
  const listed = ids.filter((id) => !/\s/.test(id));
  // One query for every id, the window read once (an instr per id per list took 136 s for 2,048 ids
  // over 26 MB of lists; split, 0.4 s). The window's running total takes only each list's size
  // (octet_length reads no text), and the lists within the bound are read by key after it: carried
  // through the window, every list of the window was read (5 GB at most) to keep 20 MB of them.
  for (const wanted of idArrays(listed)) {
    const rows = await db.all<{ id: string; createdAt: number; held: string }>(sql`
      SELECT c.id, c.created_at AS createdAt, json_group_array(e.value) AS held FROM (
        SELECT id FROM (
          SELECT id, sum(bytes) OVER (ORDER BY created_at DESC ROWS UNBOUNDED PRECEDING) AS bytes_read
            FROM (SELECT id, created_at, octet_length(item_ids) AS bytes FROM conversations
                   WHERE tenant_id = ${tenantId}
                   ORDER BY created_at DESC LIMIT ${CONVERSATION_LOOKUP_WINDOW}))
         WHERE bytes_read <= ${CONVERSATION_LOOKUP_BYTES}) w
       JOIN conversations c ON c.id = w.id AND c.tenant_id = ${tenantId}, json_each(${listAsJson("c.item_ids")}) e
       WHERE e.value IN (SELECT value FROM json_each(${wanted}))
       GROUP BY c.id
       ORDER BY c.created_at DESC`);
    for (const row of rows) {
      createdAt.set(row.id, row.createdAt);
      for (const id of new Set(JSON.parse(row.held) as string[]))
        candidates.set(id, [...(candidates.get(id) ?? []), row.id]);
    }
  }
  const found = new Map<string, InputItem>();
  // The rows decide (an item deleted meanwhile): the newest conversation that has it gives it. The
  // conversations found are read a group a query, not one each: 2,048 ids in as many conversations
  // were 2,048 queries, twice the 1,000 a Worker invocation may make of D1.
  const conversationIds = [...createdAt.keys()].sort((a, b) => (createdAt.get(b) ?? 0) - (createdAt.get(a) ?? 0));
  for (let start = 0; start < conversationIds.length; start += CONVERSATIONS_PER_QUERY) {
    const group = conversationIds.slice(start, start + CONVERSATIONS_PER_QUERY);
    const wanted = [...candidates]
      .filter(([id, holders]) => !found.has(id) && holders.some((holder) => group.includes(holder)))
      .map(([id]) => id);
    await readItemsInto(db, tenantId, group, wanted, found);
  }
  return found;
}

/**
 * Reads the items with these ids in these conversations into `found`, the first conversation that
 * has one giving it (an id already found is kept): a query a chunk of ids, all the conversations in it.
 */
async function readItemsInto(
  db: Db,
  tenantId: string,
  conversationIds: readonly string[],
  ids: readonly string[],
  found: Map<string, InputItem>,
): Promise<void> {
  const byConversation = new Map<string, ItemRow[]>();
  for (const wanted of idArrays(ids)) {
    const rows = await db.all<ItemRow>(sql`
      SELECT conversation_id AS conversationId, position, item_id AS itemId, data FROM conversation_items
       WHERE tenant_id = ${tenantId}
         AND conversation_id IN (SELECT value FROM json_each(${JSON.stringify(conversationIds)}))
         AND item_id IN (SELECT value FROM json_each(${wanted}))
       ORDER BY conversation_id, position, part`);
    for (const row of rows)
      byConversation.set(row.conversationId, [...(byConversation.get(row.conversationId) ?? []), row]);
  }
  for (const conversationId of conversationIds)
    for (const row of joinParts(byConversation.get(conversationId) ?? []))
      if (!found.has(row.itemId)) found.set(row.itemId, JSON.parse(row.data) as InputItem);
}

/** Conversations with a closed list (items added past ITEM_IDS_MAX_CHARS) whose rows a lookup reads, newest first. */
export const CLOSED_LIST_CONVERSATIONS = 10;

/** What kept a lookup from every stored item: the bounds it met, for the message refusing an id it did not find. */
export interface ConversationLookupBounds {
  /** The tenant has more conversations than CONVERSATION_LOOKUP_WINDOW. */
  pastWindow: boolean;
  /** Conversations of the window were left out once their lists passed CONVERSATION_LOOKUP_BYTES. */
  pastBytes: boolean;
  /** Conversations looked in whose list is closed, beyond the CLOSED_LIST_CONVERSATIONS whose rows were read. */
  closedUnread: number;
}

/**
 * The items with these ids in the conversations whose list of item ids is closed (the items added
 * after it filled are in no list), the newest CLOSED_LIST_CONVERSATIONS of those the list lookup
 * looked in, read from their rows (a scan of each conversation: no index on item ids); and what
 * bounded the lookup. Only for ids the lists did not have: a reference rarely names one.
 */
export async function findPastLists(
  db: Db,
  tenantId: string,
  ids: readonly string[],
): Promise<{ found: Map<string, InputItem>; bounds: ConversationLookupBounds }> {
  const [window] = await db.all<{ conversations: number; pastBytes: number; closed: string }>(sql`
    WITH w AS (
      SELECT id, n, sum(bytes) OVER (ORDER BY n ROWS UNBOUNDED PRECEDING) AS bytes_read FROM (
        SELECT id, row_number() OVER (ORDER BY created_at DESC) AS n, octet_length(item_ids) AS bytes
          FROM conversations WHERE tenant_id = ${tenantId}
         ORDER BY created_at DESC LIMIT ${CONVERSATION_LOOKUP_WINDOW + 1}))
    SELECT (SELECT count(*) FROM w) AS conversations,
           (SELECT count(*) FROM w WHERE n <= ${CONVERSATION_LOOKUP_WINDOW} AND bytes_read > ${CONVERSATION_LOOKUP_BYTES}) AS pastBytes,
           (SELECT json_group_array(id) FROM (
              SELECT w.id FROM w JOIN conversations c ON c.id = w.id AND c.tenant_id = ${tenantId}
               WHERE w.n <= ${CONVERSATION_LOOKUP_WINDOW} AND w.bytes_read <= ${CONVERSATION_LOOKUP_BYTES}
                 AND substr(c.item_ids, -2) = ${CLOSED_LIST_END}
               ORDER BY w.n)) AS closed`);
  const closed = JSON.parse(window?.closed ?? "[]") as string[];
  const read = closed.slice(0, CLOSED_LIST_CONVERSATIONS);
  const bounds: ConversationLookupBounds = {
    pastWindow: (window?.conversations ?? 0) > CONVERSATION_LOOKUP_WINDOW,
    pastBytes: (window?.pastBytes ?? 0) > 0,
    closedUnread: closed.length - read.length,
  };
  const found = new Map<string, InputItem>();
  const listed = ids.filter((id) => !/\s/.test(id));
  if (read.length === 0 || listed.length === 0) return { found, bounds };
  await readItemsInto(db, tenantId, read, listed, found);
  return { found, bounds };
}
