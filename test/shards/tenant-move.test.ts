// Moving a busy tenant to another shard (POST /admin/tenants/{id}/move, src/db/tenant-move.ts) while
// it and other tenants keep writing over three shards: nothing it wrote before, during or after the
// move is lost or left behind, and no tenant sees another's responses.

import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { GATEWAY_URL, model } from "../support/gateway";
import { captureLogLines } from "../support/log-lines";
import { admin, managedClient, managedFetch, newTenantKey, type MintedKey } from "../support/managed";
import { recordingEnv } from "../support/recording-db";
import { d1 } from "../support/shards";
import * as schema from "../../src/db/schema";
import { forgetShard } from "../../src/db/shards";
import { eraseTenant } from "../../src/db/tenant-erase";
import { moveTenant } from "../../src/db/tenant-move";
import { ownedRows, tenantTables } from "../../src/db/tenant-tables";
import { rollUpUsage } from "../../src/db/usage";
import { idFloorAt } from "../../src/responses/ids";

const THREE = { D1_SHARDS: "DB,DB_2,DB_3" };
const SHARDS = ["DB", "DB_2", "DB_3"];

const recordedShard = async (tenantId: string): Promise<string | undefined> =>
  (
    await env.DB.prepare("SELECT shard FROM tenant_shards WHERE tenant_id = ?")
      .bind(tenantId)
      .first<{ shard: string }>()
  )?.shard;

/** How many of the tenant's responses each shard holds. */
async function responsesPerShard(tenantId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const name of SHARDS) {
    const row = await d1(name)
      .prepare("SELECT count(*) AS n FROM responses WHERE tenant_id = ?")
      .bind(tenantId)
      .first<{ n: number }>();
    if ((row?.n ?? 0) > 0) counts[name] = row!.n;
  }
  return counts;
}

/** Every response id the tenant's own list shows, page by page. */
async function listed(key: string): Promise<string[]> {
  const ids: string[] = [];
  let after = "";
  for (;;) {
    const res = await managedFetch(
      `${GATEWAY_URL}/responses?limit=100${after}`,
      { headers: { authorization: `Bearer ${key}` } },
      THREE,
    );
    const page = await res.json<{ data: { id: string }[]; has_more: boolean; last_id: string }>();
    ids.push(...page.data.map((r) => r.id));
    if (!page.has_more) return ids;
    after = `&after=${page.last_id}`;
  }
}

interface Written {
  ids: string[];
  /** When each create was sent and answered (performance.now()). */
  spans: [number, number][];
}

/** Creates responses one after another until `stop()` holds, then two more. */
async function keepWriting(tenant: MintedKey, m: string, stop: () => boolean): Promise<Written> {
  const gateway = managedClient(tenant.key, THREE);
  const written: Written = { ids: [], spans: [] };
  for (let extra = 2; extra > 0;) {
    const sent = performance.now();
    written.ids.push((await gateway.responses.create({ model: m, input: `n${written.ids.length}` })).id);
    written.spans.push([sent, performance.now()]);
    if (stop()) extra--;
  }
  return written;
}

