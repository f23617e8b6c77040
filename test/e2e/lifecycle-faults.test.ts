// Faults at the edges of a response's life (issue 18 items 5, 6, 7, 11, 12, 18): a crash while a
// conversation turn or a background create starts, a DELETE whose D1 batch fails, a chain made the
// moment a poll shows `completed` (D1 taking the end, or refusing it), a DELETE racing an
// idempotent retry, and reads of an interrupted run while D1 refuses writes. Nothing stays locked
// or `queued` past the documented bound (a claim is a 60 s lease; the sweep runs every minute and
// is run directly here, at a time past the bound), nothing is made twice, and reads answer from
// what D1 has.
//
// A crash cannot be staged inside the test runtime; what it leaves behind is: a claim without a row,
// or a row (with its claim) that stopped beating. These tests write exactly that with the gateway's
// own query modules. D1 refusals are SQLite triggers, as in test/run/storage-faults.test.ts.

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { APIError } from "openai";
import type OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { readConfig } from "../../src/config";
import { tenantDb } from "../../src/db/shards";
import { encodeRow } from "../../src/db/responses";
import { validateCreateRequest } from "../../src/responses/create-request";
import { newResponseId } from "../../src/responses/ids";
import { newResponseObject } from "../../src/responses/response-object";
import { CLAIM_LEASE_SECONDS, ConversationTurn } from "../../src/run/conversation-turn";
import { framesOf, ResponseRecorder } from "../../src/stream/recorder";
import { sweepDeadRuns } from "../../src/stream/sweep";
import worker from "../../src/index";
import { client, gatewayFetch, GATEWAY_URL, heldBackground, model, rawEvents, upstream } from "../support/gateway";
import { halfAnswerEvents } from "../support/half-answer";
import { until } from "../support/hooks";
import { tenantOf } from "../support/run-object";
import { testRow } from "../support/response-row";
import { firstRow, keyD1 } from "../support/shards";
import { collect } from "../support/streams";

const KEY = "sk-test-lifecycle-faults";
const INTERRUPTED = "The response was interrupted before it finished; its partial output is kept.";

/** The SDK sends no Idempotency-Key of its own: the header, as a client sets it. */
const withKey = (key: string) => ({ headers: { "Idempotency-Key": key } });

/** The sweep as the cron runs it, at `nowMs` (past the staleness bound of a run that just stopped). */
const sweepAt = async (nowMs: number) =>
  sweepDeadRuns(env, await tenantDb(env, await tenantOf(KEY)), readConfig(env), nowMs);
/** One minute and a second from now: past a claim's lease and a silent heartbeat's staleness window. */
const pastTheBound = () => Date.now() + 61_000;

/** Makes D1 refuse writes matching `when` (a trigger body) until `lift` runs. */
async function refuse(when: string): Promise<{ lift: () => Promise<void> }> {
  const tag = `refused_${crypto.randomUUID().replaceAll("-", "")}`;
  const d1 = await keyD1(KEY);
  await d1.exec(`CREATE TRIGGER ${tag} ${when} BEGIN SELECT RAISE(ABORT, '${tag}'); END;`);
  return { lift: async () => void (await d1.exec(`DROP TRIGGER IF EXISTS ${tag};`)) };
}

const d1Status = async (id: string): Promise<string | undefined> =>
  (await (await keyD1(KEY)).prepare("SELECT status FROM responses WHERE id = ?").bind(id).first<{ status: string }>())
    ?.status;

const claimOf = async (conversationId: string) =>
  (await keyD1(KEY))
    .prepare("SELECT active_response_id AS holder, active_until AS until FROM conversations WHERE id = ?")
    .bind(conversationId)
    .first<{ holder: string | null; until: number | null }>();

/** The texts of a conversation's items, in order. */
async function itemTexts(openai: OpenAI, conversationId: string): Promise<string[]> {
  const texts: string[] = [];
  for await (const item of openai.conversations.items.list(conversationId, { order: "asc" })) {
    const content = (item as { content?: { text?: string }[] }).content;
    texts.push(content?.[0]?.text ?? "");
  }
  return texts;
}

/**
 * What a run that died right after writing its row leaves: the row (and its claim on `conversationId`),
 * optionally with a first batch of events (`half` streamed), and then no heartbeat.
 */
