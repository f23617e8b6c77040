// The only D1 queries on conversations and their items. Items keep their order by position: every
// append takes positions from the conversation's `next_position` inside the same batch, so two
// appends never interleave. Used by the conversation routes, context expansion and the run's end.

import { and, asc, eq, inArray, sql, type SQL } from "drizzle-orm";
import { TERMINAL_STATUSES } from "../responses/types";
import {
  chunk,
  rowsPerStatement,
  type AfterNotFound,
  type Db,
  type Page,
  type PageQuery,
  type Statement,
} from "./client";
import { listable } from "./id-lists";
import { itemParts, joinParts, pageItems, type StoredItem } from "./item-rows";
import { conversationItems, conversations } from "./schema";

/**
 * A conversation's row without its item id list, which only a reference's lookup reads, and where
 * its deleted items stood, which only a list's cursor reads.
 */
export type ConversationRow = Omit<typeof conversations.$inferSelect, "itemIds" | "deletedItems">;

/** The row's columns but those two lists (up to `ITEM_IDS_MAX_CHARS` a turn need not carry). */
const ROW_COLUMNS = {
  id: conversations.id,
  tenantId: conversations.tenantId,
  createdAt: conversations.createdAt,
  metadata: conversations.metadata,
  nextPosition: conversations.nextPosition,
  activeResponseId: conversations.activeResponseId,
  activeUntil: conversations.activeUntil,
};

/**
 * Length at which a conversation's `item_ids` stops growing (some 9,000 ids the gateway mints), far
 * below D1's 2 MB row. The first append that does not fit closes the list (CLOSED_LIST_END) for
 * good: the items added from then on are looked up in the conversation's rows instead
 * (src/db/conversation-item-lookup.ts), which knows the list left them out.
 */
export const ITEM_IDS_MAX_CHARS = 500_000;

/** How a closed list ends: a list ends each id with one space, so only a closed one ends with two. */
export const CLOSED_LIST_END = "  ";

/** Ids as `item_ids` lists them after its leading space: each followed by one (none with NUL, see id-lists.ts). */
const idsListed = (items: readonly StoredItem[]): string =>
  items.flatMap((item) => (listable(item.itemId) ? [`${item.itemId} `] : [])).join("");

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Statuses whose items join the conversation: the model finished a turn (fully or cut short). */
export const APPENDED_STATUSES: ReadonlySet<string> = new Set(["completed", "incomplete"]);

const TERMINAL_SQL = sql.raw(`(${[...TERMINAL_STATUSES].map((status) => `'${status}'`).join(", ")})`);

/** A new conversation with its first items (positions 0..n-1), in one batch. */
export async function insertConversation(
  db: Db,
  row: { id: string; tenantId: string; createdAt: number; metadata: Record<string, string> },
  items: StoredItem[],
): Promise<ConversationRow> {
  const values = {
    id: row.id,
    tenantId: row.tenantId,
    createdAt: row.createdAt,
    metadata: JSON.stringify(row.metadata),
    nextPosition: items.length,
    activeResponseId: null,
    activeUntil: null,
  };
  const rows = itemParts(0, items).map((part) => ({
    conversationId: row.id,
    tenantId: row.tenantId,
    createdAt: row.createdAt,
    ...part,
  }));
  const listed = idsListed(items);
  const itemIds = listed.length < ITEM_IDS_MAX_CHARS ? ` ${listed}` : CLOSED_LIST_END;
  await db.batch([
    db.insert(conversations).values({ ...values, itemIds }),
    ...chunk(rows, rowsPerStatement(7)).map((group) => db.insert(conversationItems).values(group)),
  ]);
  return values;
}

export async function findConversation(db: Db, tenantId: string, id: string): Promise<ConversationRow | undefined> {
  const [row] = await db
    .select(ROW_COLUMNS)
    .from(conversations)
    .where(and(eq(conversations.id, id), eq(conversations.tenantId, tenantId)));
  return row;
}

export async function updateConversationMetadata(
  db: Db,
  tenantId: string,
  id: string,
  metadata: Record<string, string>,
): Promise<ConversationRow | undefined> {
  const rows = await db
    .update(conversations)
    .set({ metadata: JSON.stringify(metadata) })
    .where(and(eq(conversations.id, id), eq(conversations.tenantId, tenantId)))
    .returning(ROW_COLUMNS);
  return rows[0];
}

