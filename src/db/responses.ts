// The only D1 queries on responses and their items, events and snapshots. Writers return
// statements so the run can send each flush as one `db.batch` (one transaction, one round trip).
// Used by the ResponseRun DO (through its recorder), context expansion and the response routes.

import { and, asc, eq, gt, gte, sql } from "drizzle-orm";
import type { JsonObject, ResponseObject } from "../responses/types";
import {
  chunk,
  rowsPerStatement,
  type AfterNotFound,
  type Db,
  type Page,
  type PageQuery,
  type Statement,
} from "./client";
import { endTurnStatements } from "./conversations";
import { itemParts, joinParts, pageItems, type StoredItem } from "./item-rows";
import { blobs, responseEvents, responseItems, responses } from "./schema";
import { splitText } from "./split";
import { storedUsageStatement, tokenCount, tokensOf } from "./usage";

// Where the run imports them from.
export type { Statement } from "./client";
export type { StoredItem } from "./item-rows";

export interface NewResponseRow {
  id: string;
  tenantId: string;
  apiKeyId: string | null;
  status: string;
  model: string;
  background: boolean;
  store: boolean;
  createdAt: number;
  previousResponseId: string | null;
  conversationId: string | null;
  metadata: Record<string, string>;
  request: JsonObject;
  snapshot: ResponseObject;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

function itemRows(responseId: string, tenantId: string, kind: "input" | "output", first: number, items: StoredItem[]) {
  return itemParts(first, items).map((part) => ({ responseId, tenantId, kind, ...part }));
}

function insertItems(db: Db, rows: ReturnType<typeof itemRows>): Statement[] {
  return chunk(rows, rowsPerStatement(7)).map((group) => db.insert(responseItems).values(group).onConflictDoNothing());
}

/** Statements that write `value` either inline (returned) or split into `blobs` rows. */
function snapshotColumn(
  db: Db,
  ownerId: string,
  value: ResponseObject,
): { inline: string | null; statements: Statement[] } {
  const parts = splitText(JSON.stringify(value));
  const clear = db.delete(blobs).where(and(eq(blobs.ownerId, ownerId), eq(blobs.name, "snapshot")));
  if (parts.length === 1) return { inline: parts[0] as string, statements: [clear] };
  const rows = parts.map((data, part) => ({ ownerId, name: "snapshot", part, data }));
  return {
    inline: null,
    statements: [clear, ...chunk(rows, rowsPerStatement(4)).map((group) => db.insert(blobs).values(group))],
  };
}

/** The response row and its input items, written when a run starts (idempotent on retry). */
export function insertResponseStatements(db: Db, row: NewResponseRow, inputItems: StoredItem[]): Statement[] {
  const snapshot = snapshotColumn(db, row.id, row.snapshot);
  return [
    ...snapshot.statements,
    db
      .insert(responses)
      .values({
        id: row.id,
        tenantId: row.tenantId,
        apiKeyId: row.apiKeyId,
        status: row.status,
        model: row.model,
        background: row.background,
        store: row.store,
        createdAt: row.createdAt,
        updatedAt: nowSeconds(),
        previousResponseId: row.previousResponseId,
        conversationId: row.conversationId,
        metadata: JSON.stringify(row.metadata),
        request: JSON.stringify(row.request),
        snapshot: snapshot.inline,
      })
      .onConflictDoNothing(),
    ...insertItems(db, itemRows(row.id, row.tenantId, "input", 0, inputItems)),
  ];
}

/** Packs frames `firstSeq...` into event rows; a frame too big for a row is split over parts. */
export function eventStatements(db: Db, responseId: string, firstSeq: number, frames: string[]): Statement[] {
  const rows: { responseId: string; firstSeq: number; part: number; lastSeq: number; frames: string }[] = [];
  let packed: string[] = [];
  let packedChars = 0;
  let packedFirst = firstSeq;
  const flushPacked = (lastSeq: number) => {
    if (packed.length === 0) return;
    rows.push({ responseId, firstSeq: packedFirst, part: 0, lastSeq, frames: packed.join("") });
    packed = [];
    packedChars = 0;
  };
  frames.forEach((frame, index) => {
    const seq = firstSeq + index;
    if (frame.length > MAX_PACKED_CHARS) {
      flushPacked(seq - 1);
      splitText(frame).forEach((part, partIndex) =>
        rows.push({ responseId, firstSeq: seq, part: partIndex, lastSeq: seq, frames: part }),
      );
      packedFirst = seq + 1;
      return;
    }
    if (packedChars + frame.length > MAX_PACKED_CHARS) {
      flushPacked(seq - 1);
      packedFirst = seq;
    }
    packed.push(frame);
    packedChars += frame.length;
  });
  flushPacked(firstSeq + frames.length - 1);
  // A retried flush rewrites the same range: clear what an earlier attempt may have written.
  return [
    db
      .delete(responseEvents)
      .where(and(eq(responseEvents.responseId, responseId), gte(responseEvents.firstSeq, firstSeq))),
    ...chunk(rows, rowsPerStatement(5)).map((group) => db.insert(responseEvents).values(group)),
  ];
}

/** Frames per packed event row are bounded by size, not count: at most this many characters. */
export const MAX_PACKED_CHARS = 500_000;

export function progressStatement(db: Db, responseId: string, status: string, eventCount: number): Statement {
  return db.update(responses).set({ status, eventCount, updatedAt: nowSeconds() }).where(eq(responses.id, responseId));
}

export interface FinalState {
  responseId: string;
  tenantId: string;
  snapshot: ResponseObject;
  eventCount: number;
  inputCount: number;
  outputItems: StoredItem[];
  /** The conversation the response ran on: its items join it, and it is released, in this batch. */
  conversationId?: string | null;
}

/** The terminal write: snapshot, status, output items. Run after the last events are flushed. */
export function finalStatements(db: Db, final: FinalState): Statement[] {
  const { snapshot } = final;
  const column = snapshotColumn(db, final.responseId, snapshot);
  return [
    ...column.statements,
    db
      .delete(responseItems)
      .where(and(eq(responseItems.responseId, final.responseId), gte(responseItems.position, final.inputCount))),
    ...insertItems(db, itemRows(final.responseId, final.tenantId, "output", final.inputCount, final.outputItems)),
    // Before the status update: usage counts and the append run only while the row is not yet terminal.
    storedUsageStatement(db, final.responseId, final.tenantId, tokensOf(snapshot.usage)),
    ...(final.conversationId
      ? endTurnStatements(db, { ...final, conversationId: final.conversationId, snapshot })
      : []),
    db
      .update(responses)
      .set({
        status: snapshot.status,
        snapshot: column.inline,
        completedAt: typeof snapshot.completed_at === "number" ? snapshot.completed_at : null,
        inputTokens: tokenCount(snapshot.usage, "input_tokens"),
        outputTokens: tokenCount(snapshot.usage, "output_tokens"),
        eventCount: final.eventCount,
        updatedAt: nowSeconds(),
      })
      .where(and(eq(responses.id, final.responseId), eq(responses.tenantId, final.tenantId))),
  ];
}

export type ResponseRow = typeof responses.$inferSelect;

export async function findResponse(db: Db, tenantId: string, id: string): Promise<ResponseRow | undefined> {
  return db.query.responses.findFirst({ where: and(eq(responses.id, id), eq(responses.tenantId, tenantId)) });
}

/** The stored snapshot of a row, reassembled from `blobs` when it was split. */
export async function readSnapshot(db: Db, row: Pick<ResponseRow, "id" | "snapshot">): Promise<ResponseObject> {
  if (row.snapshot !== null) return JSON.parse(row.snapshot) as ResponseObject;
  const parts = await db
    .select({ data: blobs.data })
    .from(blobs)
    .where(and(eq(blobs.ownerId, row.id), eq(blobs.name, "snapshot")))
    .orderBy(asc(blobs.part));
  return JSON.parse(parts.map((part) => part.data).join("")) as ResponseObject;
}

/** Rows per page when replaying: enough parts for the largest single event (32 MiB / 600k chars). */
const REPLAY_PAGE_ROWS = 64;

/** Frames of events after `afterSeq`, in order, read in pages of packed rows. */
export async function* readFrames(db: Db, responseId: string, afterSeq: number): AsyncGenerator<string> {
  let cursor = afterSeq;
  for (;;) {
    const rows = await db
      .select()
      .from(responseEvents)
      .where(and(eq(responseEvents.responseId, responseId), gt(responseEvents.lastSeq, cursor)))
      .orderBy(asc(responseEvents.firstSeq), asc(responseEvents.part))
      .limit(REPLAY_PAGE_ROWS);
    if (rows.length === 0) return;
    const complete = rows.length < REPLAY_PAGE_ROWS;
    // Rows sharing a first_seq are the parts of one split frame (or one packed row).
    const groups: { firstSeq: number; lastSeq: number; text: string }[] = [];
    for (const row of rows) {
      const last = groups.at(-1);
      if (last !== undefined && last.firstSeq === row.firstSeq) last.text += row.frames;
      else groups.push({ firstSeq: row.firstSeq, lastSeq: row.lastSeq, text: row.frames });
    }
    // On a full page the last group may be missing parts: it is read again with the next page.
    if (!complete && groups.length > 1) groups.pop();
    for (const group of groups) {
      const frames = group.text.split(FRAME_END).slice(0, -1);
      for (const frame of frames.slice(Math.max(0, cursor + 1 - group.firstSeq))) yield `${frame}${FRAME_END}`;
      cursor = group.lastSeq;
    }
    if (complete) return;
  }
}

/** SSE frames end with a blank line; JSON data lines never contain a raw newline. */
const FRAME_END = "\n\n";

/** The chain ending at `id` (oldest first), or which link is missing. */
export interface ChainLink {
  id: string;
  previousResponseId: string | null;
  status: string;
}

export async function readChain(db: Db, tenantId: string, id: string): Promise<ChainLink[]> {
  const rows = await db.all<{ id: string; prev: string | null; status: string }>(sql`
    WITH RECURSIVE chain(id, prev, status, depth) AS (
      SELECT id, previous_response_id, status, 0 FROM responses WHERE id = ${id} AND tenant_id = ${tenantId} AND store = 1
      UNION ALL
      SELECT r.id, r.previous_response_id, r.status, c.depth + 1
        FROM responses r JOIN chain c ON r.id = c.prev
       WHERE r.tenant_id = ${tenantId} AND r.store = 1
    )
    SELECT id, prev, status FROM chain ORDER BY depth DESC`);
  return rows.map((row) => ({ id: row.id, previousResponseId: row.prev, status: row.status }));
}

/** Input and output items of the given responses, oldest response first, in position order. */
export async function readChainItems(db: Db, tenantId: string, ids: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const id of ids) {
    const rows = await db
      .select({ position: responseItems.position, data: responseItems.data })
      .from(responseItems)
      .where(and(eq(responseItems.responseId, id), eq(responseItems.tenantId, tenantId)))
      .orderBy(asc(responseItems.position), asc(responseItems.part));
    for (const item of joinParts(rows)) out.push(item.data);
  }
  return out;
}