async function diedAfterItsRow(options: {
  background: boolean;
  conversationId?: string;
  withEvents?: boolean;
}): Promise<string> {
  const tenantId = await tenantOf(KEY);
  const db = await tenantDb(env, tenantId);
  const id = newResponseId();
  const createdAt = Math.floor(Date.now() / 1000);
  const conversationId = options.conversationId ?? null;
  if (conversationId !== null) await ConversationTurn.begin(db, tenantId, conversationId, id);
  const request = validateCreateRequest({ model: "died", input: "x", background: options.background });
  const status = options.background ? "queued" : "in_progress";
  const base = newResponseObject(request, { id, createdAt }, status);
  const recorder = new ResponseRecorder({
    db,
    responseId: id,
    tenantId,
    flushIntervalMs: 60_000,
    flushChars: 1,
    conversationId,
    onError: () => undefined,
  });
  await recorder.start(
    encodeRow(
      testRow({
        id,
        tenantId,
        status,
        model: "died",
        background: options.background,
        createdAt,
        conversationId,
        snapshot: base,
      }),
    ),
  );
  if (options.withEvents === true) {
    const events = halfAnswerEvents(request, { id, createdAt }, base);
    recorder.record(framesOf(events));
    await until(
      async () =>
        (await keyD1(KEY)).prepare("SELECT event_count AS n FROM responses WHERE id = ?").bind(id).first<number>("n"),
      (count) => count === events.length,
      "the batch in D1",
    );
  }
  await recorder.stop();
  return id;
}

describe("a crash while a conversation turn starts (item 5)", () => {
  it("a claim left without its response locks the conversation only until its 60 s lease lapses", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create();
    const died = newResponseId();
    await ConversationTurn.begin(await tenantDb(env, await tenantOf(KEY)), await tenantOf(KEY), conversation.id, died);
    // The turn's Worker died here, before its row: within the lease, OpenAI's conversation_locked.
    const m = model("echo");
    const locked = await openai.responses
      .create({ model: m, conversation: conversation.id, input: "one" })
      .catch((e: unknown) => e);
    expect(locked).toMatchObject({ status: 400, code: "conversation_locked", param: "conversation" });
    const claim = await claimOf(conversation.id);
    expect(claim?.holder).toBe(died);
    expect(claim?.until).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + CLAIM_LEASE_SECONDS);
    // The lease lapses (its 60 s pass; nothing renews it): the next turn runs, the dead one left nothing.
    await (
      await keyD1(KEY)
    )
      .prepare("UPDATE conversations SET active_until = active_until - ? WHERE id = ?")
      .bind(CLAIM_LEASE_SECONDS, conversation.id)
      .run();
    const next = await openai.responses.create({ model: m, conversation: conversation.id, input: "one" });
    expect(next).toMatchObject({ status: "completed", output_text: "echo(1): one" });
    expect(await itemTexts(openai, conversation.id)).toEqual(["one", "echo(1): one"]);
  });

  it("a turn that died after its row is ended failed by the sweep, which frees its conversation at once", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create();
    const id = await diedAfterItsRow({ background: false, conversationId: conversation.id });
    expect(await d1Status(id)).toBe("in_progress");
    expect(await sweepAt(pastTheBound())).toMatchObject({ failed: 0 });
    expect(await d1Status(id)).toBe("failed");
    expect((await claimOf(conversation.id))?.holder).toBeNull();
    const next = await openai.responses.create({ model: model("echo"), conversation: conversation.id, input: "two" });
    expect(next.status).toBe("completed");
    // Nothing of the failed turn joined the conversation.
    expect(await itemTexts(openai, conversation.id)).toEqual(["two", "echo(1): two"]);
  });
});

describe("a crash while a background create starts (item 6)", () => {
  it("a queued row whose object never ran it is ended failed by the sweep: conversation freed, webhook planned", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create();
    const id = await diedAfterItsRow({ background: true, conversationId: conversation.id });
    expect(await d1Status(id)).toBe("queued");
    expect(await sweepAt(pastTheBound())).toMatchObject({ failed: 0 });
    expect(await d1Status(id)).toBe("failed");
    const ended = await openai.responses.retrieve(id);
    expect(ended).toMatchObject({ status: "failed", error: { code: "server_error", message: INTERRUPTED } });
    expect((await claimOf(conversation.id))?.holder).toBeNull();
    // The deployment's default webhook is told of the failure; D1 shows the delivery.
    const deliveries = await until(
      () => openai.get<{ data: { event: { type: string } }[] }>(`/responses/${id}/webhook_deliveries`),
      (page) => page.data.length === 1,
      "the delivery",
    );
    expect(deliveries.data[0]?.event.type).toBe("response.failed");
  });
});