describe("moving a tenant to another shard", () => {
  it("moves a busy tenant's history and traffic while others write: nothing lost, nothing across tenants", async () => {
    const busy = await newTenantKey("busy tenant");
    const others = await Promise.all([1, 2].map((i) => newTenantKey(`other tenant ${i}`)));
    const m = model("text:2");
    const busyClient = managedClient(busy.key, THREE);
    const history: string[] = [];
    for (let i = 0; i < 4; i++) history.push((await busyClient.responses.create({ model: m, input: `old ${i}` })).id);
    const conversation = await busyClient.conversations.create({ items: [{ role: "user", content: "kept" }] });
    const from = (await recordedShard(busy.tenantId))!;
    const to = SHARDS.find((name) => name !== from)!;
    // Its usage so far is rolled up on the old shard (its mark past every id it writes in this test):
    // the rows and the mark move with it, so nothing counts twice or not at all.
    const nextHour = idFloorAt("resp", (Math.floor(Date.now() / 3_600_000) + 1) * 3_600_000);
    expect((await rollUpUsage(drizzle(d1(from), { schema }), nextHour)).tenants).toBeGreaterThan(0);

    let moved = false;
    const writers = [busy, busy, ...others].map((tenant) => keepWriting(tenant, m, () => moved));
    const moveStarted = performance.now();
    const move = await admin<{ from: string; to: string; rows: Record<string, number> }>(
      "POST",
      `/tenants/${busy.tenantId}/move`,
      { shard: to, drain_seconds: 0 },
      THREE,
    );
    const moveEnded = performance.now();
    moved = true;
    expect(move.status).toBe(200);
    expect(move.body).toMatchObject({ from, to });
    expect(move.body.rows.responses).toBeGreaterThanOrEqual(history.length);
    const [busyA, busyB, ...otherWrites] = await Promise.all(writers);
    const busyIds = [...history, ...busyA!.ids, ...busyB!.ids];
    const otherIds = otherWrites.map((written) => written.ids);
    // The busy tenant was writing while it moved.
    const during = [...busyA!.spans, ...busyB!.spans].filter(
      ([sent, answered]) => sent < moveEnded && answered > moveStarted,
    );
    expect(during.length).toBeGreaterThan(0);

    // Everything the busy tenant wrote lives on the new shard alone, and reads back complete.
    expect(await recordedShard(busy.tenantId)).toBe(to);
    expect(await responsesPerShard(busy.tenantId)).toEqual({ [to]: busyIds.length });
    expect((await listed(busy.key)).sort()).toEqual([...busyIds].sort());
    for (const id of busyIds)
      expect(await busyClient.responses.retrieve(id)).toMatchObject({ status: "completed", output_text: "w0 w1 " });
    const items = await busyClient.conversations.items.list(conversation.id);
    expect(items.data).toEqual([expect.objectContaining({ role: "user" })]);
    const usage = await managedFetch(
      `${GATEWAY_URL}/usage`,
      { headers: { authorization: `Bearer ${busy.key}` } },
      THREE,
    );
    const usageRows = (await usage.json<{ data: { responses: number }[] }>()).data;
    expect(usageRows.reduce((sum, row) => sum + row.responses, 0)).toBe(busyIds.length);

    // The others kept their own, and no tenant reaches another's.
    for (const [i, other] of others.entries()) {
      const own = otherIds[i]!;
      expect((await listed(other.key)).sort()).toEqual([...own].sort());
      await expect(managedClient(other.key, THREE).responses.retrieve(busyIds[0]!)).rejects.toMatchObject({
        status: 404,
      });
      await expect(busyClient.responses.retrieve(own[0]!)).rejects.toMatchObject({ status: 404 });
    }
  });

  it("refuses a shard D1_SHARDS does not list, and the shard the tenant is on", async () => {
    const tenant = await newTenantKey("stays");
    await managedClient(tenant.key, THREE).responses.create({ model: model("text:1"), input: "x" });
    const here = (await recordedShard(tenant.tenantId))!;
    const unknown = await admin("POST", `/tenants/${tenant.tenantId}/move`, { shard: "DB_9" }, THREE);
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({
      error: { param: "shard", message: expect.stringContaining("DB_9") as unknown },
    });
    const same = await admin("POST", `/tenants/${tenant.tenantId}/move`, { shard: here }, THREE);
    expect(same.status).toBe(400);
    expect(same.body).toMatchObject({
      error: { param: "shard", message: expect.stringContaining("already on") as unknown },
    });
    const drain = await admin("POST", `/tenants/${tenant.tenantId}/move`, { shard: "DB", drain_seconds: -1 }, THREE);
    expect(drain.status).toBe(400);
    expect(drain.body).toMatchObject({ error: { param: "drain_seconds" } });
    expect(await recordedShard(tenant.tenantId)).toBe(here);
  });

  it("records the shard of a tenant that has written nothing yet, and answers 404 for an unknown tenant", async () => {
    const fresh = await newTenantKey("fresh");
    const placed = await admin("POST", `/tenants/${fresh.tenantId}/move`, { shard: "DB_3", drain_seconds: 0 }, THREE);
    expect(placed.body).toMatchObject({ object: "tenant.move", from: "DB_3", to: "DB_3", rows: {} });
    expect(await recordedShard(fresh.tenantId)).toBe("DB_3");

    const unknown = "tenant_0000000000000000000000000000000000000000000000ff";
    const refused = await admin("POST", `/tenants/${unknown}/move`, { shard: "DB_2", drain_seconds: 0 }, THREE);
    expect(refused).toMatchObject({
      status: 404,
      body: { error: { message: `No tenant with id '${unknown}'.`, param: "tenant_id" } },
    });
    expect(await recordedShard(unknown)).toBeUndefined();
  });

  it("calls off a move whose Worker died, by moving the tenant to the shard it is on", async () => {
    const tenant = await newTenantKey("stranded");
    const openai = managedClient(tenant.key, THREE);
    const first = await openai.responses.create({ model: model("text:1"), input: "x" });
    const here = (await recordedShard(tenant.tenantId))!;
    const there = SHARDS.find((name) => name !== here)!;
    // What a move leaves when its Worker is stopped after step 1 (a deploy mid-move): the mark alone.
    await env.DB.prepare("UPDATE tenant_shards SET moving_to = ? WHERE tenant_id = ?")
      .bind(there, tenant.tenantId)
      .run();
    // Its writes then wait out the move and are refused (once isolates read the mark, as this one
    // would within REMEMBER_MS): the operator's line names the mark and the way out.
    forgetShard(tenant.tenantId);
    const logs = captureLogLines();
    try {
      const refused = await managedFetch(
        `${GATEWAY_URL}/conversations`,
        {
          method: "POST",
          headers: { authorization: `Bearer ${tenant.key}`, "content-type": "application/json" },
          body: "{}",
        },
        THREE,
      );
      expect(refused.status).toBe(503);
      const [line] = logs.matching({ event: "tenant_move", tenant: tenant.tenantId });
      expect(line).toMatchObject({
        msg: expect.stringContaining(
          `the tenant is marked moving from ${here} to ${there} and the move did not end within 20 s; if no move is running (its Worker was stopped), call it off by moving the tenant to ${here}`,
        ) as unknown,
        shard: here,
        moving_to: there,
      });
      expect(logs.levelOf(line!)).toBe("warn");
    } finally {
      logs.stop();
    }
    const again = await admin("POST", `/tenants/${tenant.tenantId}/move`, { shard: there, drain_seconds: 0 }, THREE);
    expect(again).toMatchObject({
      status: 409,
      body: { error: { message: expect.stringContaining(`to call that move off, move it to ${here}`) as unknown } },
    });
    const ended = captureLogLines();
    const off = await admin("POST", `/tenants/${tenant.tenantId}/move`, { shard: here, drain_seconds: 0 }, THREE);
    expect(off).toMatchObject({ status: 200, body: { object: "tenant.move", from: here, to: here, rows: {} } });
    // And a line says it is over.
    expect(ended.matching({ event: "tenant_move", tenant: tenant.tenantId })).toMatchObject([
      { msg: `tenant is on ${here}, no move pending: 0 rows copied`, from: here, to: here, rows: 0 },
    ]);
    ended.stop();
    const second = await openai.responses.create({
      model: model("text:1"),
      input: "y",
      previous_response_id: first.id,
    });
    expect(second.status).toBe("completed");
    expect(await responsesPerShard(tenant.tenantId)).toEqual({ [here]: 2 });
  }, 60_000);

  it("gives a running move up at its last step when it was called off meanwhile, keeping the tenant where it was", async () => {
    const tenant = await newTenantKey("called-off");
    const openai = managedClient(tenant.key, THREE);
    await openai.responses.create({ model: model("text:1"), input: "x" });
    const here = (await recordedShard(tenant.tenantId))!;
    const there = SHARDS.find((name) => name !== here)!;
    const moving = admin("POST", `/tenants/${tenant.tenantId}/move`, { shard: there, drain_seconds: 3 }, THREE);
    // The mark is set at once; the move then drains for 3 s, during which it is called off.
    const marked = async () =>
      (
        await env.DB.prepare("SELECT moving_to FROM tenant_shards WHERE tenant_id = ?")
          .bind(tenant.tenantId)
          .first<{ moving_to: string | null }>()
      )?.moving_to;
    while ((await marked()) !== there) await scheduler.wait(10);
    const off = await admin("POST", `/tenants/${tenant.tenantId}/move`, { shard: here, drain_seconds: 0 }, THREE);
    expect(off.status).toBe(200);
    expect(await moving).toMatchObject({
      status: 409,
      body: { error: { message: `The move of tenant '${tenant.tenantId}' was called off; it stays on ${here}.` } },
    });
    expect(await recordedShard(tenant.tenantId)).toBe(here);
    expect(await marked()).toBeNull();
    expect(await responsesPerShard(tenant.tenantId)).toEqual({ [here]: 1 });
  });
});

