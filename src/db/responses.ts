// The only D1 queries on responses rows: the row a run writes when it starts, its heartbeat, the
// terminal write, lookups, the chain behind `previous_response_id`, input items, and deletion.
// Writers return statements so a run sends each write as one `db.batch` (one transaction, one round
// trip); values are compressed first, statements then built from the bytes. Every statement
// names the tenant. Used by the Worker's recorder, the background Durable Object and the routes.

import {
  and,
  asc,
  desc,
  eq,
  getTableColumns,
  gt,
  gte,
  inArray,
  isNotNull,
  lt,
  lte,
  notInArray,
  sql,
  type SQL,
} from "drizzle-orm";
import { idFloorAt } from "../responses/ids";
import type { InputItem, OutputItem, ResponseError, ResponseObject } from "../responses/types";
import { responseError, TERMINAL_STATUSES, textOf } from "../responses/types";
import type { Db, Statement } from "./client";
import { compressJson, compressText, fromDriver, hexOf, readBlob, readBlobSql, readBlobUnless } from "./codec";
import { appendTurnStatements } from "./conversations";
import { batchStatements, compressEvents, deleteEventsStatements, type RecordedEvent } from "./event-batches";
import { markKeysDeleted } from "./idempotency";
import { listable } from "./id-lists";
import { joinParts, type StoredItem } from "./item-rows";
import { MAX_INLINE_BYTES, placeValue, readValue, type Owner } from "./large-values";
import { prepareOnce, type Write } from "./prepared";
import { blobs, responseEvents, responseItems, responses } from "./schema";
import { ofAnyTenant } from "./tenant-scan";
import {
  insertedEndedUsageStatement,
  removedUsageStatement,
  storedUsageStatement,
  tokenCount,
  tokensOf,
} from "./usage";

export type { Statement } from "./client";
export type { StoredItem } from "./item-rows";

export type ResponseRow = typeof responses.$inferSelect;

const TERMINAL = [...TERMINAL_STATUSES];

/**
 * Every column of a response row, its compressed values read as hex (`readBlob`), except the events
 * tail of an ended response: a retrieve does not need it (up to 600 KB), and a replay reads it apart
 * (`readEvents`). A running row's tail comes with it (resuming or ending a run needs it).
 */
export const responseColumns = {
  ...getTableColumns(responses),
  input: readBlob(responses.input),
  snapshot: readBlob(responses.snapshot),
  output: readBlob(responses.output),
  eventsTail: readBlobUnless(responses.eventsTail, inArray(responses.status, TERMINAL)),
};

/** A response's input as stored: each item with the id it is listed under. */
export type StoredInput = { id: string; item: InputItem }[];

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
  snapshot: ResponseObject;
  input: StoredInput;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/**
 * A running row's snapshot up to this many characters is kept as JSON text: the end rewrites it
 * compressed, so compressing it at the start (about 0.1 ms of CPU) would buy nothing.
 */
const TEXT_START_SNAPSHOT_CHARS = 64 * 1024;

/** A response row ready to insert: its input compressed, its snapshot compressed or, when small, text. */
export interface EncodedRow {
  row: NewResponseRow;
  input: Uint8Array;
  snapshot: Uint8Array | string;
}

export function encodeRow(row: NewResponseRow): EncodedRow {
  const snapshot = JSON.stringify(row.snapshot);
  return {
    row,
    input: compressJson(row.input),
    snapshot: snapshot.length <= TEXT_START_SNAPSHOT_CHARS ? snapshot : compressText(snapshot),
  };
}

const ownerOf = (row: { id: string; tenantId: string }): Owner => ({ id: row.id, tenantId: row.tenantId });

/** The columns a response row is created with, apart from its values (input, snapshot...). */
const createdColumns = (row: NewResponseRow) => ({
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
  usageDeferred: 1,
});

/** The response row with its input, written when a run starts. A retry of the same insert writes nothing. */
export function insertResponseStatements(db: Db, encoded: EncodedRow): Statement[] {
  const { row } = encoded;
  const input = placeValue(db, ownerOf(row), "input", encoded.input);
  const snapshot =
    typeof encoded.snapshot === "string"
      ? { inline: encoded.snapshot, statements: [] }
      : placeValue(db, ownerOf(row), "snapshot", encoded.snapshot);
  return [
    ...input.statements,
    ...snapshot.statements,
    db
      .insert(responses)
      .values({ ...createdColumns(row), input: input.inline, snapshot: snapshot.inline })
      .onConflictDoNothing(),
  ];
}

