// Usage: every response that ends counts once, by tenant, key, model and day, whatever its path
// (JSON, stream, background, store:false); read back with GET /v1/usage and GET /admin/usage.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runWrites } from "../../src/db/prepared";
import { tenantDb } from "../../src/db/shards";
import { encodeEnded, encodeFinal, finalStatements, insertEndedStatements } from "../../src/db/responses";
import { readUsage, rollUpUsage, usageDay } from "../../src/db/usage";
import { idFloorAt } from "../../src/responses/ids";
import type { ResponseObject } from "../../src/responses/types";
import { GATEWAY_URL, heldBackground, model, upstream } from "../support/gateway";
import { admin, managedClient, managedFetch, newTenantKey } from "../support/managed";
import { recordingDb } from "../support/recording-db";
import { testRow } from "../support/response-row";
import { tenantD1 } from "../support/shards";

const today = usageDay(Math.floor(Date.now() / 1000));

async function usage(key: string, query: string) {
  const res = await managedFetch(`${GATEWAY_URL}/usage?${query}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: await res.json<Record<string, unknown> & { data: Record<string, unknown>[] }>() };
}

/** A completed Response object with `tokens` of usage, for the terminal-write tests. */
const completedSnapshot = (id: string, createdAt: number, tokens: { input_tokens: number; output_tokens: number }) =>
  ({
    id,
    object: "response",
    created_at: createdAt,
    status: "completed",
    output: [],
    usage: tokens,
  }) as unknown as ResponseObject;

/** The tenant's usage rows as `GET /v1/usage` would sum them. */
const usageRows = async (d1: D1Database, tenantId: string) =>
  (
    await d1
      .prepare("SELECT day, responses, input_tokens, output_tokens FROM usage_daily WHERE tenant_id = ?")
      .bind(tenantId)
      .all()
  ).results;

describe("usage", () => {
  it("counts each finished response once per key, model and day, on every path", async () => {
    const { key, tenantId, keyId } = await newTenantKey("usage");
    const ci = (await admin<{ id: string; key: string }>("POST", `/tenants/${tenantId}/keys`, { name: "ci" })).body;
    const small = model("text:2");
    const large = model("text:5");
    const openai = managedClient(key);
    await openai.responses.create({ model: small, input: "json" });
    const stream = await openai.responses.create({ model: small, input: "stream", stream: true });
    for await (const event of stream) void event;
    await openai.responses.create({ model: small, input: "not stored", store: false });
    const background = await openai.responses.create({ model: large, input: "bg", background: true });
    for await (const event of await openai.responses.retrieve(background.id, { stream: true })) void event;
    await managedClient(ci.key).responses.create({ model: large, input: "ci" });
    // An upstream refusal before any output is kept as a failed response: counted, with no tokens.
    const refused = model("status:400");
    await expect(openai.responses.create({ model: refused, input: "x" })).rejects.toMatchObject({
      status: 400,
    });

    const byModel = await usage(key, "group_by=model");
    expect(byModel.body).toMatchObject({ object: "list", end_date: today, group_by: ["model"] });
    expect(byModel.body.data).toEqual(
      [
        { object: "usage", model: small, responses: 3, input_tokens: 30, output_tokens: 6, total_tokens: 36 },
        { object: "usage", model: large, responses: 2, input_tokens: 20, output_tokens: 10, total_tokens: 30 },
        { object: "usage", model: refused, responses: 1, input_tokens: 0, output_tokens: 0, total_tokens: 0 },
      ].sort((a, b) => (a.model < b.model ? -1 : 1)),
    );
    const byKey = await usage(key, "group_by=key");
    expect(byKey.body.data).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ api_key_id: keyId, responses: 5, input_tokens: 40, output_tokens: 11 }),
        expect.objectContaining({ api_key_id: ci.id, responses: 1, input_tokens: 10, output_tokens: 5 }),
      ]),
    );
    const byDay = await usage(key, `start_date=${today}&end_date=${today}`);
    expect(byDay.body.data).toEqual([
      { object: "usage", day: today, responses: 6, input_tokens: 50, output_tokens: 16, total_tokens: 66 },
    ]);
    const combined = await usage(key, "group_by=day,model&group_by=key");
    expect(combined.body.data).toHaveLength(4);
    expect(combined.body.group_by).toEqual(["day", "model", "key"]);
    expect(combined.body.data[0]).toEqual(
      expect.objectContaining({
        day: today,
        model: expect.any(String) as unknown,
        api_key_id: expect.any(String) as unknown,
      }),
    );
    // The operator sees it by tenant.
    const everyone = await admin<{ data: Record<string, unknown>[] }>(
      "GET",
      `/usage?group_by=tenant&start_date=${today}&end_date=${today}`,
    );
    expect(everyone.body.data).toContainEqual({
      object: "usage",
      tenant_id: tenantId,
      responses: 6,
      input_tokens: 50,
      output_tokens: 16,
      total_tokens: 66,
    });
    const one = await admin<{ data: Record<string, unknown>[] }>("GET", `/usage?tenant_id=${tenantId}`);
    expect(one.body.data).toEqual(byDay.body.data);
  });

  it("counts a response once even when its terminal write is retried", async () => {
    const { tenantId } = await newTenantKey("retry");
    const id = `resp_${"7".repeat(48)}`;
    const createdAt = 1_700_000_000;
    const d1 = await tenantD1(tenantId);
    await d1
      .prepare(
        `INSERT INTO responses (id, tenant_id, status, model, background, store, created_at, updated_at, snapshot)
       VALUES (?, ?, 'in_progress', 'm-retry', 0, 1, ?, ?, '{}')`,
      )
      .bind(id, tenantId, createdAt, createdAt)
      .run();
    const db = await tenantDb(env, tenantId);
    const snapshot = completedSnapshot(id, createdAt, { input_tokens: 7, output_tokens: 3 });
    const final = encodeFinal({ responseId: id, tenantId, snapshot, eventCount: 0, tail: [] });
    for (let attempt = 0; attempt < 3; attempt++) await db.batch(finalStatements(db, final) as [never]);
    expect(await usageRows(d1, tenantId)).toEqual([
      { day: "2023-11-14", responses: 1, input_tokens: 7, output_tokens: 3 },
    ]);
  });

  it("counts a response whose end inserts its row once, when the roll-up passed its id, even when that write is retried", async () => {
    const { tenantId } = await newTenantKey("retry-ended");
    const id = `resp_${"6".repeat(48)}`;
    const createdAt = 1_700_000_000;
    const d1 = await tenantD1(tenantId);
    // The hourly roll-up has passed the id: nothing will count it but its end.
    await d1
      .prepare("INSERT INTO usage_rollups (tenant_id, counted_before) VALUES (?, ?)")
      .bind(tenantId, `resp_${"9".repeat(48)}`)
      .run();
    const db = await tenantDb(env, tenantId);
    const snapshot = completedSnapshot(id, createdAt, { input_tokens: 5, output_tokens: 2 });
    const row = testRow({ id, tenantId, model: "m-ended", createdAt, snapshot, input: [] });
    const ended = encodeEnded(row, { responseId: id, tenantId, snapshot, eventCount: 0, tail: [] });
    const answered: unknown[] = [];
    for (let attempt = 0; attempt < 3; attempt++)
      answered.push((await runWrites(db, insertEndedStatements(db, ended))).at(-1));
    // The first write inserted the row (and answers its id); the retries found it and wrote nothing.
    expect(answered).toEqual([[{ id }], [], []]);
    expect(await usageRows(d1, tenantId)).toEqual([
      { day: "2023-11-14", responses: 1, input_tokens: 5, output_tokens: 2 },
    ]);
    const stored = await d1
      .prepare("SELECT status, input_tokens, output_tokens FROM responses WHERE id = ?")
      .bind(id)
      .first();
    expect(stored).toEqual({ status: "completed", input_tokens: 5, output_tokens: 2 });
  });

  it("counts each response once across the hourly roll-up, a run that ends after it, and deletions", async () => {
    const { key, tenantId } = await newTenantKey("rollup");
    const openai = managedClient(key);
    const db = await tenantDb(env, tenantId);
    const d1 = await tenantD1(tenantId);
    const rolledUp = async () =>
      (
        await d1
          .prepare("SELECT sum(responses) AS n FROM usage_daily WHERE tenant_id = ?")
          .bind(tenantId)
          .first<{ n: number | null }>()
      )?.n ?? 0;
    const total = async () => {
      const { body } = await usage(key, `start_date=${today}&end_date=${today}&group_by=model`);
      return body.data.map((group) => [group.model, group.responses, group.output_tokens]);
    };
    const done = model("text:2");
    await openai.responses.create({ model: done, input: "a" });
    await openai.responses.create({ model: done, input: "b" });
    const deletedEarly = await openai.responses.create({ model: done, input: "deleted before the roll-up" });
    await openai.responses.delete(deletedEarly.id);
    const held = await heldBackground(openai);
    // Nothing is rolled up yet: the ended responses (the deleted one too) are read live.
    expect(await rolledUp()).toBe(1);
    const sorted = <T extends unknown[]>(rows: T[]) => rows.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(await total()).toEqual([[done, 3, 6]]);

    // The roll-up up to the next hour: the two ended ones move to usage_daily, the running one does not.
    const nextHour = idFloorAt("resp", (Math.floor(Date.now() / 3_600_000) + 1) * 3_600_000);
    await rollUpUsage(db, nextHour);
    expect(await rolledUp()).toBe(3);
    expect(await total()).toEqual([[done, 3, 6]]);
    // Again: nothing new.
    await rollUpUsage(db, nextHour);
    expect(await rolledUp()).toBe(3);

    // The held run ends after the roll-up passed its id: its terminal write counts it.
    await upstream.release(held.model);
    for await (const event of await openai.responses.retrieve(held.id, { stream: true })) void event;
    expect(await rolledUp()).toBe(4);
    expect(await total()).toEqual(
      sorted([
        [done, 3, 6],
        [held.model, 1, 10],
      ]),
    );
    // A response made after the roll-up, below its mark, is counted by its end; deleting it counts nothing more.
    const late = await openai.responses.create({ model: done, input: "late" });
    expect(await rolledUp()).toBe(5);
    await openai.responses.delete(late.id);
    // So is a short stream, whose one write inserts its row ended.
    const lateStream = await openai.responses.stream({ model: done, input: "late stream" }).finalResponse();
    expect(lateStream.status).toBe("completed");
    expect(await rolledUp()).toBe(6);
    await rollUpUsage(db, nextHour);
    expect(await total()).toEqual(
      sorted([
        [done, 5, 10],
        [held.model, 1, 10],
      ]),
    );
    expect(await rolledUp()).toBe(6);
  });

  it("reads only the days asked for, a tenant's and the admin's, however long the history", async () => {
    // Three years of history, three models a day, for two tenants (long past: no other test's days).
    const tenants = [`tenant_history_${crypto.randomUUID()}`, `tenant_history_${crypto.randomUUID()}`];
    const rows = tenants.flatMap((tenant) =>
      Array.from({ length: 1095 }, (_, i) => usageDay(Date.UTC(2020, 0, 1) / 1000 + i * 86_400)).flatMap((day) =>
        ["m1", "m2", "m3"].map((m) => `('${tenant}', 'k', '${m}', '${day}', 1, 10, 2)`),
      ),
    );
    const inserts = [];
    for (let i = 0; i < rows.length; i += 500)
      inserts.push(
        env.DB.prepare(
          `INSERT INTO usage_daily (tenant_id, api_key_id, model, day, responses, input_tokens, output_tokens) VALUES ${rows.slice(i, i + 500).join(", ")}`,
        ),
      );
    await env.DB.batch(inserts);
    const { db, prepared } = recordingDb();
    for (const [tenantId, count] of [
      [tenants[0] as string, 1],
      [null, 2],
    ] as const) {
      prepared.length = 0;
      const range = { startDay: "2021-03-01", endDay: "2021-03-02", groupBy: ["day" as const] };
      const groups = await readUsage(db, { tenantId, ...range });
      expect(groups).toEqual(
        ["2021-03-01", "2021-03-02"].map((day) => ({
          day,
          responses: 3 * count,
          inputTokens: 30 * count,
          outputTokens: 6 * count,
        })),
      );
      const [query] = prepared;
      const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${query?.sql}`)
        .bind(...(query?.params ?? []))
        .all<{ detail: string }>();
      expect(plan.results.map((row) => row.detail).join(" | ")).not.toMatch(/SCAN usage_daily/);
      // The two days' rows and a seek per tenant, not the 6,570 rows of the history.
      const read = await env.DB.prepare(query?.sql ?? "")
        .bind(...(query?.params ?? []))
        .all();
      expect(read.meta.rows_read).toBeLessThan(200);
    }
  });

  it.each([
    ["start_date=2026-02-30", "start_date"],
    ["end_date=yesterday", "end_date"],
    ["start_date=2026-05-02&end_date=2026-05-01", "start_date"],
    ["start_date=2020-01-01&end_date=2026-01-01", "start_date"],
    ["group_by=tenant", "group_by"],
    ["group_by=color", "group_by"],
  ])("answers %s with a 400 naming the parameter", async (query, param) => {
    const { key } = await newTenantKey("usage errors");
    const res = await usage(key, query);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: "invalid_request_error", param });
  });

  it("names the default end_date when a start_date alone is in the future", async () => {
    const { key } = await newTenantKey("usage future start");
    const res = await usage(key, "start_date=2999-01-01");
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ param: "start_date", code: "invalid_value" });
    expect((res.body.error as { message: string }).message).toContain("which defaults to today");
  });
});