describe("erasing a tenant a move left rows of on another shard", () => {
  /** The tenant's rows on each shard, over every table with a `tenant_id` but the control tables. */
  async function rowsPerShard(tenantId: string): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const name of SHARDS) {
      const { results: tables } = await d1(name)
        .prepare(
          "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND m.name NOT IN ('tenants', 'api_keys', 'tenant_shards') AND m.name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE name = 'tenant_id')",
        )
        .all<{ name: string }>();
      for (const table of tables) {
        const row = await d1(name)
          .prepare(`SELECT count(*) AS n FROM "${table.name}" WHERE tenant_id = ?`)
          .bind(tenantId)
          .first<{ n: number }>();
        if ((row?.n ?? 0) > 0) counts[name] = (counts[name] ?? 0) + row!.n;
      }
    }
    return counts;
  }

  it("deletes the copy a move cut short left on its destination, once the move is called off", async () => {
    const tenant = await newTenantKey("cut short");
    const openai = managedClient(tenant.key, THREE);
    await openai.responses.create({ model: model("text:1"), input: "private" });
    const here = (await recordedShard(tenant.tenantId))!;
    const there = SHARDS.find((name) => name !== here)!;
    // What a move whose Worker was stopped in its step 3 leaves: the mark, and part of the copy.
    await env.DB.prepare("UPDATE tenant_shards SET moving_to = ? WHERE tenant_id = ?")
      .bind(there, tenant.tenantId)
      .run();
    const { results: copied } = await d1(here)
      .prepare("SELECT * FROM responses WHERE tenant_id = ?")
      .bind(tenant.tenantId)
      .all<Record<string, unknown>>();
    expect(copied.length).toBeGreaterThan(0);
    for (const row of copied) {
      const columns = Object.keys(row);
      await d1(there)
        .prepare(`INSERT INTO responses (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`)
        .bind(...columns.map((column) => (Array.isArray(row[column]) ? new Uint8Array(row[column]) : row[column])))
        .run();
    }
    const off = await admin("POST", `/tenants/${tenant.tenantId}/move`, { shard: here, drain_seconds: 0 }, THREE);
    expect(off.status).toBe(200);
    expect(Object.keys(await rowsPerShard(tenant.tenantId)).sort()).toEqual([here, there].sort());

    const erased = await admin("DELETE", `/tenants/${tenant.tenantId}`, undefined, THREE);
    expect(erased).toMatchObject({ status: 200, body: { deleted: true } });
    expect(await rowsPerShard(tenant.tenantId)).toEqual({});
  });
});