describe("a DELETE whose D1 batch fails (item 7)", () => {
  it("answers an error and leaves the run going; it ends, and a DELETE once D1 is back removes it", async () => {
    const openai = client(KEY);
    const { model: m, id } = await heldBackground(openai, "gate:6:8");
    const { lift } = await refuse(`BEFORE DELETE ON responses WHEN OLD.id = '${id}'`);
    let refused: Response;
    try {
      refused = await gatewayFetch(`${GATEWAY_URL}/responses/${id}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${KEY}` },
      });
    } finally {
      await lift();
    }
    expect(refused.status).toBeGreaterThanOrEqual(500);
    expect(await refused.json()).toMatchObject({ error: { type: "server_error" } });
    // Nothing was wiped: the run goes on to its end, and D1 has it.
    expect((await openai.responses.retrieve(id)).status).toBe("in_progress");
    await upstream.release(m);
    const ended = await until(
      () => openai.responses.retrieve(id),
      (response) => response.status === "completed",
      "completion",
    );
    expect(ended.output_text).toBe("w0 w1 w2 w3 w4 w5 w6 w7 ");
    expect(await d1Status(id)).toBe("completed");
    expect(await openai.responses.delete(id)).toMatchObject({ id, deleted: true });
    await expect(openai.responses.retrieve(id)).rejects.toMatchObject({ status: 404 });
  });
});

describe("poll until completed, then chain at once (item 11)", () => {
  it("a background response seen completed is never refused as previous_response_in_progress", async () => {
    const openai = client(KEY);
    for (let turn = 0; turn < 5; turn++) {
      const m = model("text:3");
      const created = await openai.responses.create({ model: m, input: "x", background: true });
      // As a client polls: the first `completed` it sees, it chains from, without waiting.
      await until(
        () => openai.responses.retrieve(created.id),
        (response) => response.status === "completed",
        "completion",
      );
      const next = await openai.responses.create({ model: m, input: "y", previous_response_id: created.id });
      expect(next.status).toBe("completed");
    }
  });

  it("a foreground stream whose client saw response.completed can be chained from at once", async () => {
    const openai = client(KEY);
    for (let turn = 0; turn < 5; turn++) {
      const m = model("text:3");
      const events = await collect(await openai.responses.create({ model: m, input: "x", stream: true }));
      const last = events.at(-1);
      expect(last?.type).toBe("response.completed");
      const id = last?.type === "response.completed" ? last.response.id : "";
      const next = await openai.responses.create({ model: m, input: "y", previous_response_id: id, background: true });
      expect(next.status).toBe("queued");
      await until(
        () => openai.responses.retrieve(next.id),
        (response) => response.status === "completed",
        "the chained response",
      );
    }
  });
});

describe("chaining from a background response whose end D1 refused (item 11)", () => {
  it("reads show it completed; a chain makes its object write the end first, or is a retryable 503 meanwhile", async () => {
    const openai = client(KEY);
    const m = model("text:3");
    const { lift } = await refuse(
      `BEFORE UPDATE OF status ON responses WHEN NEW.model = '${m}' AND NEW.status IN ('completed', 'failed', 'cancelled', 'incomplete')`,
    );
    let id = "";
    try {
      id = (await openai.responses.create({ model: m, input: "x", background: true })).id;
      // Its object kept the end D1 refused, and reads answer it: a client sees `completed`.
      await until(
        () => openai.responses.retrieve(id),
        (response) => response.status === "completed",
        "completion",
      );
      expect(await d1Status(id)).not.toBe("completed");
      const refused = await openai.responses
        .create({ model: model("echo"), input: "y", previous_response_id: id })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(APIError);
      expect(refused).toMatchObject({ status: 503, code: "storage_unavailable", param: "previous_response_id" });
    } finally {
      await lift();
    }
    // D1 takes writes again; no alarm has run: the chain asks the object, which writes the end.
    const next = await openai.responses.create({ model: model("echo"), input: "y", previous_response_id: id });
    expect(next).toMatchObject({ status: "completed", output_text: "echo(3): y" });
    expect(await d1Status(id)).toBe("completed");
  });
});

/**
 * `env` whose D1 bindings run `then` (once) right after the first query that reads response `id`'s
 * row: it lands exactly between a request finding that response and what the request does next.
 */
