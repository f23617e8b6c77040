// GET /v1/responses over a seeded history of 10,000 responses (plus another tenant's): every filter
// and both orders paged to the end with the SDK's cursor pagination, against the expected ids.

import { env } from "cloudflare:workers";
import type OpenAI from "openai";
import { CursorPage } from "openai/core/pagination";
import type { Response as OpenAIResponse } from "openai/resources/responses/responses";
import { beforeAll, describe, expect, it } from "vitest";
import { tenantDb } from "../../src/db/shards";
import { keyset, pageQuery, type ResponseFilters } from "../../src/db/response-list";
import { GATEWAY_URL, model } from "../support/gateway";
import { managedClient, managedFetch, newTenantKey, type MintedKey } from "../support/managed";
import { runEverywhere, tenantD1 } from "../support/shards";

const N = 10_000;
const OTHER_N = 500;
const BASE_TIME = 1_750_000_000;
const STATUSES = ["failed", "incomplete", "cancelled", "in_progress", "completed", "completed", "completed"];

/** The seeded response n, as the SQL below builds it (ids are a permutation, so ties sort by id). */
interface Seed {
  id: string;
  createdAt: number;
  status: string;
  model: string;
  background: boolean;
  user: string;
  batch: string;
  previous: string | null;
  conversation: string | null;
}

/**
 * Ids as the gateway mints them: the creation time in ms first (each seed at its second's start), then
 * a permutation, so the four seeds of a second tie on the time and sort by the rest.
 */
const seedId = (n: number, marker = "0000") =>
  `resp_${((BASE_TIME + Math.floor(n / 4)) * 1000).toString(16).padStart(12, "0")}${marker}${((n * 7919) % 10007)
    .toString(16)
    .padStart(32, "0")}`;

function seed(n: number): Seed {
  return {
    id: seedId(n),
    createdAt: BASE_TIME + Math.floor(n / 4),
    status: STATUSES[n % 7] as string,
    model: `model-${n % 3}`,
    background: n % 2 === 1,
    user: `u${n % 5}`,
    batch: `b${Math.floor(n / 1000)}`,
    previous: n % 10 === 0 ? null : seedId(n - (n % 10)),
    conversation: n % 13 === 0 ? `conv_${n % 2}` : null,
  };
}

/** One statement: 10,000 rows from a recursive CTE mirroring `seed()` (`marker` sets the tenant's ids apart). */
function seedSql(tenantId: string, count: number, marker: string): string {
  return `
    INSERT INTO responses (id, tenant_id, status, model, background, store, created_at, updated_at,
                           previous_response_id, conversation_id, metadata, snapshot, api_key_id)
    WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < ${count - 1}),
    rows AS (
      SELECT n,
        'resp_' || printf('%012x', (${BASE_TIME} + n / 4) * 1000) || '${marker}' || printf('%032x', (n * 7919) % 10007) AS id,
        CASE n % 7 WHEN 0 THEN 'failed' WHEN 1 THEN 'incomplete' WHEN 2 THEN 'cancelled' WHEN 3 THEN 'in_progress'
                   ELSE 'completed' END AS status,
        'model-' || (n % 3) AS model,
        n % 2 AS background,
        ${BASE_TIME} + n / 4 AS created_at,
        CASE WHEN n % 10 = 0 THEN NULL
             ELSE 'resp_' || printf('%012x', (${BASE_TIME} + (n - n % 10) / 4) * 1000) || '${marker}'
                  || printf('%032x', ((n - n % 10) * 7919) % 10007) END AS prev,
        CASE WHEN n % 13 = 0 THEN 'conv_' || (n % 2) ELSE NULL END AS conversation,
        json_object('user', 'u' || (n % 5), 'batch', 'b' || (n / 1000)) AS metadata
      FROM seq)
    SELECT id, '${tenantId}', status, model, background, 1, created_at, created_at, prev, conversation, metadata,
      json_object('id', id, 'object', 'response', 'created_at', created_at,
        'status', CASE status WHEN 'in_progress' THEN 'queued' ELSE status END,
        'model', model, 'background', json(CASE background WHEN 1 THEN 'true' ELSE 'false' END),
        'previous_response_id', prev, 'metadata', json(metadata), 'output', json('[]'), 'n', n), NULL
    FROM rows`;
}