/** Deletes a conversation and its items. False when the tenant has no such conversation. */
export async function deleteConversation(db: Db, tenantId: string, id: string): Promise<boolean> {
  const [deleted] = await db.batch([
    db
      .delete(conversations)
      .where(and(eq(conversations.id, id), eq(conversations.tenantId, tenantId)))
      .returning({ id: conversations.id }),
    db
      .delete(conversationItems)
      .where(and(eq(conversationItems.conversationId, id), eq(conversationItems.tenantId, tenantId))),
  ]);
  return deleted.length > 0;
}

/**
 * Item rows a multi-row append statement carries within D1's 100 bound values: 4 a row, and the
 * statement's own (time, conversation id, tenant id, and a turn's guard: response id, tenant id).
 */
const APPEND_ROWS_PER_STATEMENT = Math.floor((100 - 5) / 4);

/**
 * Appends `items` after the conversation's last item, then moves `next_position` past them. Rows of
 * a conversation that is gone (deleted meanwhile) are simply not written; with `guard`, nothing is
 * written unless it holds. Run as one batch.
 */
export function appendItemsStatements(
  db: Db,
  tenantId: string,
  conversationId: string,
  items: StoredItem[],
  guard: SQL = sql`1`,
): Statement[] {
  if (items.length === 0) return [];
  const now = nowSeconds();
  const rows = itemParts(0, items).map(
    ({ position, part, itemId, data }) => sql`(${position}, ${part}, ${itemId}, ${data})`,
  );
  const listed = idsListed(items);
  return [
    ...chunk(rows, APPEND_ROWS_PER_STATEMENT).map((group) =>
      // Columns in the table's order: conversation_id, tenant_id, position, part, item_id, data, created_at.
      db.insert(conversationItems).select(sql`
        SELECT c.id, c.tenant_id, c.next_position + v.column1, v.column2, v.column3, v.column4, ${now}
          FROM ${conversations} c, (VALUES ${sql.join(group, sql`, `)}) v
         WHERE c.id = ${conversationId} AND c.tenant_id = ${tenantId} AND ${guard}`),
    ),
    db
      .update(conversations)
      .set({
        nextPosition: sql`${conversations.nextPosition} + ${items.length}`,
        // Listed in the update the append makes anyway: a reference's lookup costs the append no row.
        // Closed by the first append past the length: one that fits later would leave a gap in it.
        itemIds: sql`CASE WHEN substr(${conversations.itemIds}, -2) = ${CLOSED_LIST_END} THEN ${conversations.itemIds}
          WHEN length(${conversations.itemIds}) + ${listed.length} <= ${ITEM_IDS_MAX_CHARS}
          THEN ${conversations.itemIds} || ${listed} ELSE ${conversations.itemIds} || ' ' END`,
      })
      .where(and(eq(conversations.id, conversationId), eq(conversations.tenantId, tenantId), guard)),
  ];
}

/**
 * The end of a stored response's turn, for its terminal batch: when the model finished the turn,
 * the request's input and the response's output items join the conversation after its last item;
 * then the conversation is released. A retried batch appends nothing twice: the append only runs
 * while the response row is not yet terminal (or, for a row the batch inserts ended, not there yet),
 * and the batch writes that row after it.
 */
export function appendTurnStatements(
  db: Db,
  turn: { tenantId: string; conversationId: string; responseId: string; items: StoredItem[]; status: string },
  rowBefore: "running" | "absent" = "running",
): Statement[] {
  const { tenantId, conversationId, responseId } = turn;
  const release = releaseConversationStatement(db, tenantId, conversationId, responseId);
  if (!APPENDED_STATUSES.has(turn.status)) return [release];
  const guard =
    rowBefore === "running"
      ? sql`(SELECT status FROM responses WHERE id = ${responseId} AND tenant_id = ${tenantId}) NOT IN ${TERMINAL_SQL}`
      : sql`NOT EXISTS (SELECT 1 FROM responses WHERE id = ${responseId} AND tenant_id = ${tenantId})`;
  return [...appendItemsStatements(db, tenantId, conversationId, turn.items, guard), release];
}

export type ClaimOutcome = "claimed" | "busy" | "missing";

/**
 * Claims the conversation for one response's turn until `until` (unix seconds): a lease its run
 * renews while it lives. The claim is one conditional UPDATE, so of two responses racing for it
 * exactly one wins. The same response may claim again (an idempotent retry); a claim whose holder
 * died lapses at its `until`.
 */