function envActingAfterRead(id: string, then: () => Promise<unknown>): Env {
  let fired = false;
  const reads = (sql: string, values: unknown[]) =>
    !fired && sql.startsWith("select") && sql.includes('from "responses"') && values.includes(id);
  const statement = (inner: D1PreparedStatement, sql: string, values: unknown[]): D1PreparedStatement =>
    new Proxy(inner, {
      get(target, name) {
        if (name === "bind") return (...bound: unknown[]) => statement(target.bind(...bound), sql, bound);
        const value: unknown = Reflect.get(target, name);
        if (typeof value !== "function") return value;
        const method = (value as (...args: unknown[]) => Promise<unknown>).bind(target);
        if (name !== "all" && name !== "raw" && name !== "first") return method;
        return async (...args: unknown[]) => {
          const result = await method(...args);
          if (reads(sql, values)) {
            fired = true;
            await then();
          }
          return result;
        };
      },
    });
  const wrapped: Record<string, unknown> = { ...(env as unknown as Record<string, unknown>) };
  for (const [name, value] of Object.entries(wrapped))
    if (typeof value === "object" && value !== null && typeof (value as D1Database).batch === "function") {
      const binding = value as D1Database;
      wrapped[name] = new Proxy(binding, {
        get(target, property) {
          if (property === "prepare") return (sql: string) => statement(target.prepare(sql), sql, []);
          const member: unknown = Reflect.get(target, property);
          return typeof member === "function" ? (member as (...args: unknown[]) => unknown).bind(target) : member;
        },
      });
    }
  return wrapped as unknown as Env;
}