/** Splits the snapshots of every 1,000th response over two `blobs` rows, as large ones are stored. */
const splitSnapshotsSql = [
  `INSERT INTO blobs (owner_id, name, part, data)
     SELECT id, 'snapshot', 0, substr(snapshot, 1, 40) FROM responses WHERE json_extract(snapshot, '$.n') % 1000 = 5`,
  `INSERT INTO blobs (owner_id, name, part, data)
     SELECT id, 'snapshot', 1, substr(snapshot, 41) FROM responses WHERE json_extract(snapshot, '$.n') % 1000 = 5`,
  `UPDATE responses SET snapshot = NULL WHERE id IN (SELECT owner_id FROM blobs WHERE name = 'snapshot' AND part = 1)`,
];

const seeds = Array.from({ length: N }, (_, n) => seed(n));
const byPageOrder = (order: "asc" | "desc") => (a: Seed, b: Seed) => {
  const sign = order === "desc" ? -1 : 1;
  if (a.createdAt !== b.createdAt) return sign * (a.createdAt - b.createdAt);
  return sign * (a.id < b.id ? -1 : 1);
};

let tenant: MintedKey;
let openai: OpenAI;
// seedId(9990) is a response others continue: its continuations still list once it is gone.
const deleted = [seedId(17), seedId(4242), seedId(9990), seedId(9999)];
/** Milliseconds of each page request, by the test that made it. */
const timings: Record<string, number[]> = {};

async function timedFetch(label: string, input: string | URL | Request, init?: RequestInit) {
  const started = performance.now();
  const response = await managedFetch(input, init);
  await response.clone().arrayBuffer();
  (timings[label] ??= []).push(performance.now() - started);
  return response;
}

/** Every item of a listing, paged with the SDK's cursor pagination (`after` = last id). */
async function listAll(label: string, query: Record<string, unknown>): Promise<OpenAIResponse[]> {
  const client = managedClient(tenant.key);
  const timed = client.withOptions({ fetch: (input, init) => timedFetch(label, input, init) });
  const items: OpenAIResponse[] = [];
  for await (const item of timed.getAPIList<OpenAIResponse, CursorPage<OpenAIResponse>>("/responses", CursorPage, {
    query,
  }))
    items.push(item);
  return items;
}

