// The admin API: guarded by ADMIN_TOKEN (absent: it does not exist), tenants, keys (shown once,
// listed without secrets, revoked) and a tenant's webhook endpoints, with OpenAI-style errors.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { REQUIRED_MIGRATION } from "../../src/db/shards";
import { model } from "../support/gateway";
import { admin, ADMIN_URL, managedClient, managedFetch, newTenantKey } from "../support/managed";
import { countAll, tenantShard } from "../support/shards";

describe("admin API", () => {
  it("does not exist without ADMIN_TOKEN: OpenAI's 404 for an unknown URL", async () => {
    const res = await managedFetch(
      `${ADMIN_URL}/tenants`,
      { headers: { authorization: "Bearer anything" } },
      {
        ADMIN_TOKEN: undefined,
      },
    );
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { message: "Invalid URL (GET /admin/tenants)", type: "invalid_request_error", param: null, code: null },
    });
  });

  it.each([
    ["no token", undefined],
    ["a wrong token", "Bearer adm-test-SECRET-4f1c2b9e7b"],
    ["a prefix of the token", "Bearer adm-test"],
  ])("refuses %s with a 401 and writes nothing", async (_name, authorization) => {
    const before = await env.DB.prepare("SELECT count(*) AS n FROM tenants").first();
    const res = await managedFetch(`${ADMIN_URL}/tenants`, {
      method: "POST",
      headers: authorization === undefined ? {} : { authorization },
      body: JSON.stringify({ name: "intruder" }),
    });
    expect(res.status).toBe(401);
    expect((await res.json<{ error: unknown }>()).error).toMatchObject({ code: "invalid_api_key" });
    expect(await env.DB.prepare("SELECT count(*) AS n FROM tenants").first()).toEqual(before);
  });

  it("creates, gets and pages through tenants", async () => {
    const created = [];
    for (const name of ["one", "two", "three"]) {
      const res = await admin<{ id: string; object: string; name: string; created_at: number }>("POST", "/tenants", {
        name,
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ object: "tenant", name });
      expect(res.body.id).toMatch(/^tenant_[0-9a-f]{48}$/);
      created.push(res.body);
    }
    expect((await admin("GET", `/tenants/${created[1]?.id}`)).body).toEqual(created[1]);
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: { body: { data: { id: string }[]; has_more: boolean; last_id: string } } = await admin(
        "GET",
        `/tenants?limit=2${after ? `&after=${after}` : ""}`,
      );
      seen.push(...page.body.data.map((tenant) => tenant.id));
      if (!page.body.has_more) break;
      after = page.body.last_id;
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (const tenant of created) expect(seen).toContain(tenant.id);
    expect((await admin("GET", "/tenants/tenant_nope")).status).toBe(404);
  });

  it("lists each shard's newest migration: one never migrated has none (behind), not a read error", async () => {
    // A D1 binding whose migration query fails as D1 does: wrangler creates d1_migrations with the first migration.
    const failing = (message: string) => ({
      prepare: () => ({ first: () => Promise.reject(new Error(message)) }),
      batch: () => Promise.reject(new Error(message)),
    });
    const shards = { D1_SHARDS: "DB,DB_2,DB_3", DB_2: failing("D1_ERROR: no such table: d1_migrations: SQLITE_ERROR") };
    const res = await admin<{ data: unknown[] }>("GET", "/shards", undefined, {
      ...shards,
      DB_3: failing("D1_ERROR: Network connection lost."),
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject([
      { id: "DB", migration: REQUIRED_MIGRATION, required_migration: REQUIRED_MIGRATION, migrated: true, error: null },
      { id: "DB_2", migration: null, migrated: false, error: null },
      { id: "DB_3", migration: null, migrated: false, error: "D1_ERROR: Network connection lost." },
    ]);
  });

  it("shows a tenant's shard once it has written, and a move under way, in the tenant and in the list", async () => {
    const { tenantId, key } = await newTenantKey("placed");
    const shown = async () => (await admin<Record<string, unknown>>("GET", `/tenants/${tenantId}`)).body;
    expect(await shown()).toMatchObject({ id: tenantId, shard: null, moving_to: null });
    await managedClient(key).responses.create({ model: model("text:1"), input: "x" });
    const shard = await tenantShard(tenantId);
    expect(await shown()).toMatchObject({ shard, moving_to: null });
    // As POST /admin/tenants/{id}/move marks it while it drains and copies (src/db/tenant-move.ts).
    const mark = (to: string | null) =>
      env.DB.prepare("UPDATE tenant_shards SET moving_to = ? WHERE tenant_id = ?").bind(to, tenantId).run();
    await mark("DB_9");
    try {
      expect(await shown()).toMatchObject({ shard, moving_to: "DB_9" });
      let listed: Record<string, unknown> | undefined;
      for (let after = ""; listed === undefined;) {
        const page = await admin<{ data: Record<string, unknown>[]; has_more: boolean; last_id: string }>(
          "GET",
          `/tenants?limit=100${after}`,
        );
        listed = page.body.data.find((tenant) => tenant.id === tenantId);
        if (!page.body.has_more) break;
        after = `&after=${page.body.last_id}`;
      }
      expect(listed).toEqual(await shown());
    } finally {
      await mark(null);
    }
  });

  it.each([
    ["no name", {}, "name", "missing_required_parameter"],
    ["a number as name", { name: 7 }, "name", "invalid_type"],
    ["an empty name", { name: " " }, "name", "invalid_value"],
    ["a very long name", { name: "x".repeat(257) }, "name", "invalid_value"],
  ])("refuses a tenant with %s", async (_name, body, param, code) => {
    const res = await admin<{ error: unknown }>("POST", "/tenants", body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ param, code });
  });

  it("shows a key once, then lists it without any secret", async () => {
    const tenant = (await admin<{ id: string }>("POST", "/tenants", { name: "keys" })).body;
    const created = await admin<Record<string, unknown>>("POST", `/tenants/${tenant.id}/keys`, { name: "prod" });
    expect(created.body).toMatchObject({
      object: "api_key",
      tenant_id: tenant.id,
      name: "prod",
      last_used_at: null,
      revoked_at: null,
    });
    const key = created.body.key as string;
    expect(created.body.prefix).toBe(key.slice(0, 10));
    const listed = await admin<{ data: Record<string, unknown>[] }>("GET", `/tenants/${tenant.id}/keys`);
    const { key: _shownOnce, ...withoutKey } = created.body;
    expect(listed.body.data).toEqual([withoutKey]);
    expect(JSON.stringify(listed.body)).not.toContain(key);
    expect((await admin("POST", `/tenants/tenant_nope/keys`, { name: "x" })).status).toBe(404);
    expect((await admin("POST", `/keys/key_nope/revoke`)).status).toBe(404);
  });

  it("sets a tenant's webhook endpoints in the SDK's shape: the secret is shown once; listed; deleted", async () => {
    const tenant = (await admin<{ id: string }>("POST", "/tenants", { name: "hooks" })).body;
    const created = await admin<Record<string, unknown>>("POST", `/tenants/${tenant.id}/webhook_endpoints`, {
      url: "https://hooks.example.com/openai",
      event_types: ["response.completed", "response.failed"],
    });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      object: "webhook_endpoint",
      tenant_id: tenant.id,
      name: "",
      url: "https://hooks.example.com/openai",
      event_types: ["response.completed", "response.failed"],
    });
    expect(created.body.id).toMatch(/^whe_[0-9a-f]{48}$/);
    const secret = created.body.signing_secret as string;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(created.body.signing_secret_hint).toBe(`whsec_…${secret.slice(-4)}`);
    const chosen = `whsec_${btoa("0123456789abcdef0123456789abcdef")}`;
    const everything = await admin<{ id: string; event_types: string[]; signing_secret: string }>(
      "POST",
      `/tenants/${tenant.id}/webhook_endpoints`,
      { url: "https://hooks.example.com/all", secret: chosen },
    );
    expect(everything.body.signing_secret).toBe(chosen);
    expect(everything.body.event_types).toEqual([
      "response.completed",
      "response.failed",
      "response.cancelled",
      "response.incomplete",
    ]);
    const listed = await admin<{ data: Record<string, unknown>[] }>("GET", `/tenants/${tenant.id}/webhook_endpoints`);
    expect(listed.body.data).toHaveLength(2);
    // Listed without secrets: only the hints that tell them apart.
    const { signing_secret: _shownOnce, ...withoutSecret } = created.body;
    expect(listed.body.data[0]).toEqual(withoutSecret);
    for (const shown of [secret, chosen]) expect(JSON.stringify(listed.body)).not.toContain(shown);
    for (const endpoint of listed.body.data) expect(endpoint).not.toHaveProperty("signing_secret");
    const gone = await admin("DELETE", `/tenants/${tenant.id}/webhook_endpoints/${String(created.body.id)}`);
    expect(gone.body).toEqual({ id: created.body.id, object: "webhook_endpoint.deleted", deleted: true });
    expect((await admin("DELETE", `/tenants/${tenant.id}/webhook_endpoints/${String(created.body.id)}`)).status).toBe(
      404,
    );
    // Another tenant cannot delete it by id.
    const other = (await admin<{ id: string }>("POST", "/tenants", { name: "other" })).body;
    expect((await admin("DELETE", `/tenants/${other.id}/webhook_endpoints/${everything.body.id}`)).status).toBe(404);
    expect((await admin<{ data: unknown[] }>("GET", `/tenants/${tenant.id}/webhook_endpoints`)).body.data).toHaveLength(
      1,
    );
  });

  it.each([
    ["http to a public host", { url: "http://hooks.example.com/x" }, "url"],
    ["a malformed URL", { url: "not a url" }, "url"],
    ["credentials in the URL", { url: "https://user:pw@hooks.example.com/x" }, "url"],
    ["http to loopback without WEBHOOK_ALLOW_LOOPBACK", { url: "http://127.0.0.1:9/x" }, "url"],
    ["a private address", { url: "https://10.0.0.7/x" }, "url"],
    ["the metadata address", { url: "https://169.254.169.254/latest" }, "url"],
    ["an unknown event type", { url: "https://h.example.com", event_types: ["response.created"] }, "event_types[0]"],
    ["a secret without whsec_", { url: "https://h.example.com", secret: "hunter2" }, "secret"],
    ["a name that is not a string", { url: "https://h.example.com", name: 7 }, "name"],
  ])("refuses a webhook endpoint with %s", async (_name, body, param) => {
    const tenant = (await admin<{ id: string }>("POST", "/tenants", { name: "bad hooks" })).body;
    // The suite allows loopback for its mock webhook receivers; these cases run as in production.
    const res = await admin<{ error: unknown }>("POST", `/tenants/${tenant.id}/webhook_endpoints`, body, {
      WEBHOOK_ALLOW_LOOPBACK: "false",
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: "invalid_request_error", param });
    expect(await countAll("SELECT count(*) AS n FROM webhook_endpoints WHERE tenant_id = ?", tenant.id)).toBe(0);
  });

  it("keeps a tenant to 16 webhook endpoints, as /v1/webhook_endpoints does", async () => {
    const tenant = (await admin<{ id: string }>("POST", "/tenants", { name: "many hooks" })).body;
    for (let i = 0; i < 16; i++) {
      const made = await admin("POST", `/tenants/${tenant.id}/webhook_endpoints`, {
        url: `https://hooks.example.com/${i}`,
      });
      expect(made.status).toBe(200);
    }
    const refused = await admin<{ error: unknown }>("POST", `/tenants/${tenant.id}/webhook_endpoints`, {
      url: "https://hooks.example.com/16",
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: "limit_exceeded" });
  });
});
