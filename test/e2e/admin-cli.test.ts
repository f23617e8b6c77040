// The admin CLI (`npm run admin`) answers alike against D1 and against the admin API (`--url`):
// its D1 statements (scripts/admin/queries.ts, run here on the test database instead of through
// wrangler, their rows shaped as wrangler prints them) and its HTTP target (here against the real
// Worker) give the same objects for the same state, find tenants by id or by name, and refuse an
// ambiguous or unknown name alike.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { d1Admin, type Execute } from "../../scripts/admin/d1.ts";
import { httpAdmin } from "../../scripts/admin/http.ts";
import { render } from "../../scripts/admin/print.ts";
import { CliError, type Row } from "../../scripts/admin/queries.ts";
import { status } from "../../scripts/admin/status.ts";
import type { Admin } from "../../scripts/admin/targets.ts";
import { checkWebhookUrl } from "../../scripts/admin/webhook-url.ts";
import { client, gatewayFetch, GATEWAY_URL, model } from "../support/gateway";
import { ADMIN_TOKEN, ADMIN_URL, managedFetch, UPSTREAM_KEY } from "../support/managed";
import { hookUrl, until } from "../support/hooks";
import { firstRow, passthroughTenant, tenantD1 } from "../support/shards";

/**
 * A value as `wrangler d1 execute --local --json` prints it: wrangler 4.164 (`executeLocally`) turns
 * a BLOB, an array of bytes, into the string "[125, 82, 209]".
 */
function asWrangler(value: unknown): unknown {
  if (value instanceof ArrayBuffer) return `[${new Uint8Array(value).join(", ")}]`;
  if (Array.isArray(value)) return `[${value.join(", ")}]`;
  return value;
}

/** Runs the CLI's statements in order on `db`, as `wrangler d1 execute --command --json` does, and answers as it prints. */
const executeOn =
  (db: D1Database): Execute =>
  async (statements) => {
    const results: Row[][] = [];
    for (const statement of statements) {
      const rows = (await db.prepare(statement).all<Row>()).results;
      results.push(
        rows.map((row) => Object.fromEntries(Object.entries(row).map(([name, value]) => [name, asWrangler(value)]))),
      );
    }
    return results;
  };

const d1: Admin = d1Admin(executeOn(env.DB));
const api: Admin = httpAdmin("http://gateway.test", ADMIN_TOKEN, (input, init) =>
  managedFetch(input instanceof URL ? input.href : input, init),
);

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CliError) return error.message;
    throw error;
  }
  throw new Error("expected a CliError");
}

const unique = (what: string) => `${what} ${crypto.randomUUID()}`;

