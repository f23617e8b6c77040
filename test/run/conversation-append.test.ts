// The end of a turn on a conversation. A stored turn's append rides the response's terminal D1 batch, so
// when D1 refuses it the conversation stays claimed (a background run keeps the end in its object and
// its alarm appends the items exactly once), and a terminal batch written twice appends nothing twice.
// A store:false turn's append is its own batch, tried for about 5 s; refused past that, its client is
// told (a 503, or an `error` event instead of the terminal one) and its conversation released.

import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { APIError } from "openai";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { describe, expect, it } from "vitest";
import { tenantDb } from "../../src/db/shards";
import { encodeFinal, finalStatements, findResponse, readSnapshot } from "../../src/db/responses";
import { client, gatewayFetch, GATEWAY_URL, model, readEvents } from "../support/gateway";
import { until } from "../support/hooks";
import { runStub, tenantOf } from "../support/run-object";
import { collect } from "../support/streams";
import { execEverywhere, firstRow } from "../support/shards";
import { watchUnhandled } from "../support/uncaught";
import { afterAll, afterEach } from "vitest";

const KEY = "sk-test-run-append";

const watch = watchUnhandled();
afterEach(() =>
  watch.expectNone([/terminal write failed: .*refused/, /the turn's items could not be appended: .*refused/]),
);
afterAll(() => watch.stop());

/** The refused appends logged since the test began. */
const refusals = () => watch.logged().filter((line) => line.includes("the turn's items could not be appended"));

/** Makes D1 refuse every append to `conversationId` until `lift` runs. */
async function refuseAppends(conversationId: string): Promise<{ lift: () => Promise<void> }> {
  const trigger = `refuse_unstored_${conversationId}`;
  await execEverywhere(
    `CREATE TRIGGER ${trigger} BEFORE INSERT ON conversation_items WHEN NEW.conversation_id = '${conversationId}' BEGIN SELECT RAISE(ABORT, 'refused'); END;`,
  );
  return { lift: () => execEverywhere(`DROP TRIGGER IF EXISTS ${trigger};`) };
}

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

  it("a store:false turn whose append D1 refuses past its retries: a 503 that says so; its conversation released for the retry", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create({ items: [{ role: "user", content: "before" }] });
    const { lift } = await refuseAppends(conversation.id);
    let error: unknown;
    try {
      error = await openai.responses
        .create({ model: model("text:2"), input: "lost", store: false, conversation: conversation.id })
        .catch((e: unknown) => e);
    } finally {
      await lift();
    }
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ status: 503, code: "storage_unavailable" });
    expect((error as APIError).headers?.get("retry-after")).toBe("1");
    expect((error as APIError).message).toContain(conversation.id);
    expect((error as APIError).message).toMatch(/the conversation does not have this turn\. Try again/);
    expect(refusals()).toHaveLength(7);
    // The retry the 503 asks for runs at once, on the conversation without the refused turn.
    const next = await openai.responses.create({ model: model("echo"), input: "next", conversation: conversation.id });
    expect(next.status).toBe("completed");
    expect(await itemTexts(conversation.id)).toEqual(["before", "next", next.output_text]);
  });

  it("a streamed store:false turn whose append D1 refuses past its retries: an error event instead of the terminal one", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create();
    const { lift } = await refuseAppends(conversation.id);
    let events: Record<string, unknown>[];
    try {
      const res = await gatewayFetch(`${GATEWAY_URL}/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: JSON.stringify({
          model: model("text:2"),
          input: "lost",
          store: false,
          stream: true,
          conversation: conversation.id,
        }),
      });
      events = await readEvents(res.body);
    } finally {
      await lift();
    }
    expect(events.at(-2)?.type).toBe("response.output_item.done");
    expect(events.at(-1)).toMatchObject({ type: "error", code: "storage_unavailable" });
    expect(events.at(-1)?.message).toMatch(/does not have this turn, though its output was streamed\./);
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    const next = await openai.responses.create({ model: model("echo"), input: "next", conversation: conversation.id });
    expect(await itemTexts(conversation.id)).toEqual(["next", next.output_text]);
  });

  it("a store:false turn's append refused for a few seconds: its client waits, then gets the terminal event; the turn is appended", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create();
    const { lift } = await refuseAppends(conversation.id);
    let seen: ResponseStreamEvent[];
    try {
      const collecting = collect(
        await openai.responses.create({
          model: model("text:2"),
          input: "kept",
          store: false,
          stream: true,
          conversation: conversation.id,
        }),
      );
      // Four refusals, over about 1.5 s: a stored run's end outlasts as many.
      await until(
        () => Promise.resolve(refusals()),
        (lines) => lines.length >= 4,
        "four refused appends",
      );
      await lift();
      seen = await collecting;
    } finally {
      await lift();
    }
    expect(seen.at(-1)?.type).toBe("response.completed");
    expect(await itemTexts(conversation.id)).toEqual(["kept", "w0 w1 "]);
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
