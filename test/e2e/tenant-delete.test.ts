// DELETE /admin/tenants/{id}: a tenant's erasure. Its keys are refused from then on, every row of its
// history on its shard is gone (whatever table holds it), another tenant's history is untouched, and a
// tenant with running responses is refused with nothing deleted. A large history takes several calls.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { eraseTenant } from "../../src/db/tenant-erase";
import { heldBackground, model, upstream } from "../support/gateway";
import { admin, managedClient, managedEnv, newTenantKey, type MintedKey } from "../support/managed";
import { everyD1 } from "../support/shards";
import { hookUrl, received, receivedAtLeast, until } from "../support/hooks";
import { runName } from "../../src/run/response-run";

/** The tenant's rows on every shard, per table that has a `tenant_id` (control tables included). */
async function rowsOf(tenantId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const db of everyD1()) {
    const { results: tables } = await db
      .prepare(
        "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND m.name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE name = 'tenant_id')",
      )
      .all<{ name: string }>();
    for (const { name } of tables) {
      const row = await db.prepare(`SELECT count(*) AS n FROM "${name}" WHERE tenant_id = ?`).bind(tenantId).first<{
        n: number;
      }>();
      if ((row?.n ?? 0) > 0) counts[name] = (counts[name] ?? 0) + (row?.n ?? 0);
    }
  }
  const tenant = await env.DB.prepare("SELECT count(*) AS n FROM tenants WHERE id = ?").bind(tenantId).first<{
    n: number;
  }>();
  if ((tenant?.n ?? 0) > 0) counts.tenants = tenant?.n ?? 0;
  return counts;
}

/** A tenant with a history in most tables: responses with items and events, a conversation, a webhook endpoint, an idempotency key, usage. */
async function busyTenant(name: string): Promise<MintedKey> {
  const minted = await newTenantKey(name);
  const openai = managedClient(minted.key);
  const first = await openai.responses.create({ model: model("text:3"), input: "hello", metadata: { k: "v" } });
  await openai.responses.create({ model: model("text:2"), input: "again", previous_response_id: first.id });
  const conversation = await openai.conversations.create({ items: [{ role: "user", content: "kept" }] });
  await openai.responses.create({ model: model("text:2"), input: "in it", conversation: conversation.id });
  await openai.responses.create(
    { model: model("text:2"), input: "once", stream: true },
    { headers: { "idempotency-key": `${name}-once` } },
  );
  expect(
    (
      await admin("POST", `/tenants/${minted.tenantId}/webhook_endpoints`, {
        url: "https://hooks.example.com/in",
      })
    ).status,
  ).toBe(200);
  return minted;
}

