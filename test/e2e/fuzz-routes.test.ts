// Hostile input against every other route of src/router.ts (fuzz.test.ts covers creates and the
// response reads): hostile ids, query strings, bodies and headers. Whatever is sent, the answer is
// never a 5xx; a refusal is a 4xx in OpenAI's envelope that adds no row to any table; no answer
// echoes a secret (the caller's key, the admin token, an upstream key).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeOrRaw, expectErrorEnvelope, hostileStrings } from "../support/fuzz";
import { gatewayFetch } from "../support/gateway";
import { rowCounts } from "../support/tables";
import { ADMIN_TOKEN, managedFetch, UPSTREAM_KEY } from "../support/managed";

const SECRET_KEY = "sk-fuzz-routes-SECRET-51c0de";
/** The routed upstream key of vitest.config.ts (ALT_UPSTREAM_KEY). */
const ALT_UPSTREAM_KEY = "sk-alt-route-secret-7f3zqx";
const SECRETS = [SECRET_KEY, ADMIN_TOKEN, UPSTREAM_KEY, ALT_UPSTREAM_KEY];
const BASE = "http://gateway.test";

const nasty = hostileStrings([
  "wh_' UNION SELECT key_hash FROM api_keys --",
  "1; DROP TABLE responses; --",
  "conv_" + "f".repeat(2000),
  "x".repeat(70_000),
  "https://127.0.0.1/hook",
  "http://localhost/",
  "javascript:alert(1)",
]);
const json = fc.jsonValue({ maxDepth: 4 });
const hostileValue = fc.oneof(nasty, json);

/** Bodies with each route's known fields (and more) given hostile values. */
const hostileBody = fc.oneof(
  json,
  fc.record(
    {
      name: hostileValue,
      url: hostileValue,
      event_types: fc.oneof(json, fc.array(nasty, { maxLength: 4 })),
      metadata: fc.oneof(json, fc.dictionary(nasty, nasty, { maxKeys: 40 })),
      items: fc.oneof(json, fc.array(json, { maxLength: 25 })),
      model: hostileValue,
      input: hostileValue,
      tenant_id: hostileValue,
      disabled: hostileValue,
    },
    { requiredKeys: [] },
  ),
);

/** Every route but the create and the response reads (fuzz.test.ts), with a hostile id where it has one. */
const ROUTES: readonly (readonly [string, (id: string) => string])[] = [
  ["POST", () => "/v1/responses/input_tokens"],
  ["POST", () => "/v1/responses/compact"],
  ["GET", () => "/v1/responses"],
  ["GET", (id) => `/v1/responses/${id}/webhook_deliveries`],
  ["GET", () => "/v1/usage"],
  ["POST", () => "/v1/conversations"],
  ["POST", (id) => `/v1/conversations/${id}`],
  ["POST", (id) => `/v1/conversations/${id}/items`],
  ["POST", () => "/v1/webhook_endpoints"],
  ["GET", () => "/v1/webhook_endpoints"],
  ["GET", (id) => `/v1/webhook_endpoints/${id}`],
  ["POST", (id) => `/v1/webhook_endpoints/${id}`],
  ["DELETE", (id) => `/v1/webhook_endpoints/${id}`],
  ["POST", (id) => `/v1/webhook_endpoints/${id}/rotate_secret`],
  ["POST", (id) => `/v1/webhook_endpoints/${id}/test`],
  ["GET", () => "/v1/webhook_event_types"],
  ["GET", () => "/v1/webhook_deliveries"],
  ["GET", (id) => `/v1/webhook_deliveries/${id}`],
  ["POST", (id) => `/v1/webhook_deliveries/${id}/resend`],
  ["POST", () => "/admin/tenants"],
  ["GET", () => "/admin/tenants"],
  ["GET", (id) => `/admin/tenants/${id}`],
  ["POST", (id) => `/admin/tenants/${id}/keys`],
  ["GET", (id) => `/admin/tenants/${id}/keys`],
  ["POST", (id) => `/admin/keys/${id}/revoke`],
  ["POST", (id) => `/admin/tenants/${id}/webhook_endpoints`],
  ["GET", (id) => `/admin/tenants/${id}/webhook_endpoints`],
  ["DELETE", (id) => `/admin/tenants/${id}/webhook_endpoints/${id}`],
  ["GET", (id) => `/admin/tenants/${id}/webhook_deliveries`],
  ["GET", () => "/admin/usage"],
];