describe("a DELETE racing an idempotent retry (item 12)", () => {
  const create = (openai: OpenAI, m: string, key: string) =>
    openai.responses.create({ model: m, input: "x" }, withKey(key));

  it("a delete that fails half-way deletes nothing; once it succeeds, a retry is told so and calls no upstream", async () => {
    const openai = client(KEY);
    const m = model("text:2");
    const key = `idem-${crypto.randomUUID()}`;
    const first = await create(openai, m, key);
    // The key's mark is refused: the rows must not go without it (a retry would make the response again).
    const { lift } = await refuse(
      `BEFORE UPDATE OF deleted_at ON idempotency_keys WHEN NEW.response_id = '${first.id}'`,
    );
    try {
      const refused = await gatewayFetch(`${GATEWAY_URL}/responses/${first.id}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${KEY}` },
      });
      expect(refused.status).toBeGreaterThanOrEqual(500);
    } finally {
      await lift();
    }
    // A retry long after its first attempt (past the claim's takeover window) answers the same response.
    await (
      await keyD1(KEY)
    )
      .prepare("UPDATE idempotency_keys SET created_at = created_at - 3600 WHERE response_id = ?")
      .bind(first.id)
      .run();
    expect((await create(openai, m, key)).id).toBe(first.id);
    expect(await openai.responses.delete(first.id)).toMatchObject({ deleted: true });
    const retried = await create(openai, m, key).catch((e: unknown) => e);
    expect(retried).toBeInstanceOf(APIError);
    expect(retried).toMatchObject({ status: 404, code: "idempotency_key_deleted" });
    await expect(openai.responses.retrieve(first.id)).rejects.toMatchObject({ status: 404 });
    expect(await upstream.requests(m)).toHaveLength(1);
  });

  it("a retry that joins a running background response while it is deleted never starts it again", async () => {
    const openai = client(KEY);
    const m = model("gate:6:8");
    const key = `idem-${crypto.randomUUID()}`;
    const body = { model: m, input: "x", background: true };
    const created = await openai.responses.create(body, withKey(key));
    await until(
      () => upstream.requests(m),
      (sent) => sent.length === 1,
      "the upstream call",
    );
    // A retry while it runs joins it by reading it (its object is not asked to start anything).
    const joined = await openai.responses.create(body, withKey(key));
    expect(joined.id).toBe(created.id);
    expect(await openai.responses.delete(created.id)).toMatchObject({ deleted: true });
    const retried = await openai.responses.create(body, withKey(key)).catch((e: unknown) => e);
    expect(retried).toMatchObject({ status: 404, code: "idempotency_key_deleted" });
    await upstream.release(m);
    await expect(openai.responses.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
    expect(await d1Status(created.id)).toBeUndefined();
    expect(await upstream.requests(m)).toHaveLength(1);
  });

  it("a JSON retry waiting for a foreground response that is deleted meanwhile is told so, not answered with it running", async () => {
    const openai = client(KEY);
    const m = model("gate:2:4");
    const key = `idem-${crypto.randomUUID()}`;
    const body = { model: m, input: "x" };
    const first = create(openai, m, key).catch((e: unknown) => e);
    // The attempt's row is written a second into its upstream call: the retry finds it running and waits.
    const { id } = (await until(
      () => firstRow<{ id: string }>("SELECT id FROM responses WHERE model = ?", m),
      (row) => row !== null,
      "the first attempt's row",
    ))!;
    const ctx = createExecutionContext();
    const retryEnv = envActingAfterRead(id, () => openai.responses.delete(id));
    const retried = await worker.fetch(
      new Request(`${GATEWAY_URL}/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", "idempotency-key": key },
        body: JSON.stringify(body),
      }),
      retryEnv,
      ctx,
    );
    await upstream.release(m);
    // Not a 200 with the running snapshot it found (a synchronous create answered `in_progress`, for
    // a response that no longer exists): the answer a retry made after the delete gets.
    expect(retried.status).toBe(404);
    expect(await retried.json()).toMatchObject({ error: { code: "idempotency_key_deleted" } });
    await waitOnExecutionContext(ctx);
    await first;
    await expect(openai.responses.retrieve(id)).rejects.toMatchObject({ status: 404 });
    expect(await upstream.requests(m)).toHaveLength(1);
  });
});

describe("reading an interrupted run while D1 refuses writes (item 18)", () => {
  it("answers from the last snapshot D1 has, and ends the run once D1 takes writes again", async () => {
    const openai = client(KEY);
    const id = await diedAfterItsRow({ background: false, withEvents: true });
    // Its heartbeat went silent long ago: a read would end it, but D1 refuses the end.
    await (await keyD1(KEY)).prepare("UPDATE responses SET updated_at = updated_at - 120 WHERE id = ?").bind(id).run();
    const { lift } = await refuse(
      `BEFORE UPDATE OF status ON responses WHEN NEW.id = '${id}' AND NEW.status IN ('completed', 'failed', 'cancelled', 'incomplete')`,
    );
    try {
      for (let read = 0; read < 2; read++) {
        const during = await openai.responses.retrieve(id);
        expect(during).toMatchObject({ id, status: "in_progress", output_text: "half" });
      }
      expect((await openai.responses.inputItems.list(id)).data).toHaveLength(1);
      expect(await sweepAt(Date.now())).toMatchObject({ ended: 0 });
    } finally {
      await lift();
    }
    expect(await openai.responses.retrieve(id)).toMatchObject({
      status: "failed",
      output_text: "half",
      error: { message: INTERRUPTED },
    });
    expect(await d1Status(id)).toBe("failed");
  });
});

describe("resuming past what a dead run recorded", () => {
  it("a client that saw events the record lost is sent the run's end, numbered on from where it resumes", async () => {
    const id = await diedAfterItsRow({ background: false, withEvents: true });
    await sweepAt(pastTheBound());
    const replay = await rawEvents(KEY, `/responses/${id}?stream=true`);
    const recorded = replay.length;
    expect(replay.slice(-2).map((event) => [event.type, event.sequence_number])).toEqual([
      ["error", recorded - 2],
      ["response.failed", recorded - 1],
    ]);

    // Its Worker died between flushes: the client saw three events past the last recorded delta
    // (seq recorded - 3), up to seq `recorded`; the recorded end has taken two of their numbers.
    const seen = recorded;
    const resumed = await rawEvents(KEY, `/responses/${id}?stream=true&starting_after=${seen}`);
    expect(resumed.map((event) => [event.type, event.sequence_number])).toEqual([
      ["error", seen + 1],
      ["response.failed", seen + 2],
    ]);
    expect(resumed.at(-1)).toMatchObject({ response: { id, status: "failed", error: { code: "server_error" } } });
  });

  it("a client resuming at the record's last number is sent the end too: it may have seen a lost event under it", async () => {
    const id = await diedAfterItsRow({ background: false, withEvents: true });
    await sweepAt(pastTheBound());
    const last = (await rawEvents(KEY, `/responses/${id}?stream=true`)).at(-1)?.sequence_number as number;
    const resumed = await rawEvents(KEY, `/responses/${id}?stream=true&starting_after=${last}`);
    expect(resumed.map((event) => [event.type, event.sequence_number])).toEqual([
      ["error", last + 1],
      ["response.failed", last + 2],
    ]);
    // Before the end, the recorded end as it is.
    const before = await rawEvents(KEY, `/responses/${id}?stream=true&starting_after=${last - 1}`);
    expect(before.map((event) => [event.type, event.sequence_number])).toEqual([["response.failed", last]]);
  });
});