/**
 * The row, while it runs (and, for an end written from D1's log, while that log is the one it read
 * and no client holds the run: see `clientGone`).
 */
const running = (owner: { responseId: string; tenantId: string; expectEventCount?: number }) =>
  and(
    eq(responses.id, owner.responseId),
    eq(responses.tenantId, owner.tenantId),
    notInArray(responses.status, TERMINAL),
    owner.expectEventCount === undefined ? undefined : eq(responses.eventCount, owner.expectEventCount),
    owner.expectEventCount === undefined ? undefined : lte(responses.clientLeft, nowSeconds()),
  );

/**
 * Whether the run's client is gone now (`client_left`): it left, and no reader it came back as
 * (an idempotent retry, a resume) holds the run.
 */
export const clientGone = (row: Pick<ResponseRow, "clientLeft">, now = nowSeconds()): boolean =>
  row.clientLeft !== null && row.clientLeft <= now;

/**
 * A reader the run's client came back as holds the run until `until` (unix seconds): its departure
 * counts from then. Only for a run whose client left (a run whose client stays has nothing to hold);
 * answers whether it holds it.
 */
export async function holdLeftRun(
  db: Db,
  owner: { responseId: string; tenantId: string },
  until: number,
): Promise<boolean> {
  const held = await db
    .update(responses)
    .set({ clientLeft: sql`max(${responses.clientLeft}, ${until})` })
    .where(and(running(owner), isNotNull(responses.clientLeft)))
    .returning({ id: responses.id });
  return held.length > 0;
}

/**
 * The reader that held the run left at `at` (unix seconds): the run's client is gone from then, not
 * from the hold's end, so its grace counts from then and the next turn may stop it at once.
 */
export async function releaseLeftRun(
  db: Db,
  owner: { responseId: string; tenantId: string },
  at: number,
): Promise<void> {
  await db
    .update(responses)
    .set({ clientLeft: sql`max(1, min(${responses.clientLeft}, ${at}))` })
    .where(and(running(owner), gt(responses.clientLeft, at)));
}

/** The run's `client_left` now (see `clientGone`); null for a row gone or never left. */
export async function clientLeftOf(db: Db, owner: { responseId: string; tenantId: string }): Promise<number | null> {
  const [row] = await db
    .select({ clientLeft: responses.clientLeft })
    .from(responses)
    .where(and(eq(responses.id, owner.responseId), eq(responses.tenantId, owner.tenantId)));
  return row?.clientLeft ?? null;
}

/** Whether the response's row is running: the guard of its run's batch rows. */
export const runningRow = (owner: { responseId: string; tenantId: string }): SQL =>
  sql`EXISTS (SELECT 1 FROM ${responses} WHERE ${running(owner)})`;

/** A running response's events not yet in a batch row: compressed, from `seq` on (null: none). */
export interface EventTail {
  seq: number | null;
  data: Uint8Array | null;
}

/**
 * The run is alive: its status, how many events D1 has, the time (the sweep ends silent runs) and,
 * when given, the events since the last batch row as the row's tail; `clientLeft` marks the run's
 * client gone (`client_left`).
 */
export function heartbeatStatement(
  db: Db,
  owner: { responseId: string; tenantId: string },
  status: string,
  eventCount: number,
  tail?: EventTail,
  clientLeft = false,
): Statement {
  const events = tail === undefined ? {} : { eventsTail: tail.data, tailSeq: tail.seq };
  // Marked only by the flush that follows a departure: a run whose client stays never writes it.
  const left = clientLeft ? { clientLeft: 1 } : {};
  return db
    .update(responses)
    .set({ status, eventCount, updatedAt: nowSeconds(), ...events, ...left })
    .where(running(owner))
    .returning({ id: responses.id });
}