describe("moving a tenant to a shard a move cut short left rows of", () => {
  it("clears them first: a response deleted since does not come back with the move", async () => {
    const tenant = await newTenantKey("stale copy");
    const openai = managedClient(tenant.key, THREE);
    const gone = await openai.responses.create({ model: model("text:1"), input: "deleted later" });
    const kept = await openai.responses.create({ model: model("text:1"), input: "kept" });
    const here = (await recordedShard(tenant.tenantId))!;
    const there = SHARDS.find((name) => name !== here)!;
    // A copy an earlier move left on `there` (its Worker stopped, the move called off), then a delete.
    const { results: stale } = await d1(here)
      .prepare("SELECT * FROM responses WHERE tenant_id = ? AND id = ?")
      .bind(tenant.tenantId, gone.id)
      .all<Record<string, unknown>>();
    for (const row of stale) {
      const columns = Object.keys(row);
      await d1(there)
        .prepare(`INSERT INTO responses (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`)
        .bind(...columns.map((column) => (Array.isArray(row[column]) ? new Uint8Array(row[column]) : row[column])))
        .run();
    }
    await openai.responses.delete(gone.id);

    const moved = await admin("POST", `/tenants/${tenant.tenantId}/move`, { shard: there, drain_seconds: 0 }, THREE);
    expect(moved.status).toBe(200);
    expect(await responsesPerShard(tenant.tenantId)).toEqual({ [there]: 1 });
    await expect(openai.responses.retrieve(gone.id)).rejects.toMatchObject({ status: 404 });
    expect((await openai.responses.retrieve(kept.id)).id).toBe(kept.id);
  });
});

