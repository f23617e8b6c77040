// The console's server side: its page served from static assets with a strict CSP, the operator's
// read-only view of every tenant's responses (GET /admin/responses...), and usage priced in
// dollars by MODEL_PRICES.

import { describe, expect, it } from "vitest";
import { GATEWAY_URL, gatewayFetch, model } from "../support/gateway";
import { admin, managedClient, managedFetch, newTenantKey } from "../support/managed";
import { tenantD1 } from "../support/shards";
import { rowCounts } from "../support/tables";

const ROOT = GATEWAY_URL.replace(/\/v1$/, "");

describe("the console page", () => {
  it("is served at /console/ with a same-origin-only Content-Security-Policy, and / leads to it", async () => {
    const root = await gatewayFetch(`${ROOT}/`, { redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/console/");
    expect((await gatewayFetch(`${ROOT}/console`, { redirect: "manual" })).headers.get("location")).toBe("/console/");
    const page = await gatewayFetch(`${ROOT}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="app.js"></script>');
    expect(html).not.toMatch(/<script>|https?:\/\//);
    const script = await gatewayFetch(`${ROOT}/console/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toContain("javascript");
    expect(script.headers.get("content-security-policy")).toBe(csp);
  });

  it("answers HEAD as GET: the same status and headers, no body (curl -I, link checkers)", async () => {
    for (const path of ["/", "/console"]) {
      const get = await gatewayFetch(`${ROOT}${path}`, { redirect: "manual" });
      const res = await gatewayFetch(`${ROOT}${path}`, { method: "HEAD", redirect: "manual" });
      expect(res.status, path).toBe(get.status);
      expect(res.headers.get("location"), path).toBe("/console/");
    }
    const get = await gatewayFetch(`${ROOT}/console/`);
    const head = await gatewayFetch(`${ROOT}/console/`, { method: "HEAD" });
    expect(head.status).toBe(200);
    for (const name of ["content-type", "content-security-policy", "etag"]) {
      expect(head.headers.get(name), name).toBe(get.headers.get(name));
    }
    expect(await head.text()).toBe("");
    await get.body?.cancel();
    const missing = await gatewayFetch(`${ROOT}/console/secrets.json`, { method: "HEAD" });
    expect(missing.status).toBe(404);
  });

  it("answers OpenAI's 404 for a file it does not have", async () => {
    const res = await gatewayFetch(`${ROOT}/console/secrets.json`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: {
        message: "Invalid URL (GET /console/secrets.json)",
        type: "invalid_request_error",
        param: null,
        code: null,
      },
    });
  });
});

describe("GET /admin/responses", () => {
  it("lists every tenant's responses with their tenant, or one tenant's, with the tenant list's filters", async () => {
    const a = await newTenantKey("admin list a");
    const b = await newTenantKey("admin list b");
    const m = model("text:2");
    const first = await managedClient(a.key).responses.create({ model: m, input: "a", metadata: { team: "red" } });
    const second = await managedClient(b.key).responses.create({ model: m, input: "b", metadata: { team: "blue" } });
    const all = await admin<{ data: { id: string; tenant_id: string }[]; has_more: boolean }>(
      "GET",
      `/responses?model=${encodeURIComponent(m)}`,
    );
    expect(all.status).toBe(200);
    expect(all.body.data.map((r) => [r.id, r.tenant_id])).toEqual([
      [second.id, b.tenantId],
      [first.id, a.tenantId],
    ]);
    const one = await admin<{ data: { id: string }[] }>(
      "GET",
      `/responses?tenant_id=${a.tenantId}&model=${encodeURIComponent(m)}`,
    );
    expect(one.body.data.map((r) => r.id)).toEqual([first.id]);
    const blue = await admin<{ data: { id: string }[] }>(
      "GET",
      `/responses?model=${encodeURIComponent(m)}&metadata[team]=blue`,
    );
    expect(blue.body.data.map((r) => r.id)).toEqual([second.id]);
    const paged = await admin<{ data: { id: string }[]; has_more: boolean; last_id: string }>(
      "GET",
      `/responses?model=${encodeURIComponent(m)}&limit=1`,
    );
    expect(paged.body).toMatchObject({ has_more: true, last_id: second.id });
    const next = await admin<{ data: { id: string }[]; has_more: boolean }>(
      "GET",
      `/responses?model=${encodeURIComponent(m)}&limit=1&after=${second.id}`,
    );
    expect(next.body).toMatchObject({ has_more: false, data: [{ id: first.id }] });
  });

  it("lists every tenant's responses in each tenant's order: rows stored before ids were timed after the newer ones", async () => {
    const a = await newTenantKey("admin order a");
    const b = await newTenantKey("admin order b");
    const run = crypto.randomUUID();
    const m = model("text:1");
    const timed = [];
    for (const key of [a.key, b.key, a.key])
      timed.push(await managedClient(key).responses.create({ model: m, input: "x", metadata: { run } }));
    // Legacy rows: random ids (here above every timed id), a day older than any timed one.
    const old = timed[0]!.created_at - 86_400;
    const legacy = [
      { id: `resp_legacy_fa${"0".repeat(8)}`, tenantId: a.tenantId, createdAt: old + 2 },
      { id: `resp_legacy_fb${"0".repeat(8)}`, tenantId: b.tenantId, createdAt: old + 1 },
    ];
    for (const row of legacy)
      await (
        await tenantD1(row.tenantId)
      )
        .prepare(
          `INSERT INTO responses (id, tenant_id, status, model, background, store, created_at, updated_at, metadata,
                                  snapshot, legacy)
           VALUES (?1, ?2, 'completed', 'old', 0, 1, ?3, ?3, json_object('run', ?4),
                   json_object('id', ?1, 'object', 'response', 'created_at', ?3, 'status', 'completed', 'output', json('[]')), 1)`,
        )
        .bind(row.id, row.tenantId, row.createdAt, run)
        .run();
    const newestFirst = [...timed.map((r) => r.id).reverse(), legacy[0]!.id, legacy[1]!.id];
    for (const [order, expected] of [
      ["desc", newestFirst],
      ["asc", [...newestFirst].reverse()],
    ] as const) {
      const ids: string[] = [];
      let after = "";
      for (;;) {
        const page = await admin<{ data: { id: string }[]; has_more: boolean; last_id: string }>(
          "GET",
          `/responses?metadata[run]=${run}&order=${order}&limit=2${after}`,
        );
        expect(page.status).toBe(200);
        ids.push(...page.body.data.map((r) => r.id));
        if (!page.body.has_more) break;
        after = `&after=${page.body.last_id}`;
      }
      expect(ids).toEqual(expected);
    }
    // A created range is the timed rows' range of ids, and the untimed rows' created_at.
    const range = await admin<{ data: { id: string }[] }>(
      "GET",
      `/responses?metadata[run]=${run}&created_before=${old + 2}`,
    );
    expect(range.body.data.map((r) => r.id)).toEqual([legacy[1]!.id]);
  });

  it("reads one response of any tenant: the Response, its input items, its events and its deliveries", async () => {
    const a = await newTenantKey("admin read");
    const created = await managedClient(a.key).responses.create({ model: model("text:2"), input: "hello" });
    const one = await admin<{ id: string; tenant_id: string; output_text?: string; status: string }>(
      "GET",
      `/responses/${created.id}`,
    );
    expect(one.body).toMatchObject({ id: created.id, tenant_id: a.tenantId, status: "completed" });
    const items = await admin<{ data: { type: string; content: unknown }[] }>(
      "GET",
      `/responses/${created.id}/input_items`,
    );
    expect(items.body.data).toEqual([expect.objectContaining({ type: "message", role: "user" })]);
    const deliveries = await admin<{ object: string; data: unknown[] }>(
      "GET",
      `/responses/${created.id}/webhook_deliveries`,
    );
    expect(deliveries.body).toMatchObject({ object: "list", data: [] });
    const stream = await managedFetch(`${ROOT}/admin/responses/${created.id}?stream=true`, {
      headers: { authorization: `Bearer adm-test-SECRET-4f1c2b9e7a` },
    });
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    const text = await stream.text();
    expect(text).toContain("event: response.created");
    expect(text).toContain("event: response.completed");
  });

  it("refuses without the admin token, a tenant key included, and answers an unknown id like OpenAI", async () => {
    const a = await newTenantKey("admin wall");
    const created = await managedClient(a.key).responses.create({ model: model("text:1"), input: "x" });
    const withKey = await managedFetch(`${ROOT}/admin/responses/${created.id}`, {
      headers: { authorization: `Bearer ${a.key}` },
    });
    expect(withKey.status).toBe(401);
    expect(await withKey.text()).not.toContain("text:1");
    const unknown = await admin("GET", "/responses/resp_doesnotexist");
    expect(unknown).toEqual({
      status: 404,
      body: {
        error: {
          message: "Response with id 'resp_doesnotexist' not found.",
          type: "invalid_request_error",
          param: null,
          code: null,
        },
      },
    });
  });

  it("refuses bad filters with OpenAI's envelope naming the parameter, writing nothing", async () => {
    const before = await rowCounts();
    for (const [query, param] of [
      ["status=finished", "status"],
      ["limit=0", "limit"],
      ["created_after=yesterday", "created_after"],
      [`tenant_id=${"t".repeat(300)}`, "tenant_id"],
      ["after=resp_unknown", "after"],
    ] as const) {
      const res = await admin<{ error: { param: string } }>("GET", `/responses?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.param).toBe(param);
    }
    const counts = await rowCounts(["responses", "tenants", "api_keys"]);
    expect(counts.responses).toBeGreaterThanOrEqual(before.responses ?? 0);
  });
});

describe("usage in dollars (MODEL_PRICES)", () => {
  const prices = {
    MODEL_PRICES: JSON.stringify({
      "priced-exact": { input_per_million: 0.15, output_per_million: 0.6 },
      "text:*": { input_per_million: 2.5, output_per_million: 10 },
    }),
  };

  it("prices each model's tokens, leaves unknown models at tokens only, and sums both into other groups", async () => {
    const { key } = await newTenantKey("prices");
    const priced = model("text:3");
    const unpriced = model("echo");
    const openai = managedClient(key);
    await openai.responses.create({ model: priced, input: "one" });
    await openai.responses.create({ model: priced, input: "two" });
    await openai.responses.create({ model: unpriced, input: "x" });
    const usage = async (query: string) => {
      const res = await managedFetch(
        `${GATEWAY_URL}/usage?${query}`,
        { headers: { authorization: `Bearer ${key}` } },
        prices,
      );
      return res.json<{ data: Record<string, unknown>[] }>();
    };
    const byModel = await usage("group_by=model");
    // text:3 streams 3 words: 10 input and 3 output tokens per response.
    expect(byModel.data.find((row) => row.model === priced)).toEqual({
      object: "usage",
      model: priced,
      responses: 2,
      input_tokens: 20,
      output_tokens: 6,
      total_tokens: 26,
      cost: { currency: "usd", input: 0.00005, output: 0.00006, total: 0.00011 },
    });
    const echo = byModel.data.find((row) => row.model === unpriced);
    expect(echo).not.toHaveProperty("cost");
    const byDay = await usage("group_by=day");
    expect(byDay.data).toHaveLength(1);
    expect(byDay.data[0]).toMatchObject({
      responses: 3,
      cost: {
        currency: "usd",
        input: 0.00005,
        output: 0.00006,
        total: 0.00011,
        unpriced_tokens: echo?.total_tokens as number,
      },
    });
  });

  it("prices one response as the usage routes price its model (GET .../responses/{id}/usage), for the console's response page", async () => {
    const { key } = await newTenantKey("one response's cost");
    const openai = managedClient(key);
    const priced = await openai.responses.create({ model: model("text:3"), input: "one" });
    const unpriced = await openai.responses.create({ model: model("echo"), input: "x" });
    const usageOf = async (id: string, overrides: Record<string, string> = prices, apiKey = key) => {
      const res = await managedFetch(
        `${GATEWAY_URL}/responses/${id}/usage`,
        { headers: { authorization: `Bearer ${apiKey}` } },
        overrides,
      );
      return { status: res.status, body: await res.json<Record<string, unknown>>() };
    };
    // text:3: 10 input and 3 output tokens, as one of GET /v1/usage's rows above.
    const one = {
      response_id: priced.id,
      object: "usage",
      model: priced.model,
      responses: 1,
      input_tokens: 10,
      output_tokens: 3,
      total_tokens: 13,
      cost: { currency: "usd", input: 0.000025, output: 0.00003, total: 0.000055 },
    };
    expect(await usageOf(priced.id)).toEqual({ status: 200, body: one });
    // The operator's route answers the same for any tenant's response.
    expect(await admin("GET", `/responses/${priced.id}/usage`, undefined, prices)).toEqual({ status: 200, body: one });
    // A model the table does not know, or no table: tokens only.
    const echo = await usageOf(unpriced.id);
    expect(echo.body).toMatchObject({ response_id: unpriced.id, responses: 1 });
    expect(echo.body).not.toHaveProperty("cost");
    expect((await usageOf(priced.id, {})).body).not.toHaveProperty("cost");
    // Another tenant's response is not found, as on every route under it.
    const other = await newTenantKey("another tenant");
    const notFound = await usageOf(priced.id, prices, other.key);
    expect(notFound.status).toBe(404);
    expect(notFound.body).toMatchObject({ error: { message: `Response with id '${priced.id}' not found.` } });
  });

  it("answers a 500 naming MODEL_PRICES and the entry at fault when the table is wrong", async () => {
    const { key } = await newTenantKey("bad prices");
    for (const [table, expected] of [
      ["{not json", "MODEL_PRICES is not valid JSON."],
      ['{"gpt-4o": {"input_per_million": -1, "output_per_million": 1}}', 'MODEL_PRICES["gpt-4o"].input_per_million'],
      ['{"gpt-4o": {"input": 1}}', "unknown field 'input'"],
      ["[1]", "MODEL_PRICES must be a JSON object"],
    ]) {
      const res = await managedFetch(
        `${GATEWAY_URL}/usage`,
        { headers: { authorization: `Bearer ${key}` } },
        { MODEL_PRICES: table },
      );
      expect(res.status).toBe(500);
      expect(res.headers.get("x-should-retry")).toBe("false");
      const body = await res.json<{ error: { message: string; code: string } }>();
      expect(body.error.code).toBe("model_prices_invalid");
      expect(body.error.message).toContain(expected);
    }
  });
});
