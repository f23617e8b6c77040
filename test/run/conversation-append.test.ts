// The end of a stored turn on a conversation: the append rides the response's terminal D1 batch, so
// when D1 refuses it the conversation stays claimed (a background run keeps the end in its object and
// its alarm appends the items exactly once), and a terminal batch written twice appends nothing twice.

import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { tenantDb } from "../../src/db/shards";
import { encodeFinal, finalStatements, findResponse, readSnapshot } from "../../src/db/responses";
import { client, model } from "../support/gateway";
import { until } from "../support/hooks";
import { runStub, tenantOf } from "../support/run-object";
import { execEverywhere, firstRow } from "../support/shards";
import { watchUnhandled } from "../support/uncaught";
import { afterAll, afterEach } from "vitest";

const KEY = "sk-test-run-append";

const watch = watchUnhandled();
afterEach(() =>
  watch.expectNone([/terminal write failed: .*refused/, /the turn's items could not be appended: .*refused/]),
);
afterAll(() => watch.stop());

async function itemTexts(conversationId: string): Promise<string[]> {
  const page = await client(KEY).conversations.items.list(conversationId, { order: "asc", limit: 100 });
  return page.data.map((item) => (item as { content?: { text: string }[] }).content?.[0]?.text ?? "");
}

describe("appending a turn to its conversation", () => {
  it("keeps the conversation claimed while D1 refuses the append; the alarm appends it once", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create();
    const trigger = `refuse_${conversation.id}`;
    await execEverywhere(
      `CREATE TRIGGER ${trigger} BEFORE INSERT ON conversation_items WHEN NEW.conversation_id = '${conversation.id}' BEGIN SELECT RAISE(ABORT, 'refused'); END;`,
    );
    let id: string;
    try {
      const created = await openai.responses.create({
        model: model("text:1"),
        conversation: conversation.id,
        input: "one",
        background: true,
      });
      id = created.id;
      // The run ended (its object answers the end it keeps) but D1 has neither the end nor the append.
      await until(
        () => openai.responses.retrieve(created.id),
        (response) => response.status === "completed",
        "the end the object kept",
      );
      const stored = await firstRow<{ status: string }>("SELECT status FROM responses WHERE id = ?", id);
      expect(["queued", "in_progress"]).toContain(stored?.status);
      expect(await itemTexts(conversation.id)).toEqual([]);
      // Still claimed: a turn now would read a conversation missing the last one.
      await expect(
        openai.responses.create({ model: model("text:1"), conversation: conversation.id, input: "two" }),
      ).rejects.toMatchObject({ status: 400, code: "conversation_locked" });
    } finally {
      await execEverywhere(`DROP TRIGGER ${trigger};`);
    }

    expect(await runDurableObjectAlarm(await runStub(id, KEY))).toBe(true);
    expect(await itemTexts(conversation.id)).toEqual(["one", "w0 "]);
    expect((await openai.responses.retrieve(id)).status).toBe("completed");
    const next = await openai.responses.create({ model: model("echo"), conversation: conversation.id, input: "two" });
    expect(next.output_text).toBe("echo(3): two");
  });

  it("a store:false turn whose append D1 refuses releases its conversation: the next turn is not refused", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create({ items: [{ role: "user", content: "before" }] });
    const trigger = `refuse_unstored_${conversation.id}`;
    await execEverywhere(
      `CREATE TRIGGER ${trigger} BEFORE INSERT ON conversation_items WHEN NEW.conversation_id = '${conversation.id}' BEGIN SELECT RAISE(ABORT, 'refused'); END;`,
    );
    try {
      await openai.responses.create({
        model: model("text:2"),
        input: "lost",
        store: false,
        conversation: conversation.id,
      });
    } finally {
      await execEverywhere(`DROP TRIGGER IF EXISTS ${trigger};`);
    }
    const next = await openai.responses.create({ model: model("echo"), input: "next", conversation: conversation.id });
    expect(next.status).toBe("completed");
    expect(await itemTexts(conversation.id)).toEqual(["before", "next", next.output_text]);
  });

  it("a terminal batch written again (its answer was lost) appends nothing twice and counts once", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create();
    const m = model("text:1");
    const done = await openai.responses.create({ model: m, conversation: conversation.id, input: "one" });
    expect(await itemTexts(conversation.id)).toEqual(["one", "w0 "]);
    const tenantId = await tenantOf(KEY);
    const db = await tenantDb(env, tenantId);
    const row = await findResponse(db, tenantId, done.id);
    if (row === undefined) throw new Error("no row");
    const snapshot = await readSnapshot(db, row);
    const again = encodeFinal({
      responseId: done.id,
      tenantId,
      snapshot,
      eventCount: row.eventCount,
      tail: [],
      turn: {
        conversationId: conversation.id,
        items: [{ itemId: "msg_again", data: JSON.stringify({ role: "user", content: "again" }) }],
      },
    });
    await db.batch(finalStatements(db, again) as [never, ...never[]]);
    expect(await itemTexts(conversation.id)).toEqual(["one", "w0 "]);
    const usage = await openai.get<{ data: { responses: number }[] }>("/usage", { query: { group_by: "model" } });
    expect(usage.data.find((entry) => (entry as { model?: string }).model === m)?.responses).toBe(1);
  });
});