export async function claimConversation(
  db: Db,
  tenantId: string,
  conversationId: string,
  responseId: string,
  until: number,
): Promise<ClaimOutcome> {
  const now = nowSeconds();
  const scope = and(eq(conversations.id, conversationId), eq(conversations.tenantId, tenantId));
  const claimed = await db
    .update(conversations)
    .set({ activeResponseId: responseId, activeUntil: until })
    .where(
      and(
        scope,
        sql`(${conversations.activeResponseId} IS NULL OR ${conversations.activeResponseId} = ${responseId} OR ${conversations.activeUntil} <= ${now})`,
        // A lapsed claim is free unless its turn's client came back (a reader it holds: src/stream/follow.ts).
        sql`NOT EXISTS (SELECT 1 FROM responses r WHERE r.tenant_id = ${tenantId} AND r.id = ${conversations.activeResponseId} AND r.id <> ${responseId} AND r.client_left > ${now} AND r.status NOT IN ${TERMINAL_SQL})`,
      ),
    )
    .returning({ id: conversations.id });
  if (claimed.length > 0) return "claimed";
  return (await findConversation(db, tenantId, conversationId)) === undefined ? "missing" : "busy";
}

/** Sets `responseId`'s lease on the conversation to `until` (unix seconds), if it still holds the claim. */
const leaseUpdate = (db: Db, tenantId: string, conversationId: string, responseId: string, until: number) =>
  db
    .update(conversations)
    .set({ activeUntil: until })
    .where(
      and(
        eq(conversations.id, conversationId),
        eq(conversations.tenantId, tenantId),
        eq(conversations.activeResponseId, responseId),
      ),
    );

/** Extends `responseId`'s claim to `until` (unix seconds) while it still holds it: its lease is alive. */
export function renewClaimStatement(
  db: Db,
  tenantId: string,
  conversationId: string,
  responseId: string,
  until: number,
): Statement {
  return leaseUpdate(db, tenantId, conversationId, responseId, until);
}

/**
 * A claim's lease set to `until` (unix seconds) while `responseId` still holds it; its one row comes
 * back when it does. `until` 0 yields the claim: a foreground turn whose client left keeps it only
 * until another response claims the conversation (a claim past its `until` is free to take), and
 * learns it lost it when this finds no row.
 */
export function holdClaimStatement(
  db: Db,
  tenantId: string,
  conversationId: string,
  responseId: string,
  until: number,
) {
  return leaseUpdate(db, tenantId, conversationId, responseId, until).returning({ id: conversations.id });
}

/** Releases the conversation if `responseId` still holds it. */
export function releaseConversationStatement(
  db: Db,
  tenantId: string,
  conversationId: string,
  responseId: string,
): Statement {
  return db
    .update(conversations)
    .set({ activeResponseId: null, activeUntil: null })
    .where(
      and(
        eq(conversations.id, conversationId),
        eq(conversations.tenantId, tenantId),
        eq(conversations.activeResponseId, responseId),
      ),
    );
}

/** The rows of one tenant's conversation. */
const itemsOf = (tenantId: string, conversationId: string) =>
  and(eq(conversationItems.conversationId, conversationId), eq(conversationItems.tenantId, tenantId));

/** Every item of a conversation in order, as stored: its id and the item as it was sent upstream, JSON. */
export async function readConversationItems(db: Db, tenantId: string, conversationId: string): Promise<StoredItem[]> {
  const rows = await db
    .select({ position: conversationItems.position, itemId: conversationItems.itemId, data: conversationItems.data })
    .from(conversationItems)
    .where(itemsOf(tenantId, conversationId))
    .orderBy(asc(conversationItems.position), asc(conversationItems.part));
  return joinParts(rows).map(({ itemId, data }) => ({ itemId, data }));
}

/**
 * The conversation's items before the first of `turnItemIds` (a turn's own items), in order: what
 * that turn was answered after. None when the turn's items are no longer in the conversation.
 */
export async function readConversationItemsBefore(
  db: Db,
  tenantId: string,
  conversationId: string,
  turnItemIds: string[],
): Promise<string[]> {
  if (turnItemIds.length === 0) return [];
  // The turn's items sit together: its first few place it, within D1's 100 bound parameters.
  const placing = turnItemIds.slice(0, 20);
  const scope = itemsOf(tenantId, conversationId);
  const turnStart = db
    .select({ position: sql`min(${conversationItems.position})` })
    .from(conversationItems)
    .where(and(scope, inArray(conversationItems.itemId, placing)));
  const rows = await db
    .select({ position: conversationItems.position, data: conversationItems.data })
    .from(conversationItems)
    .where(and(scope, sql`${conversationItems.position} < (${turnStart})`))
    .orderBy(asc(conversationItems.position), asc(conversationItems.part));
  return joinParts(rows).map((item) => item.data);
}