describe("deleting a moved tenant's rows in bounded statements", () => {
  it("deletes the old shard's rows a few per statement, and a move sent again finishes a deletion cut short", async () => {
    const tenant = await newTenantKey("bounded move delete");
    const openai = managedClient(tenant.key, THREE);
    for (let n = 0; n < 5; n++) await openai.responses.create({ model: model("text:1"), input: `n${n}` });
    const here = (await recordedShard(tenant.tenantId))!;
    const there = SHARDS.find((name) => name !== here)!;
    const recorded = recordingEnv();
    const moved = await moveTenant({ ...recorded.env, ...THREE }, tenant.tenantId, there, 0, { rowsPerStatement: 2 });
    expect(moved?.rows.responses).toBe(5);
    expect(await responsesPerShard(tenant.tenantId)).toEqual({ [there]: 5 });
    // One statement over every row could pass D1's limits after the tenant already reads `there`.
    const deletes = recorded.prepared[here]!.filter((statement) => statement.sql.startsWith("DELETE"));
    expect(Math.max(...deletes.flatMap((statement) => statement.changes))).toBeLessThanOrEqual(2);
    expect(deletes.find((statement) => statement.sql.startsWith('DELETE FROM "responses"'))?.changes).toEqual([
      2, 2, 1,
    ]);

    // A Worker stopped midway through that deletion leaves rows on `here`: sending the move again
    // finishes it, where it answered 400 (already there) and left them for good.
    const { results: left } = await d1(there)
      .prepare("SELECT * FROM responses WHERE tenant_id = ? LIMIT 2")
      .bind(tenant.tenantId)
      .all<Record<string, unknown>>();
    for (const row of left) {
      const columns = Object.keys(row);
      await d1(here)
        .prepare(`INSERT INTO responses (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`)
        .bind(...columns.map((column) => (Array.isArray(row[column]) ? new Uint8Array(row[column]) : row[column])))
        .run();
    }
    const again = await admin("POST", `/tenants/${tenant.tenantId}/move`, { shard: there, drain_seconds: 0 }, THREE);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ from: there, to: there });
    expect(await responsesPerShard(tenant.tenantId)).toEqual({ [there]: 5 });
    // With nothing left behind, the same move is refused as before.
    const refused = await admin("POST", `/tenants/${tenant.tenantId}/move`, { shard: there, drain_seconds: 0 }, THREE);
    expect(refused.status).toBe(400);
  });
});

