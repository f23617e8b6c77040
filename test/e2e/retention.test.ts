// Retention: the Cron Trigger deletes exactly the responses older than RETENTION_DAYS with every
// row they own (items, events, split snapshots, webhook deliveries and attempts), nothing else,
// and a bounded number per run. Times are set far in the past so other tests' rows are never due.

import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { controlDb, tenantDb } from "../../src/db/shards";
import { endedUnstored, sweepExpired, sweepUnstored } from "../../src/db/retention";
import { newId } from "../../src/responses/ids";
import worker from "../../src/index";
import { client, GATEWAY_URL, gatewayFetch, model, upstream } from "../support/gateway";
import { countAll, runEverywhere, tenantD1 } from "../support/shards";
import { captureLogLines } from "../support/log-lines";
import { collect } from "../support/streams";

const DAY = 86_400;
/** "Now" for the cron: 2001-09-09 plus a little; rows are placed relative to it. */
const NOW = 1_000_000_000;

/**
 * A response with rows in every table that hangs off one, created at `createdAt` (its id minted then,
 * as the gateway mints ids): two event batch rows, a value split into `blobs`, a delivery with two
 * attempts. A `legacy` one (written before the compressed layout, with a random id) has its items and
 * events in the legacy tables instead.
 */
async function seedResponse(
  createdAt: number,
  tenantId = "t_retention",
  legacy = false,
  into?: D1Database,
): Promise<string> {
  const db = into ?? (await tenantD1(tenantId));
  const id = legacy
    ? `resp_ff${crypto.randomUUID().replaceAll("-", "")}${"0".repeat(14)}`
    : newId("resp", createdAt * 1000);
  const delivery = newId("wh");
  const statements = [
    db
      .prepare(
        `INSERT INTO responses (id, tenant_id, status, model, background, store, created_at, updated_at, snapshot, legacy)
       VALUES (?, ?, 'completed', 'm', 1, 1, ?, ?, NULL, ?)`,
      )
      .bind(id, tenantId, createdAt, createdAt, legacy ? 1 : null),
    db
      .prepare(
        `INSERT INTO blobs (owner_id, tenant_id, name, part, data) VALUES (?1, ?2, 'snapshot', 0, X'00'), (?1, ?2, 'snapshot', 1, X'01')`,
      )
      .bind(id, tenantId),
    db
      .prepare(
        `INSERT INTO webhook_deliveries (id, tenant_id, response_id, url, event_id, event_type, payload, status, created_at)
       VALUES (?, ?, ?, 'https://example.com/hook', 'evt_1', 'response.completed', '{}', 'delivered', ?)`,
      )
      .bind(delivery, tenantId, id, createdAt),
    db
      .prepare(
        `INSERT INTO webhook_attempts (delivery_id, attempt, tenant_id, started_at, duration_ms, status_code)
       VALUES (?1, 1, ?2, ?3, 5, 500), (?1, 2, ?2, ?3, 5, 200)`,
      )
      .bind(delivery, tenantId, createdAt),
  ];
  if (legacy)
    statements.push(
      db
        .prepare(
          `INSERT INTO response_items (response_id, tenant_id, position, part, kind, item_id, data)
         VALUES (?1, ?2, 0, 0, 'input', 'msg_in', '{}'), (?1, ?2, 1, 0, 'output', 'msg_out', '{}')`,
        )
        .bind(id, tenantId),
      db
        .prepare(
          `INSERT INTO response_events (response_id, first_seq, part, last_seq, frames) VALUES (?, 0, 0, 3, 'frames')`,
        )
        .bind(id),
    );
  else
    statements.push(
      db
        .prepare(
          `INSERT INTO response_event_batches (response_id, tenant_id, first_seq, part, last_seq, data)
         VALUES (?1, ?2, 0, 0, 3, X'00'), (?1, ?2, 4, 0, 9, X'00')`,
        )
        .bind(id, tenantId),
    );
  await db.batch(statements);
  return id;
}

/** Rows each table holds for a response. */
async function owned(id: string) {
  const counts = await Promise.all(
    [
      "SELECT count(*) AS n FROM responses WHERE id = ?1",
      "SELECT count(*) AS n FROM response_event_batches WHERE response_id = ?1",
      "SELECT (SELECT count(*) FROM response_items WHERE response_id = ?1) + (SELECT count(*) FROM response_events WHERE response_id = ?1) AS n",
      "SELECT count(*) AS n FROM blobs WHERE owner_id = ?1",
      "SELECT count(*) AS n FROM webhook_deliveries WHERE response_id = ?1",
      `SELECT count(*) AS n FROM webhook_attempts WHERE delivery_id IN
         (SELECT id FROM webhook_deliveries WHERE response_id = ?1)`,
    ].map((sql) => countAll(sql, id)),
  );
  const [responses, batches, legacyRows, blobs, deliveries, attempts] = counts;
  return { responses, batches, legacyRows, blobs, deliveries, attempts };
}