/** Query parameters the list and read routes take. */
const hostileQuery = fc.dictionary(
  fc.constantFrom("limit", "order", "after", "before", "model", "status", "from", "to", "start_time", "include[]"),
  nasty,
  { maxKeys: 4 },
);

async function check(response: Response, before: Record<string, number>): Promise<void> {
  const text = await response.text();
  expect(response.status, text).toBeLessThan(500);
  for (const secret of SECRETS) expect(text).not.toContain(secret);
  if (response.ok) return;
  expect(response.status, text).toBeGreaterThanOrEqual(400);
  expectErrorEnvelope(response, text);
  expect(await rowCounts()).toEqual(before);
}

type Send = (input: string, init: RequestInit) => Promise<Response>;
/** Pass-through mode with a plain key; keys mode (admin API on) with the admin token, a wrong one, or none. */
const CALLERS: readonly { name: string; send: Send; authorization: string | null }[] = [
  { name: "pass-through key", send: gatewayFetch, authorization: `Bearer ${SECRET_KEY}` },
  { name: "admin token", send: managedFetch, authorization: `Bearer ${ADMIN_TOKEN}` },
  { name: "wrong admin token", send: managedFetch, authorization: `Bearer ${ADMIN_TOKEN}x` },
  { name: "no authorization", send: managedFetch, authorization: null },
];

describe("hostile input on every route", () => {
  it("hostile ids, queries, bodies and headers: never a 5xx; a 4xx envelope that writes nothing; no secret echoed", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        fc.constantFrom(...CALLERS),
        nasty,
        hostileQuery,
        hostileBody,
        fc.option(nasty, { nil: undefined }),
        async ([method, path], caller, id, query, body, idempotencyKey) => {
          fc.pre(id.trim() !== "");
          const headers = new Headers({ "content-type": "application/json" });
          if (caller.authorization !== null) headers.set("authorization", caller.authorization);
          try {
            // Printable ASCII and Latin-1 only: what an HTTP client can put in a header.
            if (idempotencyKey !== undefined && /^[\t\x20-\xff]*$/.test(idempotencyKey))
              headers.set("idempotency-key", idempotencyKey);
          } catch {
            // not a legal header value: no client can send it
          }
          const before = await rowCounts();
          const search = new URLSearchParams(query).toString();
          const response = await caller.send(`${BASE}${path(encodeOrRaw(id))}${search === "" ? "" : `?${search}`}`, {
            method,
            headers,
            body: method === "POST" ? JSON.stringify(body) : undefined,
          });
          await check(response, before);
        },
      ),
      { numRuns: 250 },
    );
  });

  it("raw bytes, invalid UTF-8, deep nesting, huge metadata and SQL on every POST route: 4xx, nothing written", async () => {
    // [body, refused whatever the route]: what cannot be parsed is refused everywhere; the rest is
    // refused or accepted by each route's rules, and must never be a 5xx nor write when refused.
    const bodies: [string | Uint8Array, boolean][] = [
      [new Uint8Array([0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), true],
      ["[".repeat(100_000) + "]".repeat(100_000), true],
      ["{", true],
      [JSON.stringify({ name: "n", metadata: JSON.parse("[".repeat(200) + "]".repeat(200)) as unknown }), true],
      [JSON.stringify({ url: "https://example.com/h", metadata: { k: "v".repeat(1_000_000) } }), false],
      [JSON.stringify({ metadata: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, "v"])) }), false],
      [
        JSON.stringify({
          items: Array.from({ length: 5000 }, () => ({ type: "message", role: "user", content: "x" })),
        }),
        false,
      ],
      [JSON.stringify({ name: "'; DROP TABLE tenants; --", url: "https://x/'); DELETE FROM api_keys; --" }), false],
      ["null", false],
      ['"string"', false],
    ];
    const posts = ROUTES.filter(([method]) => method === "POST");
    for (const caller of CALLERS.slice(0, 2))
      for (const [, path] of posts)
        for (const [body, refused] of bodies) {
          const before = await rowCounts();
          const response = await caller.send(`${BASE}${path("x")}`, {
            method: "POST",
            headers: { authorization: caller.authorization ?? "", "content-type": "application/json" },
            body,
          });
          const status = response.status;
          await check(response, before);
          // Refused: 400 (or 413); 404 where the id is looked up first; 401 for the admin token on /v1.
          if (refused && ![400, 401, 404, 413].includes(status))
            throw new Error(`${caller.name} POST ${path("x")}: ${status} for ${String(body).slice(0, 40)}`);
        }
  });
});