describe("DELETE /admin/tenants/{id}", () => {
  it("revokes the tenant's keys and deletes every row of its history, and nothing of another tenant's", async () => {
    const doomed = await busyTenant("doomed");
    const kept = await busyTenant("kept");
    const keptBefore = await rowsOf(kept.tenantId);
    const before = await rowsOf(doomed.tenantId);
    const usageOf = async (tenantId: string) =>
      (await admin<{ data: unknown[] }>("GET", `/usage?tenant_id=${tenantId}&group_by=tenant`)).body.data;
    expect(await usageOf(doomed.tenantId)).toHaveLength(1);
    expect(Object.keys(before)).toEqual(
      expect.arrayContaining([
        "responses",
        "conversations",
        "conversation_items",
        "idempotency_keys",
        "webhook_endpoints",
        "api_keys",
        "tenant_shards",
        "tenants",
      ]),
    );

    const deleted = await admin<{ object: string; id: string; deleted: boolean; rows: Record<string, number> }>(
      "DELETE",
      `/tenants/${doomed.tenantId}`,
    );
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ object: "tenant.deleted", id: doomed.tenantId, deleted: true });
    expect(deleted.body.rows.responses).toBe(before.responses);
    expect(await rowsOf(doomed.tenantId)).toEqual({});
    expect(await rowsOf(kept.tenantId)).toEqual(keptBefore);
    // Its usage went with it (a response's deletion keeps usage; a tenant's erasure does not).
    expect(await usageOf(doomed.tenantId)).toEqual([]);
    expect(await usageOf(kept.tenantId)).toHaveLength(1);

    // Its key is refused as an unknown one; the tenant is gone from the admin API; a second delete is a 404.
    const refused = await managedClient(doomed.key)
      .conversations.create({})
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 401, code: "invalid_api_key" });
    expect((await admin("GET", `/tenants/${doomed.tenantId}`)).status).toBe(404);
    const again = await admin("DELETE", `/tenants/${doomed.tenantId}`);
    expect(again).toMatchObject({
      status: 404,
      body: { error: { param: "tenant_id", type: "invalid_request_error" } },
    });
    // The other tenant's key still reads its history.
    expect((await managedClient(kept.key).conversations.create({})).object).toBe("conversation");
  });

  it("refuses a tenant with a running response, changing nothing; once it has ended the delete goes through", async () => {
    const minted = await newTenantKey("running");
    const openai = managedClient(minted.key);
    const held = await heldBackground(openai);
    const before = await rowsOf(minted.tenantId);
    const refused = await admin<{ error: { message: string } }>("DELETE", `/tenants/${minted.tenantId}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toBe(
      `Tenant '${minted.tenantId}' has 1 response running; nothing was changed. Cancel them or let them end, then delete it again.`,
    );
    expect(await rowsOf(minted.tenantId)).toEqual(before);
    // Its key is not revoked: the tenant can still read (and cancel) what runs.
    const keys = await admin<{ data: { revoked_at: number | null }[] }>("GET", `/tenants/${minted.tenantId}/keys`);
    expect(keys.body.data.map((key) => key.revoked_at)).toEqual([null]);
    expect((await openai.responses.retrieve(held.id)).status).toBe("in_progress");

    await upstream.release(held.model);
    await waitForEnd(minted.tenantId, held.id);
    expect((await admin("DELETE", `/tenants/${minted.tenantId}`)).body).toMatchObject({ deleted: true });
    expect(await rowsOf(minted.tenantId)).toEqual({});
  });

  it("erases on a later call what a request in flight at the erasure wrote after it (a store:false stream's usage)", async () => {
    const minted = await newTenantKey("in-flight");
    const openai = managedClient(minted.key);
    // A tenant with a history: its shard is on record when the stream begins, so the stream's end
    // writes there without recording it again.
    await openai.responses.create({ model: model("text:1"), input: "x" });
    const m = model("gate:6:10");
    const stream = await openai.responses.create({
      model: m,
      input: "x",
      store: false,
      stream: true,
    });
    const events = stream[Symbol.asyncIterator]();
    for (let event = await events.next(); !event.done; event = await events.next())
      if (event.value.type === "response.output_text.delta") break;
    // Nothing of it is on record yet: the erasure goes through while it streams.
    expect((await admin("DELETE", `/tenants/${minted.tenantId}`)).body).toMatchObject({ deleted: true });
    await upstream.release(m);
    let last = "";
    for (let event = await events.next(); !event.done; event = await events.next()) last = event.value.type;
    expect(last).toBe("response.completed");
    // Its end counted its usage for the erased tenant; a second call finds and erases it.
    expect(await rowsOf(minted.tenantId)).toEqual({ usage_daily: 1 });
    const again = await admin<{ deleted: boolean; rows: Record<string, number> }>(
      "DELETE",
      `/tenants/${minted.tenantId}`,
    );
    expect(again).toMatchObject({ status: 200, body: { deleted: true, rows: { usage_daily: 1 } } });
    expect(await rowsOf(minted.tenantId)).toEqual({});
    expect((await admin("DELETE", `/tenants/${minted.tenantId}`)).status).toBe(404);
  });

  it("drops a pending webhook delivery of the erased tenant: no retry writes its records or shard record back", async () => {
    const minted = await newTenantKey("hooked");
    const url = hookUrl("fail:1");
    expect((await admin("POST", `/tenants/${minted.tenantId}/webhook_endpoints`, { url })).status).toBe(200);
    const created = await managedClient(minted.key).responses.create({
      model: model("text:1"),
      input: "x",
      background: true,
    });
    // The first attempt failed: a retry is due within a second (WEBHOOK_RETRY_BASE_SECONDS is 1).
    await receivedAtLeast(url, 1);
    await waitForEnd(minted.tenantId, created.id);
    expect((await admin("DELETE", `/tenants/${minted.tenantId}`)).body).toMatchObject({ deleted: true });
    const run = env.RESPONSE_RUN.getByName(runName(minted.tenantId, created.id));
    await until(
      () => runInDurableObject(run, (_instance, state) => state.storage.getAlarm()),
      (alarm) => alarm === null,
      "the run object's webhook work to end",
    );
    expect(await rowsOf(minted.tenantId)).toEqual({});
    expect((await received(url)).length).toBe(1);
  });

  it("erases a large history over several calls, each within its bounds", async () => {
    const minted = await busyTenant("large");
    const before = await rowsOf(minted.tenantId);
    let calls = 0;
    const deleted: Record<string, number> = {};
    for (;;) {
      calls++;
      const outcome = await eraseTenant(managedEnv(), minted.tenantId, { budget: 1, rowsPerStatement: 2 });
      for (const [table, n] of Object.entries(outcome.rows)) deleted[table] = (deleted[table] ?? 0) + n;
      if (outcome.done) break;
      expect(outcome.found).toBe(true);
    }
    expect(calls).toBeGreaterThan(1);
    expect(deleted.responses).toBe(before.responses);
    expect(await rowsOf(minted.tenantId)).toEqual({});
    expect((await admin("DELETE", "/tenants/t_00000000000000000000000000000000")).status).toBe(404);
  });
});

/** Waits for the background response's run to end (its row leaves `in_progress`). */
async function waitForEnd(tenantId: string, id: string): Promise<void> {
  for (;;) {
    let status: string | undefined;
    for (const db of everyD1())
      status ??= (
        await db
          .prepare("SELECT status FROM responses WHERE tenant_id = ? AND id = ?")
          .bind(tenantId, id)
          .first<{ status: string }>()
      )?.status;
    if (status !== "queued" && status !== "in_progress") return;
    await scheduler.wait(20);
  }
}