describe("a move whose mark races another call on the tenant", () => {
  it("deletes nothing on the tenant's own shard when the record changed between its mark and its read", async () => {
    const tenant = await newTenantKey("move mark race");
    const openai = managedClient(tenant.key, THREE);
    for (let n = 0; n < 2; n++) await openai.responses.create({ model: model("text:1"), input: `n${n}` });
    const here = (await recordedShard(tenant.tenantId))!;
    const [other, target] = SHARDS.filter((name) => name !== here) as [string, string];
    // Another operator's move to `other` is under way when this move marks, and is called off before
    // this move reads the record: the tenant is on `here`, with no move, and `target` is elsewhere.
    const control = new Proxy(env.DB, {
      get(inner, name) {
        if (name !== "prepare") return (Reflect.get(inner, name) as (...args: unknown[]) => unknown).bind(inner);
        return (query: string) => {
          const statement = inner.prepare(query);
          if (!query.startsWith("UPDATE tenant_shards SET moving_to = ?1")) return statement;
          const mark = (value: string | null) =>
            inner
              .prepare("UPDATE tenant_shards SET moving_to = ? WHERE tenant_id = ?")
              .bind(value, tenant.tenantId)
              .run();
          return {
            bind: (...values: unknown[]) => ({
              first: async () => {
                await mark(other);
                const marked = await statement.bind(...values).first();
                await mark(null);
                return marked;
              },
            }),
          };
        };
      },
    });
    const raced = moveTenant({ ...env, ...THREE, DB: control }, tenant.tenantId, target, 0);
    await expect(raced).rejects.toMatchObject({ status: 409 });
    expect(await responsesPerShard(tenant.tenantId)).toEqual({ [here]: 2 });
    expect(await recordedShard(tenant.tenantId)).toBe(here);
  });
});

describe("erasing a tenant over several shards in bounded calls", () => {
  it("spends one call's statement budget over every shard, not a budget a shard", async () => {
    const tenant = await newTenantKey("budget over shards");
    const plant = async (shard: string, count: number) => {
      for (let n = 0; n < count; n++)
        await d1(shard)
          .prepare(
            "INSERT INTO idempotency_keys (tenant_id, key, request_hash, response_id, created_at, expires_at) VALUES (?, ?, 'h', 'resp_x', 0, 0)",
          )
          .bind(tenant.tenantId, `k${n}`)
          .run();
    };
    // One row where the erasure begins, three where it goes next: with rowsPerStatement 1 each row
    // is a full statement, and a budget of 2 must stop the call after the second, on any shard.
    await plant("DB", 1);
    await plant("DB_2", 3);
    const erase = () =>
      eraseTenant({ ...env, D1_SHARDS: THREE.D1_SHARDS }, tenant.tenantId, { budget: 2, rowsPerStatement: 1 });
    const first = await erase();
    expect(first).toMatchObject({ found: true, done: false });
    expect(Object.values(first.rows).reduce((sum, n) => sum + n, 0)).toBe(2);
    let last = first;
    while (!last.done) last = await erase();
    for (const shard of SHARDS) {
      const left = await d1(shard)
        .prepare("SELECT count(*) AS n FROM idempotency_keys WHERE tenant_id = ?")
        .bind(tenant.tenantId)
        .first<{ n: number }>();
      expect(left?.n).toBe(0);
    }
  });
});