/** The end of a run: its final snapshot, the events not in a batch row, and what ends with it. */
export interface FinalState {
  responseId: string;
  tenantId: string;
  snapshot: ResponseObject;
  /** Every event recorded, the tail included (the next sequence number). */
  eventCount: number;
  /** Events not in a batch row (the row's tail so far and the pending ones): the row's new tail (or batch rows when too large). */
  tail: RecordedEvent[];
  /** The conversation the response ran a turn on: its items join it (when finished) and it is released. */
  turn?: { conversationId: string; items: StoredItem[] } | null;
  /**
   * An end made from D1's log while the run may still write it (src/stream/dead-run.ts `endLeftRun`):
   * the `event_count` of the log it read. Every flush with events changes it, so the end lands only
   * on that log, none written since, and only while no reader its client came back as holds the run.
   */
  expectEventCount?: number;
}

export interface EncodedFinal {
  final: FinalState;
  snapshot: Uint8Array;
  output: Uint8Array;
  tail: Uint8Array | null;
}

/** The snapshot is kept without its output, which has a column of its own (chains read only that). */
export function encodeFinal(final: FinalState): EncodedFinal {
  const { output, ...rest } = final.snapshot;
  return {
    final,
    snapshot: compressJson(rest),
    output: compressJson(output),
    tail: final.tail.length === 0 ? null : compressEvents(final.tail),
  };
}

/** The end of a response whose row was never written: the row's own values, and its input compressed. */
export interface EncodedEnded extends EncodedFinal {
  row: NewResponseRow;
  input: Uint8Array;
}

export const encodeEnded = (row: NewResponseRow, final: FinalState): EncodedEnded => ({
  ...encodeFinal(final),
  row,
  input: compressJson(row.input),
});

/** The ids of output items as `output_item_ids` keeps them (src/db/item-lookup.ts); null when none has one. */
function itemIdList(output: OutputItem[]): string | null {
  const ids = output.flatMap((item) =>
    typeof item.id === "string" && item.id !== "" && listable(item.id) ? [item.id] : [],
  );
  return ids.length === 0 ? null : ` ${ids.join(" ")} `;
}

/** Output items as they are kept for a chain or a conversation: their id and JSON. */
export const outputItems = (output: OutputItem[], mint: () => string): StoredItem[] =>
  output.map((item) => ({ itemId: typeof item.id === "string" ? item.id : mint(), data: JSON.stringify(item) }));

/**
 * What an ended response's row holds, and the statements that place its values too large for it
 * (`rowInserted`: the same batch inserts the row, after them).
 */
function endedColumns(db: Db, encoded: EncodedFinal, rowInserted = false) {
  const { final } = encoded;
  const owner = { id: final.responseId, tenantId: final.tenantId };
  // Like the row's update, parts are written only while the row runs: not for a row deleted (or ended) meanwhile.
  const guard = rowInserted ? undefined : sql`EXISTS (SELECT 1 FROM ${responses} WHERE ${running(final)})`;
  const snapshot = placeValue(db, owner, "snapshot", encoded.snapshot, guard);
  const output = placeValue(db, owner, "output", encoded.output, guard);
  const firstTailSeq = final.tail[0]?.seq ?? null;
  const tailFits = encoded.tail !== null && encoded.tail.byteLength <= MAX_INLINE_BYTES;
  const tailRows =
    encoded.tail !== null && !tailFits && firstTailSeq !== null
      ? batchStatements(db, final, firstTailSeq, final.eventCount - 1, encoded.tail, guard ?? sql`1`)
      : [];
  const { snapshot: response } = final;
  return {
    statements: [...snapshot.statements, ...output.statements, ...tailRows],
    columns: {
      status: response.status,
      snapshot: snapshot.inline,
      output: output.inline,
      completedAt: typeof response.completed_at === "number" ? response.completed_at : null,
      inputTokens: tokenCount(response.usage, "input_tokens"),
      outputTokens: tokenCount(response.usage, "output_tokens"),
      eventCount: final.eventCount,
      eventsTail: tailFits ? encoded.tail : null,
      tailSeq: tailFits ? firstTailSeq : null,
      updatedAt: nowSeconds(),
      outputItemIds: itemIdList(response.output),
    },
  };
}

/**
 * The terminal write, in one batch. Its last statement ends the row and answers its id; it changes
 * nothing when the row is already terminal (the sweep or a cancel got there first) or gone (deleted),
 * and so do the usage count and the conversation append before it, so a retried batch counts once.
 */