/** A page of a response's input items for `input_items`, after the item `after` (exclusive). */
export async function pageInputItems(
  db: Db,
  tenantId: string,
  responseId: string,
  query: PageQuery,
): Promise<Page<StoredItem> | AfterNotFound> {
  const scope = and(
    eq(responseItems.responseId, responseId),
    eq(responseItems.tenantId, tenantId),
    eq(responseItems.kind, "input"),
  );
  return pageItems(db, responseItems, scope, query);
}

/** Deletes a response and every row it owns. Returns false when the tenant has no such response. */
export async function deleteResponse(db: Db, tenantId: string, id: string): Promise<boolean> {
  const results = await db.batch([
    db
      .delete(responses)
      .where(and(eq(responses.id, id), eq(responses.tenantId, tenantId)))
      .returning({ id: responses.id }),
    db.delete(responseItems).where(and(eq(responseItems.responseId, id), eq(responseItems.tenantId, tenantId))),
    db
      .delete(responseEvents)
      .where(
        and(
          eq(responseEvents.responseId, id),
          sql`EXISTS (SELECT 1 FROM ${responses} WHERE ${responses.id} = ${id}) = 0`,
        ),
      ),
    db
      .delete(blobs)
      .where(and(eq(blobs.ownerId, id), sql`EXISTS (SELECT 1 FROM ${responses} WHERE ${responses.id} = ${id}) = 0`)),
  ]);
  return results[0].length > 0;
}
