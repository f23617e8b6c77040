import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { model, upstream } from "../support/gateway";
import { admin, managedClient, newTenantKey, UPSTREAM_KEY } from "../support/managed";

describe("keys mode", () => {
  it("acts for the key's tenant and sends the operator's upstream key", async () => {
    const { key, tenantId, keyId } = await newTenantKey();
    expect(key).toMatch(/^sk-gw-[0-9A-Za-z]{43}$/);
    const m = model("text:2");
    const response = await managedClient(key).responses.create({ model: m, input: "hi" });
    expect(response.status).toBe("completed");
    const [sent] = await upstream.requests(m);
    expect(sent?.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    const row = await env.DB.prepare("SELECT tenant_id, api_key_id FROM responses WHERE id = ?")
      .bind(response.id)
      .first();
    expect(row).toEqual({ tenant_id: tenantId, api_key_id: keyId });
    const keys = await admin<{ data: { last_used_at: number | null }[] }>("GET", `/tenants/${tenantId}/keys`);
    expect(keys.body.data[0]?.last_used_at).toBeGreaterThan(0);
    const usage = await env.DB.prepare("SELECT * FROM usage_daily WHERE tenant_id = ?").bind(tenantId).all();
    expect(usage.results).toEqual([
      expect.objectContaining({ api_key_id: keyId, model: m, responses: 1, input_tokens: 10, output_tokens: 2 }),
    ]);
  });
});