export function finalStatements(db: Db, encoded: EncodedFinal): Statement[] {
  const { final } = encoded;
  const { statements, columns } = endedColumns(db, encoded);
  const { snapshot: response } = final;
  return [
    ...statements,
    storedUsageStatement(db, final.responseId, final.tenantId, tokensOf(response.usage), final.expectEventCount),
    ...(final.turn ? appendTurnStatements(db, { ...final, ...final.turn, status: response.status }) : []),
    db.update(responses).set(columns).where(running(final)).returning({ id: responses.id }),
  ];
}

/** The BLOB columns of a response row: a statement prepared once binds them as hex (`unhex()`). */
const BLOB_COLUMNS = ["input", "snapshot", "output", "eventsTail"] as const;

/** The ended row's insert, its SQL built once: each column a placeholder, the BLOBs through `unhex()`. */
const insertEndedRow = prepareOnce<Record<string, unknown>>((db) => {
  const valueOf = (name: string) =>
    (BLOB_COLUMNS as readonly string[]).includes(name) ? sql`unhex(${sql.placeholder(name)})` : sql.placeholder(name);
  const columns = Object.fromEntries(Object.keys(getTableColumns(responses)).map((name) => [name, valueOf(name)]));
  return db
    .insert(responses)
    .values(columns as unknown as typeof responses.$inferInsert)
    .onConflictDoNothing()
    .returning({ id: responses.id });
});

/**
 * The terminal write of a response whose row was never written (a stream that ended within its first
 * second), in one batch: the row is inserted as it ended, one statement instead of an insert and an
 * update. The usage count and the conversation append run only while the row is not there yet,
 * before the insert, so a retried batch adds nothing twice; the insert answers the id unless the row
 * was there already. The insert's and the usage count's SQL is built once (src/db/prepared.ts).
 */
export function insertEndedStatements(db: Db, encoded: EncodedEnded): Write[] {
  const { final, row } = encoded;
  const input = placeValue(db, ownerOf(row), "input", encoded.input);
  const { statements, columns } = endedColumns(db, encoded, true);
  const { snapshot: response } = final;
  const values = { ...createdColumns(row), ...columns, legacy: null, clientLeft: null, input: input.inline };
  const hex = BLOB_COLUMNS.map((name): [string, string | null] => [
    name,
    values[name] === null ? null : hexOf(values[name]),
  ]);
  const bound = { ...values, ...Object.fromEntries(hex) };
  return [
    ...input.statements,
    ...statements,
    insertedEndedUsageStatement(db, row, tokensOf(response.usage)),
    ...(final.turn ? appendTurnStatements(db, { ...final, ...final.turn, status: response.status }, "absent") : []),
    insertEndedRow(db, bound),
  ];
}

export async function findResponse(db: Db, tenantId: string, id: string): Promise<ResponseRow | undefined> {
  const [row] = await db
    .select(responseColumns)
    .from(responses)
    .where(and(eq(responses.id, id), eq(responses.tenantId, tenantId)))
    .limit(1);
  return row;
}

/** The stored snapshot of a row, its output joined back (for a running response: the one its run last wrote). */
export async function readSnapshot(
  db: Db,
  row: Pick<ResponseRow, "id" | "tenantId" | "snapshot" | "output" | "status">,
): Promise<ResponseObject> {
  const snapshot = JSON.parse(await readValue(db, ownerOf(row), "snapshot", row.snapshot)) as ResponseObject;
  // An ended response's snapshot is kept without its output (legacy snapshots have it inline).
  if ((snapshot.output as OutputItem[] | undefined) === undefined)
    snapshot.output = TERMINAL_STATUSES.has(row.status) ? await readOutput(db, row) : [];
  // Errors stored before they carried `type` and `param` are shown with them, as they are written now.
  const error = snapshot.error as Partial<ResponseError> | null | undefined;
  if (error && error.type === undefined)
    snapshot.error = { ...error, ...responseError(textOf(error.code), textOf(error.message), error) };
  return snapshot;
}

/** The output items of an ended response. */
export async function readOutput(db: Db, row: Pick<ResponseRow, "id" | "tenantId" | "output">): Promise<OutputItem[]> {
  return JSON.parse(await readValue(db, ownerOf(row), "output", row.output)) as OutputItem[];
}