/** Which of `itemIds` the conversation already holds. */
export async function conversationItemIdsAmong(
  db: Db,
  tenantId: string,
  conversationId: string,
  itemIds: string[],
): Promise<Set<string>> {
  if (itemIds.length === 0) return new Set();
  const rows = await db
    .selectDistinct({ itemId: conversationItems.itemId })
    .from(conversationItems)
    .where(and(itemsOf(tenantId, conversationId), inArray(conversationItems.itemId, itemIds)));
  return new Set(rows.map((row) => row.itemId));
}

/**
 * A page of a conversation's items after the item `after` (exclusive), in `order`. An `after`
 * deleted since its page pages on from where it stood, so a loop that deletes each item it lists
 * (the SDK's auto-pagination) reaches the end.
 */
export async function pageConversationItems(
  db: Db,
  tenantId: string,
  conversationId: string,
  query: PageQuery,
): Promise<Page<StoredItem> | AfterNotFound> {
  const scope = itemsOf(tenantId, conversationId);
  return pageItems(db, conversationItems, scope, query, (itemId) =>
    deletedItemPosition(db, tenantId, conversationId, itemId),
  );
}

/**
 * Characters of `deleted_items` past which it restarts with the newest deletion alone (some 1,600
 * deletions of ids the gateway mints): a cursor names an item deleted since its page, among the last.
 */
export const DELETED_ITEMS_MAX_CHARS = 100_000;

/** Where the conversation's deleted item `itemId` stood (its latest deletion), if it is still recorded. */
async function deletedItemPosition(
  db: Db,
  tenantId: string,
  conversationId: string,
  itemId: string,
): Promise<number | undefined> {
  const [row] = await db.all<{ position: number }>(sql`
    SELECT json_extract(d.value, '$[1]') AS position
      FROM ${conversations} c, json_each(c.deleted_items) d
     WHERE c.id = ${conversationId} AND c.tenant_id = ${tenantId} AND json_extract(d.value, '$[0]') = ${itemId}
     ORDER BY d.key DESC LIMIT 1`);
  return typeof row?.position === "number" ? row.position : undefined;
}

/** One item of a conversation by id (the first, should a client have reused an id). */
export async function findConversationItem(
  db: Db,
  tenantId: string,
  conversationId: string,
  itemId: string,
): Promise<StoredItem | undefined> {
  const scope = and(itemsOf(tenantId, conversationId), eq(conversationItems.itemId, itemId));
  const rows = await db
    .select({ position: conversationItems.position, itemId: conversationItems.itemId, data: conversationItems.data })
    .from(conversationItems)
    .where(scope)
    .orderBy(asc(conversationItems.position), asc(conversationItems.part));
  const first = joinParts(rows)[0];
  return first === undefined ? undefined : { itemId: first.itemId, data: first.data };
}

/**
 * Deletes an item (every row with its id), its id from `item_ids`, and records where it stood in
 * `deleted_items` (a cursor naming it pages on from there). False when the conversation has no such item.
 */
export async function deleteConversationItem(
  db: Db,
  tenantId: string,
  conversationId: string,
  itemId: string,
): Promise<boolean> {
  const [, deleted] = await db.batch([
    // First, and only for an item it holds (its rows are read once, for its position): an id with a
    // space in it (`a b`) is also the text of two neighbours in the list, which a refused delete
    // would otherwise unlist. The entry is kept whole or not at all: a huge id is not recorded.
    db
      .update(conversations)
      .set({
        itemIds: sql`replace(${conversations.itemIds}, ${` ${itemId} `}, ' ')`,
        deletedItems: sql`CASE
          WHEN length(gone.entry) > ${DELETED_ITEMS_MAX_CHARS} THEN ${conversations.deletedItems}
          WHEN length(${conversations.deletedItems}) + length(gone.entry) < ${DELETED_ITEMS_MAX_CHARS}
            THEN json_insert(${conversations.deletedItems}, '$[#]', json(gone.entry))
          ELSE json_array(json(gone.entry)) END`,
      })
      .from(
        sql`(SELECT min(position) AS position, json_array(${itemId}, min(position)) AS entry
               FROM ${conversationItems}
              WHERE conversation_id = ${conversationId} AND tenant_id = ${tenantId} AND item_id = ${itemId}) gone`,
      )
      .where(
        and(eq(conversations.id, conversationId), eq(conversations.tenantId, tenantId), sql`gone.position IS NOT NULL`),
      ),
    db
      .delete(conversationItems)
      .where(and(itemsOf(tenantId, conversationId), eq(conversationItems.itemId, itemId)))
      .returning({ position: conversationItems.position }),
  ]);
  return deleted.length > 0;
}
