// GET /v1/models (the routes' patterns and the default upstream's list, through the SDK), GET /health,
// opt-in CORS (CORS_ORIGINS) and the x-ratelimit-* headers the limiter can honestly send.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { REQUIRED_MIGRATION } from "../../src/db/shards";
import { client, GATEWAY_URL, gatewayFetch } from "../support/gateway";
import { managedFetch, newTenantKey } from "../support/managed";

const ROOT = GATEWAY_URL.replace(/\/v1$/, "");

describe("GET /v1/models", () => {
  it("lists the routes' model patterns and the default upstream's models, less those a route takes over", async () => {
    const models = [];
    for await (const model of client("sk-test-models").models.list()) models.push(model);
    expect(models.map((model) => model.id)).toEqual([
      "chat:*",
      "alt/*",
      "alt-responses/*",
      "strict:*",
      "alternating:*",
      "thinking:*",
      "gateway-compacts/*",
      "vllm/*",
      "unkeyed/*",
      "refused/*",
      "nxdomain/*",
      "mock-large",
      "mock-small",
    ]);
    expect(models[0]).toEqual({
      id: "chat:*",
      object: "model",
      created: 0,
      owned_by: new URL(env.UPSTREAM_BASE_URL).host,
    });
    expect(models.at(-1)).toEqual({ id: "mock-small", object: "model", created: 1_700_000_001, owned_by: "mock" });
  });

  it("passes the upstream's refusal of the caller's key through, with the key redacted", async () => {
    const res = await gatewayFetch(`${GATEWAY_URL}/models`, { headers: { authorization: "Bearer sk-models-refused" } });
    expect(res.status).toBe(401);
    const body = await res.json<{ error: { message: string; code: string } }>();
    expect(body.error.code).toBe("invalid_api_key");
    expect(body.error.message).not.toContain("sk-models-refused");
  });

  it("answers 502 upstream_key_refused, not the caller's 401, when the upstream refuses the gateway's key (keys mode)", async () => {
    const { key } = await newTenantKey();
    const refused = { UPSTREAM_API_KEY: "sk-models-refused" };
    for (const status of [401, 403]) {
      const overrides = status === 401 ? refused : { UPSTREAM_API_KEY: `sk-models-${status}-operator` };
      const res = await managedFetch(
        `${GATEWAY_URL}/models`,
        { headers: { authorization: `Bearer ${key}` } },
        overrides,
      );
      expect(res.status).toBe(502);
      expect(res.headers.get("x-should-retry")).toBe("false");
      const body = await res.json<{ error: { type: string; code: string; message: string } }>();
      expect(body.error).toMatchObject({ type: "server_error", code: "upstream_key_refused" });
      expect(body.error.message).toContain(`HTTP ${status}`);
      expect(body.error.message).not.toContain("sk-models-refused");
    }
  });

  it("redacts the key also where the upstream's JSON quotes it with escapes (\\u0073k-…)", async () => {
    const key = "sk-models-refused-escaped";
    const res = await gatewayFetch(`${GATEWAY_URL}/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(401);
    const body = await res.json<{ error: { message: string } }>();
    expect(body.error.message).toBe("Incorrect API key provided: [redacted]");
  });

  it("lists only the routes when the upstream has no model list (404) or answers something else", async () => {
    for (const key of ["sk-models-none", "sk-models-garbage"]) {
      const res = await gatewayFetch(`${GATEWAY_URL}/models`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      const body = await res.json<{ object: string; data: { id: string }[] }>();
      expect(body.object).toBe("list");
      expect(body.data.map((model) => model.id)).not.toContain("mock-large");
      expect(body.data).toHaveLength(11);
    }
  });

  it("needs a key, and says so in OpenAI's envelope", async () => {
    const res = await gatewayFetch(`${GATEWAY_URL}/models`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { type: "invalid_request_error" } });
  });
});

/** A D1 binding whose every query's first row is `first()`. */
const fakeD1 = (first: () => Promise<unknown>) => ({
  prepare: () => ({ first }),
  batch: () => Promise.reject(new Error("not used by the health check")),
});

describe("GET /health", () => {
  it("answers without a key after a D1 query, and says only that", async () => {
    const res = await gatewayFetch(`${ROOT}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual({
      status: "ok",
      checks: { d1: { status: "ok", latency_ms: expect.any(Number) as unknown }, config: { status: "ok" } },
    });
  });

  it("answers HEAD as GET, without a body but with its length (uptime monitors probe with HEAD)", async () => {
    const res = await gatewayFetch(`${ROOT}/health`, { method: "HEAD" });
    expect(res.status).toBe(200);
    // The GET's body, whose latency_ms may differ by a digit or two.
    const got = new TextEncoder().encode(await (await gatewayFetch(`${ROOT}/health`)).text()).byteLength;
    expect(Math.abs(Number(res.headers.get("content-length")) - got)).toBeLessThanOrEqual(2);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
    expect(await res.text()).toBe("");
  });

  it("answers 503 while D1 lacks this version's newest migration (a deploy before `migrations apply`)", async () => {
    const migratedTo = (name: string) => fakeD1(() => Promise.resolve({ name }));
    const res = await managedFetch(`${ROOT}/health`, {}, { DB: migratedTo("0008_output_item_ids.sql") });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: "error",
      checks: { d1: { status: "error" }, config: { status: "ok" } },
    });
    expect((await managedFetch(`${ROOT}/health`, {}, { DB: migratedTo(REQUIRED_MIGRATION) })).status).toBe(200);
  });

  it("answers 503 naming (never quoting) a wrong setting that refuses requests, D1 still checked", async () => {
    const wrong = { AUTH_MODE: "key", UPSTREAM_BASE_URL: "http://127.0.0.1:9/v1/chat/completions" };
    const res = await managedFetch(`${ROOT}/health`, {}, wrong);
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      status: "error",
      checks: {
        d1: { status: "ok", latency_ms: expect.any(Number) as unknown },
        config: { status: "error", settings: ["UPSTREAM_BASE_URL", "AUTH_MODE"] },
      },
    });
    expect(text).not.toMatch(/127\.0\.0\.1|key'/);
    const routes = await managedFetch(`${ROOT}/health`, {}, { UPSTREAM_ROUTES: '[{"model":"x"}]' });
    expect([routes.status, await routes.json()]).toMatchObject([
      503,
      { checks: { config: { status: "error", settings: ["UPSTREAM_ROUTES"] } } },
    ]);
    // A D1_SHARDS entry not bound to a database is found where the bindings are read, not in src/config.ts.
    const unbound = await managedFetch(`${ROOT}/health`, {}, { D1_SHARDS: "DB,DB_9" });
    expect([unbound.status, await unbound.json()]).toEqual([
      503,
      { status: "error", checks: { d1: { status: "error" }, config: { status: "error", settings: ["D1_SHARDS"] } } },
    ]);
    // The API still serves with a wrong admin token or a short compaction secret: healthy.
    const partial = { ADMIN_TOKEN: "short", COMPACTION_SECRET: "short" };
    expect((await managedFetch(`${ROOT}/health`, {}, partial)).status).toBe(200);
  });

  it("needs the newest migration in migrations/", () => {
    const names = (env as unknown as { TEST_MIGRATIONS: { name: string }[] }).TEST_MIGRATIONS.map((m) => m.name);
    expect(REQUIRED_MIGRATION).toBe(names.sort().at(-1));
  });

  it("answers 503 naming D1 when D1 fails", async () => {
    const broken = fakeD1(() => Promise.reject(new Error("D1_ERROR: no such database")));
    const res = await managedFetch(`${ROOT}/health`, {}, { DB: broken });
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      status: "error",
      checks: { d1: { status: "error" }, config: { status: "ok" } },
    });
    expect(text).not.toContain("no such database");
  });
});