/** The input items of a response, each with the id it is listed under. */
export async function readInput(
  db: Db,
  row: Pick<ResponseRow, "id" | "tenantId" | "input" | "legacy">,
): Promise<StoredInput> {
  if (row.legacy === 1) {
    const rows = await db
      .select({ position: responseItems.position, itemId: responseItems.itemId, data: responseItems.data })
      .from(responseItems)
      .where(
        and(
          eq(responseItems.responseId, row.id),
          eq(responseItems.tenantId, row.tenantId),
          eq(responseItems.kind, "input"),
        ),
      )
      .orderBy(asc(responseItems.position), asc(responseItems.part));
    return joinParts(rows).map((item) => ({ id: item.itemId, item: JSON.parse(item.data) as InputItem }));
  }
  return JSON.parse(await readValue(db, ownerOf(row), "input", row.input)) as StoredInput;
}

/** One link of the chain that ends at a `previous_response_id`, oldest first. */
export interface ChainLink {
  id: string;
  previousResponseId: string | null;
  status: string;
  /** The conversation the link was a turn of (only a chain's first link can be one). */
  conversationId: string | null;
}

/** The chain ending at `id` (oldest first) and every link's items: input then output, in order. */
export interface Chain {
  links: ChainLink[];
  items: InputItem[];
  /** The ids of the first link's own items, input then output: where its turn sits in its conversation. */
  rootItemIds: string[];
}

interface ChainRow {
  id: string;
  prev: string | null;
  conversation: string | null;
  status: string;
  legacy: number | null;
  /** Read by `readBlobSql`: hex after its mark, or an older row's TEXT. */
  input: string | null;
  output: string | null;
}

/**
 * One recursive query reads the whole chain with each link's input and output, so a turn costs one
 * D1 query however long the session is. Links whose values were split, and legacy links, read their
 * items with a query each.
 */
export async function readChain(db: Db, tenantId: string, id: string): Promise<Chain> {
  const rows = await db.all<ChainRow>(sql`
    WITH RECURSIVE chain(id, prev, conversation, status, legacy, input, output, depth) AS (
      SELECT id, previous_response_id, conversation_id, status, legacy, input, output, 0 FROM responses
       WHERE id = ${id} AND tenant_id = ${tenantId} AND store = 1
      UNION ALL
      SELECT r.id, r.previous_response_id, r.conversation_id, r.status, r.legacy, r.input, r.output, c.depth + 1
        FROM responses r JOIN chain c ON r.id = c.prev
       WHERE r.tenant_id = ${tenantId} AND r.store = 1
    )
    SELECT id, prev, conversation, status, legacy, ${readBlobSql("input")} AS input, ${readBlobSql("output")} AS output
      FROM chain ORDER BY depth DESC`);
  const links = rows.map((row) => ({
    id: row.id,
    previousResponseId: row.prev,
    status: row.status,
    conversationId: row.conversation,
  }));
  const items: InputItem[] = [];
  const rootItemIds: string[] = [];
  for (const [index, row] of rows.entries()) {
    if (row.legacy === 1) {
      items.push(...(await readLegacyItems(db, tenantId, row.id)));
      continue;
    }
    const link = {
      id: row.id,
      tenantId,
      legacy: row.legacy,
      input: row.input === null ? null : fromDriver(row.input),
      output: row.output === null ? null : fromDriver(row.output),
    };
    const input = await readInput(db, link);
    // Only ended links are expanded (the caller refuses a running parent): their output is written.
    const output = TERMINAL_STATUSES.has(row.status) ? await readOutput(db, link) : [];
    items.push(...input.map(({ item }) => item), ...output);
    if (index === 0)
      rootItemIds.push(
        ...input.map(({ id }) => id),
        ...output.flatMap((item) => (typeof item.id === "string" ? [item.id] : [])),
      );
  }
  return { links, items, rootItemIds };
}

async function readLegacyItems(db: Db, tenantId: string, id: string): Promise<InputItem[]> {
  const rows = await db
    .select({ position: responseItems.position, data: responseItems.data })
    .from(responseItems)
    .where(and(eq(responseItems.responseId, id), eq(responseItems.tenantId, tenantId)))
    .orderBy(asc(responseItems.position), asc(responseItems.part));
  return joinParts(rows).map((item) => JSON.parse(item.data) as InputItem);
}

/**
 * Deletes a response and every row it owns, and marks the Idempotency-Keys that made it deleted, in
 * one batch: a retry with such a key never finds the response gone but its key unmarked (it would
 * make the response again). Returns false when the tenant has no such response.
 */