describe("moving a big tenant in bounded calls", () => {
  const moveProgress = async (tenantId: string) =>
    await env.DB.prepare("SELECT moving_to, move_progress FROM tenant_shards WHERE tenant_id = ?")
      .bind(tenantId)
      .first<{ moving_to: string | null; move_progress: string | null }>();

  it("pages each table by key, reading each row about once, and goes on where a call stopped when the move is sent again", async () => {
    const tenant = await newTenantKey("big move");
    const openai = managedClient(tenant.key, THREE);
    for (let n = 0; n < 9; n++) await openai.responses.create({ model: model("text:1"), input: `n${n}` });
    const here = (await recordedShard(tenant.tenantId))!;
    const there = SHARDS.find((name) => name !== here)!;
    const recorded = recordingEnv();
    const bounds = { pageRows: 2, budget: 8 };
    const calls: NonNullable<Awaited<ReturnType<typeof moveTenant>>>[] = [];
    for (let n = 0; n < 100; n++) {
      const moved = await moveTenant({ ...recorded.env, ...THREE }, tenant.tenantId, there, 0, bounds);
      calls.push(moved!);
      if (moved!.done) break;
      // Between calls the tenant is still marked moving, and its progress is kept for the next call.
      expect(await moveProgress(tenant.tenantId)).toMatchObject({
        moving_to: there,
        move_progress: expect.any(String) as unknown,
      });
      expect(await recordedShard(tenant.tenantId)).toBe(here);
    }
    expect(calls.length).toBeGreaterThan(3);
    expect(calls.at(-1)).toMatchObject({ from: here, to: there, done: true });
    expect(calls.reduce((sum, call) => sum + (call.rows.responses ?? 0), 0)).toBe(9);
    expect(await responsesPerShard(tenant.tenantId)).toEqual({ [there]: 9 });
    expect(await moveProgress(tenant.tenantId)).toEqual({ moving_to: null, move_progress: null });
    // Every response is read back whole from the new shard.
    forgetShard(tenant.tenantId);
    expect((await listed(tenant.key)).length).toBe(9);
    // Each page seeks past the last row copied: the rows D1 reads for the responses stay near the
    // rows copied, where LIMIT … OFFSET re-read every row before each page (2 + 4 + … + 10 = 30).
    const pages = recorded.prepared[here]!.filter((statement) => statement.sql.startsWith('SELECT * FROM "responses"'));
    expect(pages.flatMap((statement) => statement.sql)).not.toContain("OFFSET");
    const read = pages.flatMap((statement) => statement.rowsRead).reduce((sum, n) => sum + n, 0);
    expect(read).toBeLessThanOrEqual(9 + 5);
  });

  it("copies and deletes blobs stored before blobs named their tenant, found by the tenant's responses", async () => {
    const tenant = await newTenantKey("legacy blobs move");
    const openai = managedClient(tenant.key, THREE);
    const response = await openai.responses.create({ model: model("text:1"), input: "x" });
    const here = (await recordedShard(tenant.tenantId))!;
    const there = SHARDS.find((name) => name !== here)!;
    await d1(here)
      .prepare("INSERT INTO blobs (owner_id, tenant_id, name, part, data) VALUES (?, '', 'legacy', 0, ?)")
      .bind(response.id, new Uint8Array([1, 2, 3]))
      .run();
    const moved = await moveTenant({ ...env, ...THREE }, tenant.tenantId, there, 0);
    expect(moved).toMatchObject({ done: true, rows: { blobs: 1 } });
    const blobs = async (name: string) =>
      (
        await d1(name)
          .prepare("SELECT tenant_id FROM blobs WHERE owner_id = ? AND name = 'legacy'")
          .bind(response.id)
          .all<{ tenant_id: string }>()
      ).results;
    expect(await blobs(here)).toEqual([]);
    expect(await blobs(there)).toEqual([{ tenant_id: tenant.tenantId }]);
  });

  it("answers a failed deletion of the old shard's rows with a 503 saying to send the move again, which finishes it", async () => {
    const tenant = await newTenantKey("move delete fails");
    const openai = managedClient(tenant.key, THREE);
    for (let n = 0; n < 2; n++) await openai.responses.create({ model: model("text:1"), input: `n${n}` });
    const here = (await recordedShard(tenant.tenantId))!;
    const there = SHARDS.find((name) => name !== here)!;
    const source = d1(here);
    const failing = new Proxy(source, {
      get(inner, name) {
        if (name !== "prepare") return (Reflect.get(inner, name) as (...args: unknown[]) => unknown).bind(inner);
        return (query: string) => {
          if (query.startsWith("DELETE")) throw new Error("D1_ERROR: simulated");
          return inner.prepare(query);
        };
      },
    });
    const moving = moveTenant({ ...env, ...THREE, [here]: failing }, tenant.tenantId, there, 0);
    await expect(moving).rejects.toMatchObject({
      status: 503,
      message: `Tenant '${tenant.tenantId}' was moved to ${there}, but deleting its rows on ${here} failed; send the same move again to finish deleting them.`,
    });
    expect(await recordedShard(tenant.tenantId)).toBe(there);
    const again = await admin("POST", `/tenants/${tenant.tenantId}/move`, { shard: there, drain_seconds: 0 }, THREE);
    expect(again).toMatchObject({ status: 200, body: { from: there, to: there, done: true } });
    expect(await responsesPerShard(tenant.tenantId)).toEqual({ [there]: 2 });
  });
});