describe("CORS (CORS_ORIGINS)", () => {
  const allowed = "https://app.example.com";
  const cors = { CORS_ORIGINS: `${allowed}, http://localhost:5173` };

  it("is off by default: no allow headers, and a preflight is an unknown route", async () => {
    const res = await gatewayFetch(`${GATEWAY_URL}/responses`, {
      headers: { authorization: "Bearer sk-test-cors", origin: allowed },
    });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const pre = await gatewayFetch(`${GATEWAY_URL}/responses`, {
      method: "OPTIONS",
      headers: { origin: allowed, "access-control-request-method": "POST" },
    });
    expect(pre.status).toBe(404);
  });

  it("answers a preflight from a listed origin, and lets it read answers and their request id", async () => {
    const { key } = await newTenantKey("cors");
    const pre = await managedFetch(
      `${GATEWAY_URL}/responses`,
      {
        method: "OPTIONS",
        headers: {
          origin: allowed,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization, content-type, x-stainless-os",
        },
      },
      cors,
    );
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe(allowed);
    expect(pre.headers.get("access-control-allow-methods")).toContain("POST");
    expect(pre.headers.get("access-control-allow-headers")).toBe("authorization, content-type, x-stainless-os");
    expect(pre.headers.get("vary")).toBe("Origin");
    const res = await managedFetch(
      `${GATEWAY_URL}/responses?limit=1`,
      { headers: { authorization: `Bearer ${key}`, origin: allowed } },
      cors,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(allowed);
    expect(res.headers.get("access-control-expose-headers")).toContain("x-request-id");
    expect(res.headers.get("vary")).toContain("Origin");
  });

  it("opens /health but neither the admin API nor the console to a listed origin", async () => {
    const preflight = (path: string) =>
      managedFetch(
        `${ROOT}${path}`,
        { method: "OPTIONS", headers: { origin: allowed, "access-control-request-method": "GET" } },
        cors,
      );
    expect((await preflight("/health")).headers.get("access-control-allow-origin")).toBe(allowed);
    for (const path of ["/admin/tenants", "/admin/responses", "/console/", "/console"]) {
      const pre = await preflight(path);
      expect(pre.status, path).toBe(404);
      expect(pre.headers.get("access-control-allow-origin"), path).toBeNull();
      const res = await managedFetch(`${ROOT}${path}`, { headers: { origin: allowed } }, cors);
      expect(res.headers.get("access-control-allow-origin"), path).toBeNull();
    }
  });

  it("gives another origin nothing to go on", async () => {
    const pre = await managedFetch(
      `${GATEWAY_URL}/responses`,
      { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "GET" } },
      cors,
    );
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
    const res = await managedFetch(`${GATEWAY_URL}/responses`, { headers: { origin: "https://evil.example" } }, cors);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("refuses a preflight with a message naming CORS_ORIGINS when the setting is not a list of origins", async () => {
    const pre = await managedFetch(
      `${GATEWAY_URL}/responses`,
      { method: "OPTIONS", headers: { origin: allowed, "access-control-request-method": "GET" } },
      { CORS_ORIGINS: "https://app.example.com/, *" },
    );
    expect(pre.status).toBe(500);
    expect(pre.headers.get("x-should-retry")).toBe("false");
    const body = await pre.json<{ error: { message: string; code: string } }>();
    expect(body.error.code).toBe("cors_misconfigured");
    expect(body.error.message).toContain("CORS_ORIGINS entry 1");
  });
});

describe("x-ratelimit-* headers", () => {
  it("sends the configured limit and window on /v1 answers, and on a 429 also remaining 0 and the reset", async () => {
    const { key } = await newTenantKey("limit headers");
    const strict = {
      RATE_LIMITER: (env as unknown as Record<string, unknown>).STRICT_RATE_LIMITER,
      RATE_LIMIT_REQUESTS: "3",
    };
    const headers = { authorization: `Bearer ${key}` };
    const first = await managedFetch(`${GATEWAY_URL}/responses?limit=1`, { headers }, strict);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit-requests")).toBe("3");
    expect(first.headers.get("ratelimit-policy")).toBe("3;w=60");
    expect(first.headers.get("x-ratelimit-remaining-requests")).toBeNull();
    let refused: Response | undefined;
    for (let i = 0; i < 7 && refused === undefined; i++) {
      const res = await managedFetch(`${GATEWAY_URL}/responses?limit=1`, { headers }, strict);
      if (res.status === 429) refused = res;
    }
    expect(refused?.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(refused?.headers.get("x-ratelimit-reset-requests")).toBe(`${refused?.headers.get("retry-after")}s`);
    expect(refused?.headers.get("x-ratelimit-limit-requests")).toBe("3");
  });

  it("sends none outside /v1", async () => {
    const res = await gatewayFetch(`${ROOT}/health`);
    expect(res.headers.get("x-ratelimit-limit-requests")).toBeNull();
  });
});