export async function deleteResponse(db: Db, tenantId: string, id: string): Promise<boolean> {
  // Read by each statement before the last one deletes the row: only the tenant's own response's rows go.
  const owned = sql`EXISTS (SELECT 1 FROM ${responses} WHERE ${responses.tenantId} = ${tenantId} AND ${responses.id} = ${id})`;
  const results = await db.batch([
    markKeysDeleted(db, [tenantId], [id], owned),
    ...deleteEventsStatements(db, { responseId: id, tenantId }),
    db.delete(blobs).where(and(eq(blobs.ownerId, id), inArray(blobs.tenantId, [tenantId, ""]), owned)),
    db.delete(responseItems).where(and(eq(responseItems.responseId, id), eq(responseItems.tenantId, tenantId))),
    // Legacy event rows name no tenant: removed only when the tenant owns the response.
    db.delete(responseEvents).where(and(eq(responseEvents.responseId, id), owned)),
    removedUsageStatement(db, [tenantId], [id]),
    db
      .delete(responses)
      .where(and(eq(responses.tenantId, tenantId), eq(responses.id, id)))
      .returning({ id: responses.id }),
  ]);
  const deleted: unknown = results.at(-1);
  return Array.isArray(deleted) && deleted.length > 0;
}

/**
 * Runs that stopped writing: not ended, no heartbeat since `staleBefore` (unix seconds), created
 * since `since` (unix seconds; a run cannot be older than its maximum run time). New rows are found
 * by their time-ordered id within each tenant's key range, rows from before ids were timed by the
 * legacy index; no index is written for this. Used by the scheduled sweep.
 */
export async function findStaleRuns(
  db: Db,
  options: { since: number; staleBefore: number; limit: number },
): Promise<ResponseRow[]> {
  const running = and(notInArray(responses.status, TERMINAL), lt(responses.updatedAt, options.staleBefore));
  const found = await db
    .select(responseColumns)
    .from(responses)
    .where(and(ofAnyTenant(), gte(responses.id, idFloorAt("resp", options.since * 1000)), running))
    .limit(options.limit);
  if (found.length >= options.limit) return found;
  const legacy = await db
    .select(responseColumns)
    .from(responses)
    .where(and(eq(responses.legacy, 1), gte(responses.createdAt, options.since), running))
    .limit(options.limit - found.length);
  return [...found, ...legacy];
}

/** Which of a tenant's background rows count as running (`liveBackgroundRuns`). */
export interface LiveWindow {
  /** Rows minted from this time (ms) on: no live run is older, so older rows are not read. */
  sinceMs: number;
  /** Heartbeat at or after this unix second: a silent run lost its object and the sweep ends it. */
  heartbeatSince: number;
  /** Count no further than this (a tenant at its cap stops the read there). */
  limit: number;
}

/**
 * Rows of the window a count reads at most (newest first): the window is `MAX_RUN_SECONDS` long, up to
 * a week, and a busy tenant's rows in it could be millions. A run older than these is not counted.
 */
export const LIVE_RUNS_ROWS_READ = 20_000;

/**
 * The tenant's running background rows, up to `limit`: a range of the table's key from `sinceMs`
 * (ids carry their creation time), its newest LIVE_RUNS_ROWS_READ rows, every other condition read
 * on those; no index is written for it. Rows read: the tenant's responses of every kind minted in
 * the window, at most LIVE_RUNS_ROWS_READ.
 */
export function liveBackgroundRunsQuery(db: Db, tenantId: string, window: LiveWindow) {
  const newest = db
    .select({
      id: responses.id,
      background: responses.background,
      status: responses.status,
      updatedAt: responses.updatedAt,
    })
    .from(responses)
    .where(and(eq(responses.tenantId, tenantId), gte(responses.id, idFloorAt("resp", window.sinceMs))))
    .orderBy(desc(responses.id))
    .limit(LIVE_RUNS_ROWS_READ)
    .as("newest");
  return db
    .select({ id: newest.id })
    .from(newest)
    .where(
      and(
        eq(newest.background, true),
        notInArray(newest.status, TERMINAL),
        gte(newest.updatedAt, window.heartbeatSince),
      ),
    )
    .limit(window.limit);
}

export async function countLiveBackgroundRuns(db: Db, tenantId: string, window: LiveWindow): Promise<number> {
  return (await liveBackgroundRunsQuery(db, tenantId, window)).length;
}