describe("the admin CLI, against D1 and against the admin API", () => {
  it("shows the same tenant, found by id or by name, from either target", async () => {
    const name = unique("Team Blue");
    const created = await d1.createTenant(name);
    expect(created).toMatchObject({ object: "tenant", name });
    for (const ref of [name, String(created.id)]) {
      expect(await d1.showTenant(ref)).toEqual(created);
      expect(await api.showTenant(ref)).toEqual(created);
    }
    const listed = (await api.listTenants()).data.find((tenant) => tenant.id === created.id);
    expect((await d1.listTenants()).data.find((tenant) => tenant.id === created.id)).toEqual(listed);
    // Its shard record, once it has one, and a move under way.
    await env.DB.prepare(
      "INSERT INTO tenant_shards (tenant_id, shard, created_at, moving_to) VALUES (?, 'DB', unixepoch(), 'DB_2')",
    )
      .bind(created.id)
      .run();
    const placed = await api.showTenant(name);
    expect(placed).toEqual({ ...created, shard: "DB", moving_to: "DB_2" });
    expect(await d1.showTenant(name)).toEqual(placed);
    expect((await d1.listTenants()).data.find((tenant) => tenant.id === created.id)).toEqual(placed);
    expect(render("tenant show", placed, false)).toMatch(/^shard +DB\nmoving_to +DB_2$/m);
  });

  it("lists the same keys whichever target made or revoked them, the key itself shown only at creation", async () => {
    const name = unique("keys");
    await api.createTenant(name);
    const local = await d1.createKey(name, "laptop");
    const remote = await api.createKey(name, "ci");
    expect(Object.keys(local).sort()).toEqual(Object.keys(remote).sort());
    expect(local.key).toMatch(/^sk-gw-/);
    expect(await d1.revokeKey(String(remote.id))).toEqual(
      (await api.listKeys(name)).data.find((key) => key.id === remote.id),
    );
    const listed = await d1.listKeys(name);
    expect(listed).toEqual(await api.listKeys(name));
    expect(listed.data.map((key) => key.name).sort()).toEqual(["ci", "laptop"]);
    expect(JSON.stringify(listed)).not.toContain(String(local.key));
    // The key the CLI minted locally works: hashed as the Worker hashes keys.
    const res = await managedFetch("http://gateway.test/v1/responses", {
      headers: { authorization: `Bearer ${String(local.key)}` },
    });
    expect(res.status).toBe(200);
  });

  it("adds, lists and removes webhook endpoints with the same objects, the secret shown once", async () => {
    const name = unique("hooks");
    await d1.createTenant(name);
    const input = { url: "https://hooks.example.com/in", name: "ops", event_types: ["response.completed"] };
    const local = await d1.addWebhook(name, input);
    const remote = await api.addWebhook(name, input);
    expect(Object.keys(local)).toEqual(Object.keys(remote));
    expect(local).toMatchObject({ object: "webhook_endpoint", url: input.url, event_types: input.event_types });
    expect(local.signing_secret_hint).toBe(`whsec_…${String(local.signing_secret).slice(-4)}`);
    const listed = await d1.listWebhooks(name);
    expect(listed).toEqual(await api.listWebhooks(name));
    expect(JSON.stringify(listed)).not.toContain(String(local.signing_secret));
    expect(await d1.removeWebhook(name, String(local.id))).toEqual({
      id: local.id,
      object: "webhook_endpoint.deleted",
      deleted: true,
    });
    expect(await api.removeWebhook(name, String(remote.id))).toEqual({
      id: remote.id,
      object: "webhook_endpoint.deleted",
      deleted: true,
    });
    expect((await api.listWebhooks(name)).data).toEqual([]);
  });

  it("reports the same usage, for every tenant or one", async () => {
    const key = `sk-cli-usage-${crypto.randomUUID()}`;
    await client(key).responses.create({ model: model("text:3"), input: "x" });
    const today = new Date().toISOString().slice(0, 10);
    for (const groupBy of [["day"], ["tenant", "model"], ["model", "key"]] as const) {
      const query = { tenant: null, startDay: "2026-01-01", endDay: today, groupBy: [...groupBy] };
      expect(await d1.usage(query)).toEqual(await api.usage(query));
    }
    const tenant = await d1.createTenant(unique("usage"));
    const one = { tenant: String(tenant.name), startDay: "2026-01-01", endDay: today, groupBy: ["day" as const] };
    expect(await d1.usage(one)).toEqual(await api.usage(one));
    // A pass-through tenant has no tenants row: both targets take its id as it is.
    const passthrough = { ...one, tenant: await passthroughTenant(key), groupBy: ["model" as const] };
    const used = await api.usage(passthrough);
    expect(used.data).toMatchObject([{ responses: 1 }]);
    expect(await d1.usage(passthrough)).toEqual(used);
  });

  it("shows usage's cost in its table when any row is priced, not only when the first one is", () => {
    const answer = {
      object: "list",
      start_date: "2026-11-07",
      end_date: "2026-12-06",
      group_by: ["model"],
      data: [
        { object: "usage", model: "unpriced", responses: 1, input_tokens: 8, output_tokens: 100, total_tokens: 108 },
        {
          object: "usage",
          model: "priced",
          responses: 1,
          input_tokens: 8,
          output_tokens: 100,
          total_tokens: 108,
          cost: { currency: "usd", input: 0.000008, output: 0.0002, total: 0.000208 },
        },
      ],
    };
    const lines = render("usage", answer, false).split("\n");
    expect(lines[1]).toMatch(/\bcost$/);
    expect(lines[2]).toMatch(/^unpriced .* -$/);
    expect(lines[3]).toMatch(/^priced .* \$0\.000208$/);
  });

  it("erases a tenant through the admin API, found by name or by a pass-through id; refuses it against D1", async () => {
    const name = unique("erased");
    await api.createTenant(name);
    await api.createKey(name, "doomed");
    const apiOnly = "'tenant delete' revokes the keys and deletes the history on every shard";
    expect(await refusal(d1.deleteTenant(name))).toContain(apiOnly);
    expect((await d1.showTenant(name)).name).toBe(name);
    const erased = await api.deleteTenant(name);
    expect(erased).toMatchObject({ object: "tenant.deleted", deleted: true, rows: {} });
    expect(await refusal(d1.showTenant(name))).toBe(`No tenant with id or name '${name}'.`);
    expect(await refusal(d1.listKeys(String(erased.id)))).toMatch(/^No tenant/);

    const key = `sk-cli-erased-${crypto.randomUUID()}`;
    await client(key).responses.create({ model: model("text:2"), input: "a" });
    const tenant = await passthroughTenant(key);
    expect(await api.deleteTenant(tenant)).toMatchObject({ id: tenant, deleted: true, rows: { responses: 1 } });
    const filters = { limit: 20, order: "desc" as const, after: null, metadata: [] };
    expect((await api.listResponses(tenant, filters)).data).toEqual([]);
  });

  it("moves a tenant through the admin API and refuses it against D1 and to a shard not in D1_SHARDS", async () => {
    const name = unique("moved");
    const created = await api.createTenant(name);
    expect(await refusal(d1.moveTenant(name, "DB", undefined))).toContain("'tenant move' holds the tenant's writes");
    expect(await api.moveTenant(name, "DB", 0)).toMatchObject({
      object: "tenant.move",
      tenant_id: created.id,
      to: "DB",
    });
    expect(await refusal(api.moveTenant(name, "DB_9", 0))).toBe(
      "HTTP 400: Invalid 'shard': 'DB_9' is not listed in D1_SHARDS.",
    );
  });

  it("erases or moves no tenant given a name that is also another tenant's id, managed or pass-through", async () => {
    const kept = await api.createTenant(unique("kept"));
    const keptId = String(kept.id);
    const namedAsId = await api.createTenant(keptId);
    const passthrough = `t_${crypto.randomUUID().replaceAll("-", "")}`;
    const namedAsPassthrough = await api.createTenant(passthrough);
    for (const [ref, named] of [
      [keptId, namedAsId],
      [passthrough, namedAsPassthrough],
    ] as const) {
      for (const attempt of [() => api.deleteTenant(ref), () => api.moveTenant(ref, "DB", 0)])
        expect(await refusal(attempt())).toMatch(
          new RegExp(`^'${ref}' is a tenant's id and the name of ${String(named.id)}: `),
        );
      expect((await api.showTenant(String(named.id))).name).toBe(ref);
    }
    expect((await api.showTenant(keptId)).name).toBe(kept.name);
    // By its own id, each goes.
    expect(await api.deleteTenant(String(namedAsPassthrough.id))).toMatchObject({ deleted: true });
  });

  it("refuses an unknown or ambiguous tenant name alike, and never writes for it", async () => {
    const name = unique("twins");
    const first = await d1.createTenant(name);
    const second = await api.createTenant(name);
    // Listed as the admin API lists tenants: by creation time, then id.
    const ids = [first, second]
      .sort((a, b) => Number(a.created_at) - Number(b.created_at) || String(a.id).localeCompare(String(b.id)))
      .map((tenant) => String(tenant.id));
    const ambiguous = `2 tenants are named '${name}': ${ids.join(", ")}. Use an id.`;
    for (const admin of [d1, api]) {
      expect(await refusal(admin.createKey(name, "k"))).toBe(ambiguous);
      expect(await refusal(admin.listKeys("nobody-by-this-name"))).toBe(
        "No tenant with id or name 'nobody-by-this-name'.",
      );
    }
    expect((await d1.listKeys(String(first.id))).data).toEqual([]);
    expect((await d1.listKeys(String(second.id))).data).toEqual([]);
  });

  it("refuses, against D1, a tenant whose history is on another shard, and writes nothing for it", async () => {
    const name = unique("elsewhere");
    const tenant = await d1.createTenant(name);
    const id = String(tenant.id);
    // As the gateway records a tenant placed on DB_2 (docs/sharding.md): its history is not in DB.
    await env.DB.prepare("INSERT INTO tenant_shards (tenant_id, shard, created_at) VALUES (?, 'DB_2', unixepoch())")
      .bind(id)
      .run();
    const elsewhere = `Tenant '${name}' lives on shard DB_2; the D1 targets reach DB alone: use --url (docs/sharding.md).`;
    expect(
      await refusal(d1.addWebhook(name, { url: "https://hooks.example.com/x", event_types: ["response.completed"] })),
    ).toBe(elsewhere);
    expect(await refusal(d1.listWebhooks(name))).toBe(elsewhere);
    expect(await refusal(d1.removeWebhook(name, "whe_x"))).toBe(elsewhere);
    expect(await refusal(d1.usage({ tenant: name, startDay: "2026-11-01", endDay: "2026-11-30", groupBy: [] }))).toBe(
      elsewhere,
    );
    expect(await refusal(d1.listResponses(name, { limit: 5, order: "desc", after: null, metadata: [] }))).toBe(
      elsewhere,
    );
    expect(await refusal(d1.showResponse("resp_x", name))).toBe(elsewhere);
    const written = await env.DB.prepare("SELECT count(*) AS n FROM webhook_endpoints WHERE tenant_id = ?")
      .bind(id)
      .first<{ n: number }>();
    expect(written?.n).toBe(0);
    // Its keys and the tenant itself are in DB: those commands work.
    expect((await d1.createKey(id, "k")).tenant_id).toBe(id);
  });

  it("lists a tenant's responses with GET /v1/responses's filters and order, and shows one as stored, from either target", async () => {
    const key = `sk-cli-responses-${crypto.randomUUID()}`;
    const openai = client(key);
    const conversation = await openai.conversations.create();
    const first = await openai.responses.create({
      model: model("text:2"),
      input: "a",
      metadata: { team: "blue" },
      conversation: conversation.id,
    });
    const second = await openai.responses.create({
      model: model("text:3"),
      input: "b",
      previous_response_id: first.id,
    });
    const row = await firstRow<Row>(
      "SELECT tenant_id, typeof(snapshot) AS kind FROM responses WHERE id = ?",
      second.id,
    );
    const tenant = String(row?.tenant_id);
    // An ended response's snapshot is a BLOB (src/db/codec.ts), which wrangler prints as "[125, 82, …]".
    expect(row?.kind).toBe("blob");
    // The CLI's D1 target reads one database: over shards, the one that holds the tenant.
    const d1 = d1Admin(executeOn(await tenantD1(tenant)));
    const filters = { limit: 20, order: "desc" as const, after: null, metadata: [] };
    for (const admin of [d1, api]) {
      const ids = async (extra: object) =>
        (await admin.listResponses(tenant, { ...filters, ...extra })).data.map((response) => response.id);
      expect(await ids({})).toEqual([second.id, first.id]);
      expect(await ids({ order: "asc" })).toEqual([first.id, second.id]);
      expect(await ids({ previousResponseId: first.id })).toEqual([second.id]);
      expect(await ids({ conversation: conversation.id })).toEqual([first.id]);
      expect(await ids({ metadata: [["team", "blue"]] })).toEqual([first.id]);
      expect(await ids({ status: "failed" })).toEqual([]);
      const page = await admin.listResponses(tenant, { ...filters, limit: 1 });
      expect(page).toMatchObject({ has_more: true, last_id: second.id });
      expect(await ids({ after: second.id })).toEqual([first.id]);
    }
    const listed = await d1.listResponses(tenant, filters);
    expect(listed.data[0]).toEqual({
      id: second.id,
      object: "response",
      tenant_id: tenant,
      created_at: second.created_at,
      status: "completed",
      model: second.model,
      background: false,
      previous_response_id: first.id,
      conversation: null,
      metadata: {},
      usage: { input_tokens: second.usage?.input_tokens, output_tokens: second.usage?.output_tokens },
      error: null,
    });
    expect(await api.listResponses(tenant, filters)).toEqual(listed);
    const stored = await gatewayFetch(`${GATEWAY_URL}/responses/${second.id}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const shown = { ...(await stored.json<Row>()), tenant_id: tenant };
    for (const admin of [d1, api]) {
      expect(await admin.showResponse(second.id, tenant)).toEqual(shown);
      expect(await admin.showResponse(second.id, null)).toEqual(shown);
      expect(await refusal(admin.showResponse(second.id, unique("someone else")))).toMatch(/^No tenant/);
    }
    const other = await d1.createTenant(unique("not the owner"));
    for (const admin of [d1, api])
      expect(await refusal(admin.showResponse(second.id, String(other.id)))).toBe(
        `No response with id '${second.id}' for this tenant.`,
      );
  });

  it("lists every tenant's responses without a tenant, newest first, with a failed one's error, from either target", async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const keys = [`sk-cli-all-${crypto.randomUUID()}`, `sk-cli-all-${crypto.randomUUID()}`] as const;
    const done = await client(keys[0]).responses.create({ model: model("text:1"), input: "a" });
    await expect(client(keys[1]).responses.create({ model: model("refused/m"), input: "b" })).rejects.toMatchObject({
      status: 502,
    });
    const tenants = await Promise.all(keys.map((key) => passthroughTenant(key)));
    const filters = { limit: 100, order: "desc" as const, after: null, metadata: [], createdAfter: since };
    const listed = await api.listResponses(null, filters);
    const ours = listed.data.filter((response) => tenants.includes(String(response.tenant_id)));
    expect(ours.map((response) => [response.tenant_id, response.status])).toEqual([
      [tenants[1], "failed"],
      [tenants[0], "completed"],
    ]);
    expect(ours[0]?.error).toMatchObject({ code: "upstream_unreachable" });
    expect(ours[1]).toMatchObject({ id: done.id, error: null });
    // The D1 target reads DB alone: it refuses while any tenant is recorded elsewhere (an earlier
    // test records one on DB_2), and lists the same as the API once every tenant is in DB.
    const elsewhere = `elsewhere-${crypto.randomUUID()}`;
    await env.DB.prepare("INSERT INTO tenant_shards (tenant_id, shard, created_at) VALUES (?, 'DB_2', unixepoch())")
      .bind(elsewhere)
      .run();
    expect(await refusal(d1.listResponses(null, filters))).toBe(
      "Some tenants live on shard DB_2; across tenants the D1 targets read DB alone: use --url (docs/sharding.md).",
    );
    const { results: moved } = await env.DB.prepare(
      "DELETE FROM tenant_shards WHERE shard <> 'DB' RETURNING tenant_id, shard, created_at",
    ).all<{ tenant_id: string; shard: string; created_at: number }>();
    try {
      expect(await d1.listResponses(null, filters)).toEqual(listed);
      for (const admin of [d1, api]) {
        const failed = await admin.listResponses(null, { ...filters, status: "failed" });
        expect(failed.data.every((response) => response.status === "failed")).toBe(true);
        expect(failed.data.map((response) => response.tenant_id)).toContain(tenants[1]);
        const first = await admin.listResponses(null, { ...filters, limit: 1 });
        const rest = await admin.listResponses(null, { ...filters, after: String(first.last_id) });
        expect([...first.data, ...rest.data]).toEqual(listed.data);
      }
    } finally {
      for (const row of moved.filter((row) => row.tenant_id !== elsewhere))
        await env.DB.prepare("INSERT INTO tenant_shards (tenant_id, shard, created_at) VALUES (?, ?, ?)")
          .bind(row.tenant_id, row.shard, row.created_at)
          .run();
    }
    const table = render("responses list", listed, false).split("\n");
    expect(table[0]).toMatch(/^id +tenant_id +created_at +status +error +model/);
    expect(table.find((line) => line.startsWith(String(ours[0]?.id)))).toMatch(/ failed +upstream_unreachable /);
  });

  it("lists a tenant's webhook deliveries by status, page by page, the same from either target", async () => {
    const key = `sk-cli-deliveries-${crypto.randomUUID()}`;
    const openai = client(key);
    const tenant = await passthroughTenant(key);
    await openai.webhooks.create({ url: hookUrl("ok"), name: "ops", event_types: ["response.completed"] });
    const ids: string[] = [];
    for (let i = 0; i < 2; i++)
      ids.push((await openai.responses.create({ model: model("text:1"), input: "x", background: true })).id);
    await until(
      () => openai.get<{ data: Row[] }>("/webhook_deliveries", { query: { status: "delivered" } }),
      (list) => list.data.length === 2,
      "two delivered webhooks",
    );
    const d1 = d1Admin(executeOn(await tenantD1(tenant)));
    const all = { limit: 20, after: null };
    const listed = await api.listDeliveries(tenant, all);
    expect(listed.data.map((delivery) => delivery.response_id).sort()).toEqual([...ids].sort());
    expect(listed.data[0]).toMatchObject({ object: "webhook_delivery", status: "delivered", attempt_count: 1 });
    expect(await d1.listDeliveries(tenant, all)).toEqual(listed);
    for (const admin of [d1, api]) {
      expect((await admin.listDeliveries(tenant, { ...all, status: "failed" })).data).toEqual([]);
      const first = await admin.listDeliveries(tenant, { limit: 1, after: null });
      expect(first).toMatchObject({ has_more: true, last_id: listed.data[0]?.id });
      const rest = await admin.listDeliveries(tenant, { limit: 1, after: String(first.last_id) });
      expect(rest.data.map((delivery) => delivery.id)).toEqual([listed.data[1]?.id]);
    }
    const table = render("webhook deliveries", listed, false).split("\n");
    expect(table[0]).toMatch(/^id +created_at +status +response_id +endpoint_id +attempt_count +last_status_code/);
    expect(table.join("\n")).not.toContain("/__hooks/");
  });
});

describe("the admin CLI's incident view", () => {
  it("lists every tenant's deliveries of one status, with whose each is, the same from either target", async () => {
    const key = `sk-cli-all-deliveries-${crypto.randomUUID()}`;
    const openai = client(key);
    const tenant = await passthroughTenant(key);
    await openai.webhooks.create({ url: hookUrl("ok"), name: "ops", event_types: ["response.completed"] });
    const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    await until(
      () => openai.get<{ data: Row[] }>("/webhook_deliveries", { query: { status: "delivered" } }),
      (list) => list.data.length === 1,
      "a delivered webhook",
    );
    const ours = (list: { data: Row[] }) => list.data.find((delivery) => delivery.response_id === created.id);
    const d1 = d1Admin(executeOn(await tenantD1(tenant)));
    const viaApi = await api.listAllDeliveries({ status: "delivered", limit: 100, after: null });
    expect(ours(viaApi)).toMatchObject({ tenant_id: tenant, status: "delivered", attempt_count: 1 });
    // The D1 target reads DB alone: as for responses, it refuses while any tenant is recorded elsewhere.
    const delivered = { status: "delivered", limit: 100, after: null };
    const elsewhere = `elsewhere-${crypto.randomUUID()}`;
    await env.DB.prepare("INSERT INTO tenant_shards (tenant_id, shard, created_at) VALUES (?, 'DB_2', unixepoch())")
      .bind(elsewhere)
      .run();
    expect(await refusal(d1.listAllDeliveries(delivered))).toBe(
      "Some tenants live on shard DB_2; across tenants the D1 targets read DB alone: use --url (docs/sharding.md).",
    );
    const { results: moved } = await env.DB.prepare(
      "DELETE FROM tenant_shards WHERE shard <> 'DB' RETURNING tenant_id, shard, created_at",
    ).all<{ tenant_id: string; shard: string; created_at: number }>();
    try {
      expect(ours(await d1.listAllDeliveries(delivered))).toEqual(ours(viaApi));
      const first = await d1.listAllDeliveries({ ...delivered, limit: 1 });
      expect(first.has_more).toBe(true);
      const next = await d1.listAllDeliveries({ ...delivered, after: String(first.last_id) });
      expect(next.data[0]?.id).not.toBe(first.last_id);
    } finally {
      for (const row of moved.filter((row) => row.tenant_id !== elsewhere))
        await env.DB.prepare("INSERT INTO tenant_shards (tenant_id, shard, created_at) VALUES (?, ?, ?)")
          .bind(row.tenant_id, row.shard, row.created_at)
          .run();
    }
    expect(ours(await api.listAllDeliveries({ status: "pending", limit: 100, after: null }))).toBeUndefined();
    const table = render("webhook deliveries all", viaApi, false).split("\n");
    expect(table[0]).toMatch(/^id +tenant_id +created_at +status +response_id +attempt_count/);
  });

  it("says what is stuck right now: shards' migrations, old runs, deliveries (the admin API only)", async () => {
    const now = Math.floor(Date.now() / 1000);
    const answer = await status(api, now);
    expect(answer).toMatchObject({
      object: "gateway.status",
      created_before: now,
      shards: { data: [{ id: "DB", migration: "0014_tenant_move_progress.sql", migrated: true, error: null }] },
    });
    const shown = render("status", answer, false);
    expect(shown).toMatch(/^Shards \(migration, tenants moving off\):\nid +weight +migration +migrated/);
    expect(shown).toMatch(/\nDB +1 +0014_tenant_move_progress\.sql +true /);
    for (const title of ["Running, created before", "Queued, created before", "being retried", "given up"])
      expect(shown).toContain(title);
    expect(await refusal(status(d1, now))).toMatch(/^'status' reads every shard's migrations/);
  });

  it("shows the settings the gateway runs on, never a secret, and bounds `status` by its MAX_RUN_SECONDS", async () => {
    const configuration = await api.showConfiguration();
    expect(configuration).toMatchObject({
      object: "gateway.configuration",
      max_run_seconds: 3600,
      stuck_after_seconds: 3900,
      // The test table's `unkeyed/*` names a secret never set: its calls are refused, so it is a problem.
      problems: [
        {
          setting: "UPSTREAM_ROUTES",
          scope: "calls to 'unkeyed/*'",
          message: "The route for 'unkeyed/*' needs the secret 'UNSET_KEY', which is not set.",
        },
      ],
      routes_problem: null,
    });
    const settings = configuration.settings as Row;
    expect(settings).toMatchObject({
      AUTH_MODE: "keys",
      ADMIN_TOKEN: "(set)",
      UPSTREAM_API_KEY: "(set)",
      RECORD_FLUSH_SECONDS: "1",
      MAX_RUN_SECONDS: "(default 3600)",
      UPSTREAM_ROUTES: "(set)",
    });
    expect(settings.UPSTREAM_BASE_URL).toMatch(/^127\.0\.0\.1:\d+$/);
    // A route's key is named by its secret and said to be set; a route naming an unset secret says so.
    const routes = configuration.routes as Row[];
    expect(routes.find((route) => route.model === "alt/*")).toMatchObject({
      protocol: "chat_completions",
      api_key_secret: "ALT_UPSTREAM_KEY",
      api_key: "set",
      strip_prefix: "alt/",
    });
    expect(routes.find((route) => route.model === "unkeyed/*")).toMatchObject({ api_key: "secret not set" });
    const shown = JSON.stringify(configuration);
    for (const secret of [ADMIN_TOKEN, UPSTREAM_KEY, "sk-alt-route-secret-7f3zqx", "test-compaction-secret"])
      expect(shown).not.toContain(secret);
    const text = render("config", configuration, false);
    expect(text).toMatch(/^Settings:\n/);
    expect(text).toMatch(/\nMAX_RUN_SECONDS +\(default 3600\)\n/);
    expect(text).toMatch(
      /\nProblems:\n- The route for 'unkeyed\/\*' needs the secret 'UNSET_KEY', which is not set\.\n\n/,
    );
    expect(text).toContain("after 3900 s is stuck");
    // Without --older-than, `status` lists runs created before the deployment's own bound.
    const before = Math.floor(Date.now() / 1000) - 3900;
    const answer = await status(api, null);
    expect(answer.created_before).toBeGreaterThanOrEqual(before);
    expect(answer.created_before).toBeLessThanOrEqual(before + 5);
    expect(await refusal(d1.showConfiguration())).toMatch(/^'config' reads the settings the deployed gateway runs on/);
  });

  it("lists a wrong CORS_ORIGINS and MODEL_PRICES with the other problems: each refuses what needs it", async () => {
    const res = await managedFetch(
      `${ADMIN_URL}/configuration`,
      { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } },
      { CORS_ORIGINS: "https://app.example.com/", MODEL_PRICES: "{not json" },
    );
    expect(res.status).toBe(200);
    const { problems } = await res.json<{ problems: Row[] }>();
    expect(problems).toEqual(
      expect.arrayContaining([
        {
          setting: "CORS_ORIGINS",
          scope: "CORS preflights",
          message: expect.stringContaining("CORS_ORIGINS entry 1 is not an exact origin") as string,
        },
        { setting: "MODEL_PRICES", scope: "usage answers", message: "MODEL_PRICES is not valid JSON." },
      ]),
    );
  });
});

describe("the admin CLI's webhook URL check", () => {
  // A D1 target writes the endpoint's row itself: the CLI must refuse what the API refuses, or a
  // private address or another port is saved (and fails every delivery later).
  const refusal = (url: string, remote: boolean) => {
    try {
      checkWebhookUrl(url, remote);
    } catch (error) {
      expect(error).toBeInstanceOf(CliError);
      return (error as CliError).message;
    }
    return null;
  };

  it("refuses the targets the API refuses, local or remote", () => {
    for (const remote of [false, true]) {
      expect(refusal("https://10.0.0.1/hook", remote)).toBe(
        "Invalid webhook URL: '10.0.0.1' is a private address; webhook targets must be public.",
      );
      expect(refusal("https://hooks.example.com:22/hook", remote)).toBe(
        "Invalid webhook URL: webhook URLs must use port 443 or 8443, not port 22.",
      );
      expect(refusal("https://intranet/hook", remote)).toContain("not a public host name");
      expect(refusal("https://user:pw@hooks.example.com/hook", remote)).toContain("credentials");
      expect(refusal("https://hooks.example.com/in", remote)).toBeNull();
    }
    // Loopback over http is the deployment's to allow (WEBHOOK_ALLOW_LOOPBACK), never a remote one's.
    expect(refusal("http://127.0.0.1:9000/hooks", false)).toBeNull();
    expect(refusal("http://127.0.0.1:9000/hooks", true)).toContain("loopback");
  });
});