describe("GET /v1/responses over 10,000 responses", () => {
  beforeAll(async () => {
    tenant = await newTenantKey("history");
    openai = managedClient(tenant.key);
    const other = await newTenantKey("neighbour");
    const started = performance.now();
    // Each where the gateway routes the tenant (its first write, the deletes below, records it there).
    await (await tenantD1(tenant.tenantId)).prepare(seedSql(tenant.tenantId, N, "0000")).run();
    await (await tenantD1(other.tenantId)).prepare(seedSql(other.tenantId, OTHER_N, "ffff")).run();
    for (const statement of splitSnapshotsSql) await runEverywhere(statement);
    console.log(`seeded ${N + OTHER_N} responses in ${Math.round(performance.now() - started)} ms`);
    for (const id of deleted) await openai.responses.delete(id);
  }, 120_000);

  const cases: [string, Record<string, unknown>, (seed: Seed) => boolean][] = [
    ["no filter", {}, () => true],
    ["model", { model: "model-1" }, (s) => s.model === "model-1"],
    ["status", { status: "cancelled" }, (s) => s.status === "cancelled"],
    ["status in_progress", { status: "in_progress" }, (s) => s.status === "in_progress"],
    ["metadata", { metadata: { user: "u3" } }, (s) => s.user === "u3"],
    ["two metadata keys", { metadata: { user: "u3", batch: "b2" } }, (s) => s.user === "u3" && s.batch === "b2"],
    ["previous_response_id", { previous_response_id: seedId(5120) }, (s) => s.previous === seedId(5120)],
    [
      "previous_response_id of a deleted response",
      { previous_response_id: seedId(9990) },
      (s) => s.previous === seedId(9990),
    ],
    ["conversation", { conversation: "conv_1" }, (s) => s.conversation === "conv_1"],
    ["background=true", { background: true }, (s) => s.background],
    ["background=false", { background: false }, (s) => !s.background],
    [
      "created range",
      { created_after: BASE_TIME + 500, created_before: BASE_TIME + 1000 },
      (s) => s.createdAt >= BASE_TIME + 500 && s.createdAt < BASE_TIME + 1000,
    ],
    [
      "model, status and background together",
      { model: "model-2", status: "completed", background: true },
      (s) => s.model === "model-2" && s.status === "completed" && s.background,
    ],
    ["a model nobody used", { model: "model-9" }, () => false],
  ];

  for (const order of ["desc", "asc"] as const) {
    it.each(cases)(`pages through every response, once, in ${order} order: %s`, async (name, query, keep) => {
      const label = `${name} (${order})`;
      const listed = await listAll(label, { ...query, order, limit: 100 });
      const expected = seeds
        .filter((s) => keep(s) && !deleted.includes(s.id))
        .sort(byPageOrder(order))
        .map((s) => s.id);
      const ids = listed.map((response) => response.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual(expected);
      const pages = timings[label] ?? [];
      expect(pages.length).toBe(Math.max(1, Math.ceil(expected.length / 100)));
    });
  }

  it("returns each stored Response whole: status, fields, and split snapshots reassembled", async () => {
    const listed = await listAll("whole objects", { order: "asc", limit: 100, created_before: BASE_TIME + 10 });
    expect(listed.map((r) => r.id)).toEqual(
      seeds
        .slice(0, 40)
        .filter((s) => !deleted.includes(s.id))
        .sort(byPageOrder("asc"))
        .map((s) => s.id),
    );
    for (const response of listed) {
      const expected = seeds.find((s) => s.id === response.id) as Seed;
      expect(response).toMatchObject({
        object: "response",
        status: expected.status,
        model: expected.model,
        background: expected.background,
        created_at: expected.createdAt,
        metadata: { user: expected.user, batch: expected.batch },
        previous_response_id: expected.previous,
      });
    }
    const split = await listAll("split", { created_after: BASE_TIME + 1251, created_before: BASE_TIME + 1252 });
    // n = 5005 is one of the split snapshots.
    expect(split.map((r) => r.id)).toContain(seedId(5005));
    expect(split.find((r) => r.id === seedId(5005))).toMatchObject({ id: seedId(5005), object: "response" });
  });

  it("defaults to 20 newest first, and says when there is more", async () => {
    const res = await managedFetch(`${GATEWAY_URL}/responses`, { headers: { authorization: `Bearer ${tenant.key}` } });
    const page = await res.json<{
      object: string;
      data: { id: string }[];
      first_id: string;
      last_id: string;
      has_more: boolean;
    }>();
    const newest = seeds
      .filter((s) => !deleted.includes(s.id))
      .sort(byPageOrder("desc"))
      .slice(0, 20)
      .map((s) => s.id);
    expect(page).toMatchObject({ object: "list", first_id: newest[0], last_id: newest[19], has_more: true });
    expect(page.data.map((r) => r.id)).toEqual(newest);
  });

  it("reads only the rows newer than the response whose continuations it lists, less a minute", async () => {
    // The console's chain view asks this of every response it opens; most have no continuation.
    const db = await tenantDb(env, tenant.tenantId);
    const d1 = await tenantD1(tenant.tenantId);
    for (const [n, order] of [
      [9960, "desc"],
      [9960, "asc"],
      [9997, "desc"],
    ] as const) {
      const filters: ResponseFilters = { metadata: [], previousResponseId: seedId(n) };
      const query = pageQuery(db, tenant.tenantId, filters, { limit: 20, order }).toSQL();
      const read = await d1
        .prepare(query.sql)
        .bind(...query.params)
        .all<{ id: string }>();
      expect(read.results.map((row) => row.id)).toEqual(
        seeds
          .filter((s) => s.previous === seedId(n) && !deleted.includes(s.id))
          .sort(byPageOrder(order))
          .map((s) => s.id),
      );
      // Four seeds a second: the rows from a minute before it on, not the tenant's 10,000.
      expect(read.meta.rows_read).toBeLessThan(N - n + 4 * 60 + 10);
    }
  });

  it("logs the time per page", () => {
    const all = Object.values(timings)
      .flat()
      .sort((a, b) => a - b);
    const at = (q: number) => all[Math.min(all.length - 1, Math.floor(q * all.length))]?.toFixed(1);
    console.log(`GET /v1/responses pages: ${all.length}; ms per page p50 ${at(0.5)}, p95 ${at(0.95)}, max ${at(1)}`);
    for (const [label, pages] of Object.entries(timings)) {
      const mean = pages.reduce((sum, ms) => sum + ms, 0) / pages.length;
      console.log(`  ${label}: ${pages.length} pages, mean ${mean.toFixed(1)} ms`);
    }
    expect(all.length).toBeGreaterThan(100);
  });
});

describe("GET /v1/responses with responses made through the gateway", () => {
  it("lists responses stored before ids were timed after the newer ones, in their creation order", async () => {
    const { key, tenantId } = await newTenantKey("legacy");
    const client = managedClient(key);
    const timed = [];
    for (const input of ["a", "b", "c"]) timed.push(await client.responses.create({ model: model("text:1"), input }));
    // Legacy rows: random ids (here sorting against their age), older than any timed one.
    const legacy = [
      { id: `resp_legacy_c${"0".repeat(8)}`, createdAt: BASE_TIME + 1 },
      { id: `resp_legacy_b${"0".repeat(8)}`, createdAt: BASE_TIME + 2 },
      { id: `resp_legacy_a${"0".repeat(8)}`, createdAt: BASE_TIME + 2 },
    ];
    const d1 = await tenantD1(tenantId);
    for (const row of legacy)
      await d1
        .prepare(
          `INSERT INTO responses (id, tenant_id, status, model, background, store, created_at, updated_at, metadata,
                                  snapshot, legacy)
           VALUES (?1, ?2, 'completed', 'old', 0, 1, ?3, ?3, '{}',
                   json_object('id', ?1, 'object', 'response', 'created_at', ?3, 'status', 'completed', 'output', json('[]')), 1)`,
        )
        .bind(row.id, tenantId, row.createdAt)
        .run();
    const newestFirst = [
      ...timed.map((r) => r.id).reverse(),
      // Same second: by id, descending.
      legacy[1]!.id,
      legacy[2]!.id,
      legacy[0]!.id,
    ];
    for (const [order, expected] of [
      ["desc", newestFirst],
      ["asc", [...newestFirst].reverse()],
    ] as const) {
      const ids: string[] = [];
      for await (const item of client.getAPIList<OpenAIResponse, CursorPage<OpenAIResponse>>("/responses", CursorPage, {
        query: { order, limit: 2 },
      }))
        ids.push(item.id);
      expect(ids).toEqual(expected);
    }
  });

  it("lists what the tenant created, as retrieve returns it, and never a deleted one", async () => {
    const { key } = await newTenantKey("live");
    const client = managedClient(key);
    const first = await client.responses.create({ model: model("text:2"), input: "one", metadata: { topic: "a" } });
    const second = await client.responses.create({
      model: model("text:3"),
      input: "two",
      previous_response_id: first.id,
    });
    const gone = await client.responses.create({ model: model("text:1"), input: "three" });
    await client.responses.delete(gone.id);
    const page = await client.getAPIList<OpenAIResponse, CursorPage<OpenAIResponse>>("/responses", CursorPage);
    const newestFirst = [first, second]
      .sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : -1))
      .map((r) => r.id);
    expect(page.data.map((r) => r.id)).toEqual(newestFirst);
    for (const listed of page.data) {
      const retrieved: Partial<OpenAIResponse> = { ...(await client.responses.retrieve(listed.id)) };
      delete retrieved.output_text; // added by the SDK's retrieve, not sent by the server
      expect(listed).toEqual(retrieved);
    }
    const chained = await client.getAPIList<OpenAIResponse, CursorPage<OpenAIResponse>>("/responses", CursorPage, {
      query: { previous_response_id: first.id },
    });
    expect(chained.data.map((r) => r.id)).toEqual([second.id]);
    const tagged = await client.getAPIList<OpenAIResponse, CursorPage<OpenAIResponse>>("/responses", CursorPage, {
      query: { metadata: { topic: "a" } },
    });
    expect(tagged.data.map((r) => r.id)).toEqual([first.id]);
  });

  it("pages on after a cursor deleted since its page: a loop that deletes each listed response reaches the end", async () => {
    const { key } = await newTenantKey("delete-loop");
    const client = managedClient(key);
    const made: string[] = [];
    for (const input of ["a", "b", "c", "d", "e"])
      made.push((await client.responses.create({ model: model("text:1"), input })).id);
    const seen: string[] = [];
    const pages = client.getAPIList<OpenAIResponse, CursorPage<OpenAIResponse>>("/responses", CursorPage, {
      query: { limit: 2 },
    });
    for await (const listed of pages) {
      seen.push(listed.id);
      await client.responses.delete(listed.id);
    }
    expect(seen).toEqual([...made].reverse());
    expect(
      (await client.getAPIList<OpenAIResponse, CursorPage<OpenAIResponse>>("/responses", CursorPage)).data,
    ).toEqual([]);
  });

  it("reads a created range past the ids' clock (the year 10889) as later than every response", async () => {
    const { key } = await newTenantKey("far-range");
    const client = managedClient(key);
    const made = [];
    for (const input of ["a", "b"]) made.push(await client.responses.create({ model: model("text:1"), input }));
    // 2^48 ms, where an id's 12 time digits wrap around: the id floor must not wrap with them.
    const past = Math.ceil(2 ** 48 / 1000);
    const list = async (query: Record<string, unknown>) =>
      (
        await client.getAPIList<OpenAIResponse, CursorPage<OpenAIResponse>>("/responses", CursorPage, { query })
      ).data.map((r) => r.id);
    expect(await list({ created_before: past })).toEqual(made.map((r) => r.id).reverse());
    expect(await list({ created_before: 999_999_999_999, order: "asc" })).toEqual(made.map((r) => r.id));
    expect(await list({ created_after: past })).toEqual([]);
  });

  it.each([
    ["limit=0", "limit", "integer_below_min_value"],
    ["limit=101", "limit", "integer_above_max_value"],
    ["limit=1000000", "limit", "integer_above_max_value"],
    ["limit=1.5", "limit", "invalid_type"],
    ["order=sideways", "order", "invalid_value"],
    ["status=done", "status", "invalid_value"],
    ["background=maybe", "background", "invalid_value"],
    ["created_after=yesterday", "created_after", "invalid_type"],
    [`after=${seedId(1)}`, "after", null],
    [Array.from({ length: 17 }, (_, i) => `metadata[k${i}]=v`).join("&"), "metadata", "object_above_max_properties"],
  ])("answers %s with a 400 naming the parameter", async (query, param, code) => {
    const { key } = await newTenantKey("errors");
    const res = await managedFetch(`${GATEWAY_URL}/responses?${query}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.status).toBe(400);
    expect((await res.json<{ error: unknown }>()).error).toMatchObject({ type: "invalid_request_error", param, code });
  });
});

describe("GET /v1/responses query plans", () => {
  const none: ResponseFilters = { metadata: [] };
  // The key serves every filter (each index is a billed row on every write): the tenant's rows are
  // read in page order from the table itself, and a filter is a condition on them; the speed of each
  // is measured above.
  const tenantKey = /SEARCH responses USING PRIMARY KEY \(tenant_id=\?/;
  it.each<[string, ResponseFilters, RegExp]>([
    ["no filter", none, tenantKey],
    ["model", { ...none, model: "m" }, tenantKey],
    ["status", { ...none, status: "failed" }, tenantKey],
    // Newer than the response or conversation named: the bound is read from its own row.
    ["previous_response_id", { ...none, previousResponseId: "resp_1" }, /PRIMARY KEY \(tenant_id=\? AND id>\?/],
    ["conversation", { ...none, conversationId: "conv_1" }, /PRIMARY KEY \(tenant_id=\? AND id>\?/],
    ["background", { ...none, background: true }, tenantKey],
    [
      "created range",
      { ...none, createdAfter: 1, createdBefore: 2 },
      /SEARCH responses USING PRIMARY KEY \(tenant_id=\? AND id>\? AND id<\?\)/,
    ],
    ["metadata", { ...none, metadata: [["k", "v"]] }, tenantKey],
  ])("seeks the tenant's key already in page order, with and without a cursor: %s", async (_name, filters, plan) => {
    const db = await tenantDb(env, "tenant_x");
    const d1 = await tenantD1("tenant_x");
    for (const order of ["desc", "asc"] as const)
      for (const cursor of [undefined, keyset({ createdAt: BASE_TIME, id: seedId(1), legacy: false }, order)]) {
        const query = pageQuery(db, "tenant_x", filters, { limit: 20, order }, cursor).toSQL();
        const explained = await d1
          .prepare(`EXPLAIN QUERY PLAN ${query.sql}`)
          .bind(...query.params)
          .all<{ detail: string }>();
        const details = explained.results.map((row) => row.detail).join(" | ");
        expect(details).toMatch(plan);
        expect(details).not.toMatch(/TEMP B-TREE|SCAN responses/);
      }
  });
});