describe("a move sent again while an earlier call of it still runs", () => {
  /** The tenant's rows on `name`, per table. */
  async function rowsOn(name: string, tenantId: string): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const table of await tenantTables(d1(name))) {
      const row = await d1(name)
        .prepare(`SELECT count(*) AS n FROM "${table.name}" WHERE ${ownedRows(table)}`)
        .bind(tenantId)
        .first<{ n: number }>();
      if ((row?.n ?? 0) > 0) counts[table.name] = row!.n;
    }
    return counts;
  }

  /** `db` whose copy batches wait at `gate` once `when` held for a statement prepared since. */
  function pausing(
    db: D1Database,
    when: (query: string) => boolean,
    gate: { reached: () => void; open: Promise<void> },
  ) {
    let armed = false;
    let paused = false;
    return new Proxy(db, {
      get(inner, name) {
        if (name === "prepare")
          return (query: string) => {
            if (when(query)) armed = true;
            return inner.prepare(query);
          };
        if (name === "batch")
          return async (statements: D1PreparedStatement[]) => {
            if (armed && !paused) {
              paused = true;
              gate.reached();
              await gate.open;
            }
            return inner.batch(statements);
          };
        return (Reflect.get(inner, name) as (...args: unknown[]) => unknown).bind(inner);
      },
    });
  }

  function newGate() {
    let reached!: () => void;
    let open!: () => void;
    const hit = new Promise<void>((resolve) => (reached = resolve));
    const opened = new Promise<void>((resolve) => (open = resolve));
    return { gate: { reached, open: opened }, hit, open };
  }

  it("leaves the move to the later call: the earlier one's copy, cleared by it, is never recorded", async () => {
    const tenant = await newTenantKey("move sent twice");
    const openai = managedClient(tenant.key, THREE);
    for (let n = 0; n < 3; n++) await openai.responses.create({ model: model("text:1"), input: `n${n}` });
    await openai.conversations.create({ items: [{ type: "message", role: "user", content: "kept" }] });
    const here = (await recordedShard(tenant.tenantId))!;
    const there = SHARDS.find((name) => name !== here)!;
    const before = await rowsOn(here, tenant.tenantId);
    expect(Object.keys(before)).toEqual(expect.arrayContaining(["conversations", "responses"]));
    // The first call stops before it copies the responses, every other table copied; the second
    // (sent again meanwhile) clears the new shard and stops before its first copy.
    const first = newGate();
    const second = newGate();
    const earlier = moveTenant(
      { ...env, ...THREE, [there]: pausing(d1(there), (q) => q.includes('INTO "responses"'), first.gate) },
      tenant.tenantId,
      there,
      0,
    ).then(
      (moved) => ({ moved }),
      (error: unknown) => ({ error }),
    );
    await first.hit;
    const later = moveTenant(
      { ...env, ...THREE, [there]: pausing(d1(there), () => true, second.gate) },
      tenant.tenantId,
      there,
      0,
    ).then(
      (moved) => ({ moved }),
      (error: unknown) => ({ error }),
    );
    await second.hit;
    first.open();
    await earlier;
    second.open();
    await later;
    // The earlier call stops at its record, which the later call's claim overtook; the later one
    // copies everything again and records the new shard.
    expect(await recordedShard(tenant.tenantId)).toBe(there);
    expect(await rowsOn(there, tenant.tenantId)).toEqual(before);
    expect(await rowsOn(here, tenant.tenantId)).toEqual({});
    expect(await earlier).toMatchObject({ error: { status: 409 } });
    expect(await later).toMatchObject({ moved: { from: here, to: there, done: true } });
  });
});
