// Keys mode (`AUTH_MODE=keys`): clients present gateway keys, the gateway acts for the key's tenant
// and sends the operator's upstream key; wrong and revoked keys get OpenAI's 401 on every route.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hashGatewayKey } from "../../src/tenancy/gateway-keys";
import { GATEWAY_URL, model, upstream } from "../support/gateway";
import { admin, managedClient, managedFetch, newTenantKey, UPSTREAM_KEY } from "../support/managed";
import { rowCounts } from "../support/tables";
import { firstRow } from "../support/shards";

/** One request per /v1 route, with a well-formed body or id. */
const everyRoute = (id: string, conversation: string, item: string): [string, string, string?][] => [
  ["POST", "/responses", JSON.stringify({ model: "echo#revoked", input: "x" })],
  ["POST", "/responses/input_tokens", JSON.stringify({ model: "echo#revoked", input: "x" })],
  ["POST", "/responses/compact", JSON.stringify({ model: "echo#revoked", input: "x" })],
  ["GET", "/responses"],
  ["GET", `/responses/${id}`],
  ["GET", `/responses/${id}?stream=true`],
  ["GET", `/responses/${id}/input_items`],
  ["POST", `/responses/${id}/cancel`],
  ["DELETE", `/responses/${id}`],
  ["GET", "/usage"],
  ["POST", "/conversations", JSON.stringify({})],
  ["GET", `/conversations/${conversation}`],
  ["POST", `/conversations/${conversation}`, JSON.stringify({ metadata: {} })],
  ["DELETE", `/conversations/${conversation}`],
  ["GET", `/conversations/${conversation}/items`],
  ["POST", `/conversations/${conversation}/items`, JSON.stringify({ items: [{ role: "user", content: "x" }] })],
  ["GET", `/conversations/${conversation}/items/${item}`],
  ["DELETE", `/conversations/${conversation}/items/${item}`],
];

