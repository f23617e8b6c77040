// Hostile input against every route (property-based, fast-check): whatever a client sends, the
// answer is a 4xx in OpenAI's envelope, never a 500, never a row from a rejected request, and
// never an echo of the caller's key.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeOrRaw, expectErrorEnvelope, hostileStrings } from "../support/fuzz";
import { gatewayFetch } from "../support/gateway";
import { rowCounts } from "../support/tables";

const SECRET_KEY = "sk-fuzz-SECRET-7f3a9c";
const BASE = "http://gateway.test";

const STORED_TABLES = ["responses", "response_items", "response_events"];

async function expectClientError(response: Response): Promise<void> {
  const text = await response.text();
  expect(response.status, text).toBeGreaterThanOrEqual(400);
  expect(response.status, text).toBeLessThan(500);
  expectErrorEnvelope(response, text);
  expect(text).not.toContain(SECRET_KEY);
}

const nasty = hostileStrings([
  "%2e%2e%2f",
  "resp_' UNION SELECT * FROM api_keys --",
  "resp_" + "f".repeat(2000),
  "<script>alert(1)</script>",
  "${jndi:ldap://x}",
  "%E0%A4%A",
]);
const json = fc.jsonValue({ maxDepth: 4 });

/** A create body with every known field given a hostile value of a plausible or wrong type. */
const hostileCreate = fc.record(
  {
    model: fc.oneof(nasty, json),
    input: fc.oneof(
      nasty,
      fc.array(fc.oneof(json, fc.record({ role: nasty, content: fc.oneof(nasty, json) })), { maxLength: 5 }),
    ),
    instructions: fc.oneof(nasty, json),
    stream: fc.oneof(fc.boolean(), json),
    store: fc.oneof(fc.boolean(), json),
    temperature: fc.oneof(fc.double(), json),
    top_p: fc.oneof(fc.double(), json),
    max_output_tokens: fc.oneof(fc.integer(), json),
    metadata: fc.oneof(json, fc.dictionary(nasty, nasty, { maxKeys: 20 })),
    tools: fc.oneof(json, fc.array(json, { maxLength: 3 })),
    tool_choice: fc.oneof(nasty, json),
    include: fc.oneof(json, fc.array(nasty, { maxLength: 3 })),
    previous_response_id: fc.oneof(nasty, json),
    conversation: fc.oneof(nasty, json),
    truncation: fc.oneof(nasty, json),
  },
  { requiredKeys: [] },
);

describe("hostile input", () => {
  it("POST /v1/responses with hostile bodies: 4xx envelope, nothing stored, no secret echoed", async () => {
    const before = await rowCounts(STORED_TABLES);
    await fc.assert(
      fc.asyncProperty(hostileCreate, async (body) => {
        // A body the gateway accepts is not hostile; make it fail validation or the upstream call.
        const response = await gatewayFetch(`${BASE}/v1/responses`, {
          method: "POST",
          headers: { authorization: `Bearer ${SECRET_KEY}`, "content-type": "application/json" },
          body: JSON.stringify({ ...body, background: false }),
        });
        if (response.ok) {
          await response.body?.cancel();
          return;
        }
        await expectClientError(response);
      }),
      { numRuns: 150 },
    );
    expect(await rowCounts(STORED_TABLES)).toEqual(before);
  });

  it("raw bytes, invalid UTF-8, deep nesting and huge values are 400/413", async () => {
    const bodies: (string | Uint8Array)[] = [
      new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
      "[".repeat(100_000) + "]".repeat(100_000),
      JSON.stringify({ model: "m", input: JSON.parse("[".repeat(200) + "]".repeat(200)) as unknown }),
      JSON.stringify({ model: "m", metadata: { k: "v".repeat(100_000) } }),
      JSON.stringify({ model: "m", input: Array.from({ length: 5000 }, () => ({ role: "user", content: "x" })) }),
      "",
      "null",
      "[]",
      '"string"',
    ];
    for (const body of bodies) {
      const response = await gatewayFetch(`${BASE}/v1/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${SECRET_KEY}`, "content-type": "application/json" },
        body,
      });
      await expectClientError(response);
    }
  });

  it("hostile ids and query strings on every read route: 4xx envelope", async () => {
    const routes = [
      (id: string, q: string) => ["GET", `/v1/responses/${id}?${q}`],
      (id: string, q: string) => ["GET", `/v1/responses/${id}/input_items?${q}`],
      (id: string) => ["DELETE", `/v1/responses/${id}`],
      (id: string) => ["POST", `/v1/responses/${id}/cancel`],
      (id: string, q: string) => ["GET", `/v1/${id}?${q}`],
      (id: string) => ["GET", `/v1/conversations/${id}`],
      (id: string) => ["DELETE", `/v1/conversations/${id}`],
      (id: string, q: string) => ["GET", `/v1/conversations/${id}/items?${q}`],
      (id: string) => ["POST", `/v1/conversations/${id}/items`],
      (id: string, q: string) => ["GET", `/v1/conversations/conv_${"0".repeat(48)}/items/${id}?${q}`],
      (id: string) => ["DELETE", `/v1/conversations/conv_${"0".repeat(48)}/items/${id}`],
    ] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        nasty,
        fc.dictionary(
          fc.constantFrom("stream", "starting_after", "limit", "order", "after", "include[]", "include"),
          nasty,
        ),
        async (route, id, query) => {
          // An empty id makes some paths name a collection (GET /v1/responses/ lists): still no 5xx.
          fc.pre(id.trim() !== "");
          const [method, path] = route(
            id.startsWith("%") ? id : encodeOrRaw(id),
            new URLSearchParams(query).toString(),
          );
          const response = await gatewayFetch(`${BASE}${path}`, {
            method,
            headers: { authorization: `Bearer ${SECRET_KEY}` },
          });
          await expectClientError(response);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("hostile authorization headers: 401 envelope without echo", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(nasty, fc.constant("Bearer"), fc.constant("Basic abc"), fc.constant("bearer  ")),
        async (header) => {
          const headers = new Headers();
          try {
            headers.set("authorization", header);
          } catch {
            return; // not a legal header value: no client can send it
          }
          const response = await gatewayFetch(`${BASE}/v1/responses`, { method: "POST", headers, body: "{}" });
          // A missing or malformed bearer gets the 401; a syntactically valid one the 400 for the empty body.
          await expectClientError(response);
        },
      ),
      { numRuns: 100 },
    );
  });
});
