// Every statement of the response path names the tenant (issue 18 item 4): a response's life run
// through the query modules (its start with values split into parts, a heartbeat, a batch of events,
// its end on a conversation turn, every read, the chain, deletion) and a conversation's, over a D1
// binding that records each statement prepared and the values bound to it.

import { describe, expect, it } from "vitest";
import { runBatch } from "../../src/db/client";
import {
  claimConversation,
  deleteConversation,
  deleteConversationItem,
  findConversationItem,
  insertConversation,
  pageConversationItems,
  readConversationItems,
} from "../../src/db/conversations";
import { batchStatements, compressEvents, readEvents, type RecordedEvent } from "../../src/db/event-batches";
import {
  deleteResponse,
  encodeFinal,
  encodeRow,
  finalStatements,
  findResponse,
  heartbeatStatement,
  insertResponseStatements,
  readChain,
  readInput,
  readSnapshot,
} from "../../src/db/responses";
import { validateCreateRequest } from "../../src/responses/create-request";
import { newId, newResponseId } from "../../src/responses/ids";
import { newResponseObject } from "../../src/responses/response-object";
import type { ResponseObject } from "../../src/responses/types";
import { recordingDb, type Prepared } from "../support/recording-db";
import { randomText } from "../support/random-text";

/** The tables that hold a tenant's responses and conversations. */
const TENANT_TABLES = /\b(responses|response_event_batches|blobs|response_items|conversations|conversation_items)\b/;

/**
 * Statements that cannot name the tenant, and why: legacy `response_events` rows have no tenant
 * column (a schema change the lead owns); the delete removes them only once no response of any
 * tenant has the id, and every read of them goes through the tenant's response row.
 */
const LEGACY_EVENTS_DELETE =
  /^delete from "response_events" where \("response_events"."response_id" = \? and NOT EXISTS/;

function expectTenantNamed(prepared: Prepared[], tenantId: string): void {
  const onTenantTables = prepared.filter(
    (statement) => TENANT_TABLES.test(statement.sql) && !LEGACY_EVENTS_DELETE.test(statement.sql),
  );
  expect(onTenantTables.length).toBeGreaterThan(10);
  const unscoped = onTenantTables.filter(
    (statement) => !/tenant_id/.test(statement.sql) || !statement.params.includes(tenantId),
  );
  expect(unscoped.map((statement) => statement.sql)).toEqual([]);
}

const event = (seq: number, text: string): RecordedEvent => ({
  seq,
  frame: `event: response.output_text.delta\ndata: ${JSON.stringify({ type: "response.output_text.delta", sequence_number: seq, delta: text })}\n\n`,
  at: Date.now(),
});

describe("response-path statements", () => {
  it("every statement on a response's rows and a conversation's rows names the tenant", async () => {
    const { db, prepared } = recordingDb();
    const tenantId = `t_scope_${crypto.randomUUID()}`;
    const createdAt = Math.floor(Date.now() / 1000);
    const conversation = await insertConversation(db, { id: newId("conv"), tenantId, createdAt, metadata: {} }, [
      { itemId: "msg_0", data: JSON.stringify({ role: "user", content: "before" }) },
    ]);
    const parentId = newResponseId();
    const id = newResponseId();
    expect(await claimConversation(db, tenantId, conversation.id, id, createdAt + 60)).toBe("claimed");

    // A parent that ended, then the response chained from it, with input and snapshot split into parts.
    // Random: even compressed it is larger than a value kept in its row, so it goes to `blobs`.
    const large = randomText(900_000);
    for (const [responseId, previous] of [
      [parentId, null],
      [id, parentId],
    ] as const) {
      const request = validateCreateRequest({ model: "scope", input: large, instructions: large });
      const snapshot = newResponseObject(request, { id: responseId, createdAt }, "in_progress");
      const encoded = encodeRow({
        id: responseId,
        tenantId,
        apiKeyId: null,
        status: "in_progress",
        model: "scope",
        background: false,
        store: true,
        createdAt,
        previousResponseId: previous,
        conversationId: responseId === id ? conversation.id : null,
        metadata: {},
        snapshot,
        input: [{ id: newId("msg"), item: { role: "user", content: large } }],
      });
      await runBatch(db, insertResponseStatements(db, encoded));
      const owner = { responseId, tenantId };
      await runBatch(db, [
        ...batchStatements(db, owner, 0, 1, compressEvents([event(0, "a"), event(1, large)])),
        heartbeatStatement(db, owner, "in_progress", 2),
      ]);
      const final: ResponseObject = {
        ...snapshot,
        status: "completed",
        output: [{ id: newId("msg"), type: "message", role: "assistant", status: "completed", content: [] }],
      };
      const statements = finalStatements(
        db,
        encodeFinal({
          responseId,
          tenantId,
          snapshot: final,
          eventCount: 4,
          tail: [event(2, large), event(3, "b")],
          turn:
            responseId === id ? { conversationId: conversation.id, items: [{ itemId: "msg_1", data: "{}" }] } : null,
        }),
      );
      await runBatch(db, statements);
    }

    const row = await findResponse(db, tenantId, id);
    if (row === undefined) throw new Error("the response row is missing");
    expect(row.status).toBe("completed");
    expect((await readSnapshot(db, row)).status).toBe("completed");
    expect(await readInput(db, row)).toHaveLength(1);
    const seen: number[] = [];
    for await (const batch of readEvents(db, row, -1)) seen.push(...batch.map((recorded) => recorded.seq));
    expect(seen).toEqual([0, 1, 2, 3]);
    expect((await readChain(db, tenantId, id)).links.map((link) => link.id)).toEqual([parentId, id]);
    expect(await readConversationItems(db, tenantId, conversation.id)).toHaveLength(2);
    expect(
      await pageConversationItems(db, tenantId, conversation.id, { after: null, limit: 10, order: "asc" }),
    ).toMatchObject({
      hasMore: false,
    });
    expect(await findConversationItem(db, tenantId, conversation.id, "msg_1")).toBeDefined();
    expect(await deleteConversationItem(db, tenantId, conversation.id, "msg_1")).toBe(true);
    expect(await deleteResponse(db, tenantId, id)).toBe(true);
    expect(await deleteResponse(db, tenantId, parentId)).toBe(true);
    expect(await deleteConversation(db, tenantId, conversation.id)).toBe(true);

    // Values did go to parts (the blobs statements were exercised), and every statement named the tenant.
    expect(prepared.some((statement) => /insert into "blobs"/.test(statement.sql))).toBe(true);
    expect(prepared.some((statement) => /"response_event_batches"/.test(statement.sql))).toBe(true);
    expectTenantNamed(prepared, tenantId);
  });
});