async function call(key: string, [method, path, body]: [string, string, string?]) {
  const res = await managedFetch(`${GATEWAY_URL}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body,
  });
  return { status: res.status, text: await res.text() };
}

const tableCounts = () =>
  rowCounts(["responses", "response_items", "response_events", "usage_daily", "conversations", "conversation_items"]);

describe("keys mode", () => {
  it("acts for the key's tenant, sends the operator's upstream key and records the key's use", async () => {
    const { key, tenantId, keyId } = await newTenantKey();
    expect(key).toMatch(/^sk-gw-[0-9A-Za-z]{43}$/);
    const m = model("text:2");
    const response = await managedClient(key).responses.create({ model: m, input: "hi" });
    expect(response.status).toBe("completed");
    const [sent] = await upstream.requests(m);
    expect(sent?.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    const row = await firstRow("SELECT tenant_id, api_key_id FROM responses WHERE id = ?", response.id);
    expect(row).toEqual({ tenant_id: tenantId, api_key_id: keyId });
    const keys = await admin<{ data: { id: string; last_used_at: number | null }[] }>(
      "GET",
      `/tenants/${tenantId}/keys`,
    );
    expect(keys.body.data).toEqual([expect.objectContaining({ id: keyId })]);
    expect(keys.body.data[0]?.last_used_at).toBeGreaterThan(0);
  });

  it("stores only the key's SHA-256 and a short prefix", async () => {
    const { key, keyId } = await newTenantKey();
    const row = await env.DB.prepare("SELECT * FROM api_keys WHERE id = ?")
      .bind(keyId)
      .first<Record<string, unknown>>();
    expect(row?.key_hash).toBe(await hashGatewayKey(key));
    expect(row?.prefix).toBe(key.slice(0, 10));
    expect(JSON.stringify(row)).not.toContain(key.slice(10));
  });

  it("refuses an unknown key with OpenAI's 401, the key masked", async () => {
    const forged = `sk-gw-${"A".repeat(39)}wxyz`;
    const res = await call(forged, ["GET", "/responses"]);
    expect(res.status).toBe(401);
    const { error } = JSON.parse(res.text) as { error: Record<string, unknown> };
    expect(error).toEqual({
      message: `Incorrect API key provided: sk-gw-AA${"*".repeat(37)}wxyz. Ask the operator of this gateway for a valid key.`,
      type: "invalid_request_error",
      param: null,
      code: "invalid_api_key",
    });
    expect(res.text).not.toContain(forged);
    // A pass-through client's upstream key is not a gateway key either, and is never echoed.
    const shortKey = await call("sk-short", ["GET", "/responses"]);
    expect(shortKey.status).toBe(401);
    expect(shortKey.text).toContain("Incorrect API key provided: ********.");
  });

  it("refuses a request without a key with OpenAI's 401, pointing at the operator, not OpenAI's key page", async () => {
    const res = await managedFetch(`${GATEWAY_URL}/responses`);
    expect(res.status).toBe(401);
    const { message } = (await res.json<{ error: { message: string } }>()).error;
    expect(message).toMatch(/^You didn't provide an API key/);
    expect(message).toContain("This gateway issues its own keys (sk-gw-...): ask its operator for one.");
    expect(message).not.toMatch(/password field|platform\.openai\.com/);
  });

  it("refuses a revoked key at once, on every route, exactly like a key that never existed, writing nothing", async () => {
    const { key, keyId } = await newTenantKey();
    const openai = managedClient(key);
    const own = await openai.responses.create({ model: model("text:1"), input: "before" });
    const conversation = await openai.conversations.create({
      items: [{ type: "message", role: "user", content: "c" }],
    });
    const item = (await openai.conversations.items.list(conversation.id)).data[0]?.id as string;
    const revoked = await admin<{ revoked_at: number }>("POST", `/keys/${keyId}/revoke`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).toBeGreaterThan(0);
    const never = `sk-gw-${"Z".repeat(39)}${key.slice(-4)}`;
    const before = await tableCounts();
    for (const route of everyRoute(own.id, conversation.id, item)) {
      const seen = await call(key, route);
      const unknown = await call(never, route);
      expect(seen.status, route.join(" ")).toBe(401);
      // The masked key shows its first characters: those of the never-issued key differ.
      expect(seen.text.replace(`sk-gw-${key.slice(6, 8)}`, "sk-gw-ZZ")).toBe(unknown.text);
      expect(JSON.parse(seen.text)).toMatchObject({ error: { code: "invalid_api_key" } });
    }
    expect(await tableCounts()).toEqual(before);
    // Revoking again keeps the first revocation time.
    expect((await admin<{ revoked_at: number }>("POST", `/keys/${keyId}/revoke`)).body.revoked_at).toBe(
      revoked.body.revoked_at,
    );
  });

  it("keeps one tenant's keys on one history, and other keys of the tenant keep working after a revocation", async () => {
    const { key, tenantId } = await newTenantKey();
    const second = await admin<{ id: string; key: string }>("POST", `/tenants/${tenantId}/keys`, { name: "ci" });
    const made = await managedClient(key).responses.create({ model: model("text:1"), input: "shared" });
    expect((await managedClient(second.body.key).responses.retrieve(made.id)).id).toBe(made.id);
    const keys = (await admin<{ data: { id: string }[] }>("GET", `/tenants/${tenantId}/keys`)).body.data;
    expect(keys).toHaveLength(2);
    const firstKeyId = keys.find((row) => row.id !== second.body.id)?.id;
    await admin("POST", `/keys/${firstKeyId}/revoke`);
    await expect(managedClient(key).responses.retrieve(made.id)).rejects.toMatchObject({ status: 401 });
    expect((await managedClient(second.body.key).responses.retrieve(made.id)).id).toBe(made.id);
  });

  it("refuses every request when AUTH_MODE holds an unknown value, instead of letting it through", async () => {
    const { key } = await newTenantKey();
    const res = await managedFetch(
      `${GATEWAY_URL}/responses`,
      { headers: { authorization: `Bearer ${key}` } },
      {
        AUTH_MODE: "key",
      },
    );
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      error: {
        message:
          "The gateway is misconfigured: AUTH_MODE is 'key'; allowed: 'passthrough' or 'keys'. Its operator must correct this.",
        type: "server_error",
        param: null,
        code: "gateway_misconfigured",
      },
    });
  });
});