const ALL = { responses: 1, batches: 2, legacyRows: 0, blobs: 2, deliveries: 1, attempts: 2 };
const ALL_LEGACY = { ...ALL, batches: 0, legacyRows: 3 };
const NONE = { responses: 0, batches: 0, legacyRows: 0, blobs: 0, deliveries: 0, attempts: 0 };

async function runCron(vars: Record<string, unknown> = {}, scheduledTime = NOW * 1000): Promise<void> {
  const ctx = createExecutionContext();
  const controller = createScheduledController({ scheduledTime, cron: "* * * * *" });
  await worker.scheduled(controller, { ...env, ...vars }, ctx);
  await waitOnExecutionContext(ctx);
}

describe("retention", () => {
  it("deletes exactly the responses older than RETENTION_DAYS, with every row they own, legacy ones too", async () => {
    const cutoff = NOW - 30 * DAY;
    const expired = [await seedResponse(cutoff - 1), await seedResponse(cutoff - 400 * DAY, "t_other")];
    const expiredLegacy = await seedResponse(cutoff - 2, "t_retention", true);
    const kept = [await seedResponse(cutoff), await seedResponse(cutoff + 1), await seedResponse(NOW - 60)];
    const keptLegacy = await seedResponse(cutoff + 2, "t_retention", true);

    await runCron({ RETENTION_DAYS: "30" });

    for (const id of [...expired, expiredLegacy]) expect(await owned(id)).toEqual(NONE);
    for (const id of kept) expect(await owned(id)).toEqual(ALL);
    expect(await owned(keptLegacy)).toEqual(ALL_LEGACY);
  });

  it("deletes a response made through the gateway once it is older than RETENTION_DAYS; usage outlives it", async () => {
    const openai = client("sk-retention");
    const m = model("text:3");
    const real = await openai.responses.create({ model: m, input: "old news" });
    expect(await owned(real.id)).toMatchObject({ responses: 1 });
    const usageOfModel = async () => {
      const res = await gatewayFetch(`${GATEWAY_URL}/usage?group_by=model`, {
        headers: { authorization: "Bearer sk-retention" },
      });
      const body = await res.json<{ data: { model: string }[] }>();
      return body.data.filter((group) => group.model === m);
    };
    const counted = [{ object: "usage", model: m, responses: 1, input_tokens: 10, output_tokens: 3, total_tokens: 13 }];
    expect(await usageOfModel()).toEqual(counted);
    // The cron 31 days from now, at a minute the usage roll-up does not run: the deletion counts it.
    const later = Math.floor((Date.now() + 31 * DAY * 1000) / 3_600_000) * 3_600_000 + 30 * 60_000;
    await runCron({ RETENTION_DAYS: "30" }, later);
    expect(await owned(real.id)).toEqual(NONE);
    await expect(openai.responses.retrieve(real.id)).rejects.toMatchObject({ status: 404 });
    expect(await usageOfModel()).toEqual(counted);
  });

  it("tells a retry of an expired response's Idempotency-Key that it was deleted, within the key's 24 hours", async () => {
    const openai = client("sk-retention-idem");
    const m = model("text:3");
    const body = { model: m, input: "made once" };
    const idempotent = { headers: { "Idempotency-Key": `expired-${m}` } };
    const made = await openai.responses.create(body, idempotent);
    // The key was claimed most of a day ago (a response created in the second before, at a one-day
    // retention, comes due while it lives): a claim with no row is otherwise an attempt that died.
    await runEverywhere("UPDATE idempotency_keys SET created_at = created_at - 86000 WHERE response_id = ?1", made.id);
    const later = Math.floor((Date.now() + 2 * DAY * 1000) / 3_600_000) * 3_600_000 + 30 * 60_000;
    await runCron({ RETENTION_DAYS: "1" }, later);
    expect(await owned(made.id)).toEqual(NONE);
    await expect(openai.responses.create(body, idempotent)).rejects.toMatchObject({
      status: 404,
      code: "idempotency_key_deleted",
    });
    expect(await upstream.requests(m)).toHaveLength(1);
  });

  it("leaves the Idempotency-Keys alone at a retention of two days or more, which they never outlive", async () => {
    const openai = client("sk-retention-idem-month");
    const made = await openai.responses.create(
      { model: model("text:3"), input: "made once" },
      { headers: { "Idempotency-Key": "expired-a-month-on" } },
    );
    const later = Math.floor((Date.now() + 31 * DAY * 1000) / 3_600_000) * 3_600_000 + 30 * 60_000;
    await runCron({ RETENTION_DAYS: "30" }, later);
    expect(await owned(made.id)).toEqual(NONE);
    // Its key expired a month before: marking it would have read every live key of the tenant for nothing.
    expect(
      await countAll(
        "SELECT count(*) AS n FROM idempotency_keys WHERE response_id = ?1 AND deleted_at IS NULL",
        made.id,
      ),
    ).toBe(1);
  });

  it("rolls usage up in the first minutes of each hour, and not later in the hour", async () => {
    const openai = client("sk-rollup-cron");
    const m = model("text:3");
    await openai.responses.create({ model: m, input: "counted" });
    const rolled = () => countAll("SELECT coalesce(sum(responses), 0) AS n FROM usage_daily WHERE model = ?", m);
    const nextHour = (Math.floor(Date.now() / 3_600_000) + 1) * 3_600_000;
    await runCron({ RETENTION_DAYS: "30" }, nextHour + 30 * 60_000);
    expect(await rolled()).toBe(0);
    await runCron({ RETENTION_DAYS: "30" }, nextHour + 2 * 60_000);
    expect(await rolled()).toBe(1);
    await runCron({ RETENTION_DAYS: "30" }, nextHour + 3 * 60_000);
    expect(await rolled()).toBe(1);
  });

  it("keeps a response still running past RETENTION_DAYS (a MAX_RUN_SECONDS longer than it) until it ends", async () => {
    const tenantId = "t_retention_running";
    const running = async (createdAt: number, status: string) => {
      const id = await seedResponse(createdAt, tenantId);
      // Beating at the cron's time: alive, so the sweep of dead runs leaves it alone.
      await runEverywhere("UPDATE responses SET status = ?, updated_at = ? WHERE id = ?", status, NOW, id);
      return id;
    };
    const vars = { RETENTION_DAYS: "1", MAX_RUN_SECONDS: String(7 * DAY) };
    const live = await running(NOW - 2 * DAY, "in_progress");
    const ended = await running(NOW - 2 * DAY, "completed");
    // Created longer ago than any run may last: dead, whatever its status says.
    const dead = await running(NOW - 9 * DAY, "in_progress");
    await runCron(vars);
    expect(await owned(live)).toEqual(ALL);
    expect(await owned(ended)).toEqual(NONE);
    expect(await owned(dead)).toEqual(NONE);
    // Once it has ended, the next run deletes it.
    await runEverywhere("UPDATE responses SET status = 'completed' WHERE id = ?", live);
    await runCron(vars);
    expect(await owned(live)).toEqual(NONE);
  });

  it("goes on over the shards that exist when D1_SHARDS names one not bound, in one line naming the setting", async () => {
    const old = await seedResponse(NOW - 1000 * DAY);
    const shards = (env as { D1_SHARDS?: string }).D1_SHARDS ?? "DB";
    const logs = captureLogLines();
    try {
      await runCron({ RETENTION_DAYS: "30", D1_SHARDS: `${shards},DB_9` });
      expect(logs.matching({ event: "config_problem", setting: "D1_SHARDS" }).map((line) => line.msg)).toEqual([
        `D1_SHARDS names 'DB_9', which is not bound to a D1 database; allowed: the bindings of [[d1_databases]] in wrangler.toml. The cron sweeps ${shards.split(",").join(", ")} until it is fixed.`,
      ]);
    } finally {
      logs.stop();
    }
    expect(await owned(old)).toEqual(NONE);
  });

  it("goes on past a shard whose queries fail, in a line that says D1's reason without the query", async () => {
    const old = await seedResponse(NOW - 1000 * DAY);
    const shards = (env as { D1_SHARDS?: string }).D1_SHARDS ?? "DB";
    const refused = () => Promise.reject(new Error("D1_ERROR: no such table: responses: SQLITE_ERROR"));
    const statement = { bind: () => statement, all: refused, raw: refused, run: refused, first: refused };
    const broken = { prepare: () => statement, batch: refused, exec: refused };
    const logs = captureLogLines();
    try {
      await expect(
        runCron({ RETENTION_DAYS: "30", D1_SHARDS: `${shards},DB_BROKEN`, DB_BROKEN: broken }),
      ).rejects.toThrow("the scheduled run failed on 1 shard(s)");
      const [line] = logs.matching({ event: "sweep", action: "failed" });
      expect(line).toMatchObject({ shard: "DB_BROKEN" });
      expect(line?.msg).toContain("D1_ERROR: no such table: responses");
      expect(line?.msg).not.toMatch(/select|params/i);
    } finally {
      logs.stop();
    }
    expect(await owned(old)).toEqual(NONE);
  });

  it("keeps everything when RETENTION_DAYS is 0", async () => {
    const old = await seedResponse(NOW - 1000 * DAY);
    await runCron({ RETENTION_DAYS: "0" });
    expect(await owned(old)).toEqual(ALL);
    await runEverywhere("DELETE FROM responses WHERE id = ?", old);
  });

  it("deletes in bounded batches, oldest first (within a tenant), and says when more remain", async () => {
    const base = NOW - 5000 * DAY;
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await seedResponse(base + i));
    const cutoff = base + 100;
    const db = await tenantDb(env, "t_retention");
    expect(await sweepExpired(db, cutoff, { batchSize: 2, maxBatches: 2 })).toMatchObject({
      deletedResponses: 4,
      more: true,
    });
    for (const id of ids.slice(0, 4)) expect(await owned(id)).toEqual(NONE);
    for (const id of ids.slice(4)) expect(await owned(id)).toEqual(ALL);
    expect(await sweepExpired(db, cutoff, { batchSize: 2, maxBatches: 2 })).toMatchObject({
      deletedResponses: 3,
      more: false,
    });
    for (const id of ids) expect(await owned(id)).toEqual(NONE);
  });

  it("deletes a full batch of 48 responses of many tenants in one go (within 100 bound parameters)", async () => {
    const base = NOW - 6000 * DAY;
    const ids: string[] = [];
    // All on one shard (DB): the batch's statements name every tenant of it.
    for (let i = 0; i < 50; i++) ids.push(await seedResponse(base + i, `t_many_${i}`, false, env.DB));
    const db = controlDb(env);
    // With the condition on running responses the cron adds: the widest statement it sends.
    const result = await sweepExpired(db, base + 1000, { maxBatches: 1, runningBefore: base + 1000 });
    expect(result).toMatchObject({ deletedResponses: 48, more: true });
    // Tenant by tenant: which 48 goes with the tenants' key order; each response is wholly kept or gone.
    const states = await Promise.all(ids.map(owned));
    expect(states.filter((state) => JSON.stringify(state) === JSON.stringify(NONE))).toHaveLength(48);
    expect(states.filter((state) => JSON.stringify(state) === JSON.stringify(ALL))).toHaveLength(2);
    await sweepExpired(db, base + 1000);
    for (const id of ids) expect(await owned(id)).toEqual(NONE);
  });

  it("deletes a full batch of 48 unstored responses of many tenants in one go (within 100 bound parameters)", async () => {
    const base = NOW - 7000 * DAY;
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push(await seedResponse(base + i, `t_unstored_${i}`, false, env.DB));
    await env.DB.prepare(`UPDATE responses SET store = 0 WHERE id IN (${ids.map(() => "?").join(", ")})`)
      .bind(...ids)
      .run();
    const db = controlDb(env);
    expect(await sweepUnstored(db, NOW, { maxBatches: 1 })).toBe(48);
    expect(await sweepUnstored(db, NOW)).toBe(2);
    for (const id of ids) expect(await owned(id)).toEqual(NONE);
  });

  it("deletes a background response made with store:false ten minutes after it ends; it is never listed", async () => {
    const key = "sk-retention-unstored";
    const openai = client(key);
    const m = model("text:3");
    const idempotent = { headers: { "Idempotency-Key": `unstored-${m}` } };
    const body = { model: m, input: "poll me", background: true, store: false } as const;
    const unstored = await openai.responses.create(body, idempotent);
    const stored = await openai.responses.create({ model: m, input: "keep me" });
    const ended = await collect(await openai.responses.retrieve(unstored.id, { stream: true }));
    expect(ended.at(-1)?.type).toBe("response.completed");
    const listed = await gatewayFetch(`${GATEWAY_URL}/responses?model=${encodeURIComponent(m)}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect((await listed.json<{ data: { id: string }[] }>()).data.map((row) => row.id)).toEqual([stored.id]);

    // At half past an hour, so the usage roll-up does not run: the deletion counts the response.
    const halfPastNextHour = (Math.floor(Date.now() / 3_600_000) + 1) * 3_600_000 + 30 * 60_000;
    await runCron({ RETENTION_DAYS: "30" }, Date.now() + 9 * 60_000);
    expect((await openai.responses.retrieve(unstored.id)).status).toBe("completed");
    await runCron({ RETENTION_DAYS: "30" }, halfPastNextHour);
    expect(await owned(unstored.id)).toEqual(NONE);
    await expect(openai.responses.retrieve(unstored.id)).rejects.toMatchObject({ status: 404 });
    // A retry with its Idempotency-Key is told so; it does not run the model again.
    await expect(openai.responses.create(body, idempotent)).rejects.toMatchObject({
      status: 404,
      code: "idempotency_key_deleted",
    });
    expect(await upstream.requests(m)).toHaveLength(2);
    expect((await openai.responses.retrieve(stored.id)).status).toBe("completed");
    const usage = await gatewayFetch(`${GATEWAY_URL}/usage?group_by=model`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const counted = (await usage.json<{ data: { model: string; responses: number }[] }>()).data;
    expect(counted.find((group) => group.model === m)?.responses).toBe(2);
  });

  it("finds unstored responses by their partial index, never by scanning the table", async () => {
    const query = endedUnstored(await tenantDb(env, "t_plan"), NOW, 48).toSQL();
    const explained = await (
      await tenantD1("t_plan")
    )
      .prepare(`EXPLAIN QUERY PLAN ${query.sql}`)
      .bind(...query.params)
      .all<{ detail: string }>();
    expect(explained.results.map((row) => row.detail).join(" | ")).toMatch(
      /^SEARCH responses USING INDEX responses_unstored_updated \(updated_at<\?\)$/,
    );
  });

  it("deletes webhook deliveries older than RETENTION_DAYS whose response was deleted sooner, with their attempts", async () => {
    const cutoff = NOW - 30 * DAY;
    const orphaned = async (createdAt: number) => {
      const id = newId("wh", createdAt * 1000);
      await env.DB.batch([
        env.DB.prepare(
          `INSERT INTO webhook_deliveries (id, tenant_id, response_id, url, event_id, event_type, payload, status, created_at)
           VALUES (?, 't_orphans', 'resp_gone', 'https://example.com/hook', 'evt_1', 'response.completed', '{}', 'delivered', ?)`,
        ).bind(id, createdAt),
        env.DB.prepare(
          `INSERT INTO webhook_attempts (delivery_id, attempt, tenant_id, started_at, duration_ms, status_code)
           VALUES (?1, 1, 't_orphans', ?2, 5, 200)`,
        ).bind(id, createdAt),
      ]);
      return id;
    };
    const [old, recent] = [await orphaned(cutoff - 10), await orphaned(cutoff + 10)];
    await runCron({ RETENTION_DAYS: "30" });
    expect(await countAll("SELECT count(*) AS n FROM webhook_deliveries WHERE id = ?", old)).toBe(0);
    expect(await countAll("SELECT count(*) AS n FROM webhook_attempts WHERE delivery_id = ?", old)).toBe(0);
    expect(await countAll("SELECT count(*) AS n FROM webhook_deliveries WHERE id = ?", recent)).toBe(1);
    expect(await countAll("SELECT count(*) AS n FROM webhook_attempts WHERE delivery_id = ?", recent)).toBe(1);
  });

  it("deletes expired idempotency keys and keeps live ones", async () => {
    const now = Math.floor(Date.now() / 1000);
    const idem = await tenantD1("t_idem");
    await idem.batch([
      idem
        .prepare(
          `INSERT INTO idempotency_keys (tenant_id, key, request_hash, response_id, created_at, expires_at)
         VALUES ('t_idem', 'expired', 'h', 'resp_1', ?1, ?2), ('t_idem', 'live', 'h', 'resp_2', ?1, ?3)`,
        )
        .bind(now - 100_000, now - 1, now + 3600),
    ]);
    await runCron({ RETENTION_DAYS: "30" });
    const left = await idem.prepare("SELECT key FROM idempotency_keys WHERE tenant_id = 't_idem'").all<{
      key: string;
    }>();
    expect(left.results.map((row) => row.key)).toEqual(["live"]);
  });
});
