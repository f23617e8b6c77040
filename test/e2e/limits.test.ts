// Limits: an oversized body, too many input items, bad metadata and a rate-limited key each get
// the documented 4xx in OpenAI's envelope, and nothing is written or sent upstream.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_JSON_VALUES } from "../../src/http/json-body";
import { INPUT_MAX_ITEMS } from "../../src/responses/create-request";
import { GATEWAY_URL, model, upstream } from "../support/gateway";
import { managedFetch, newTenantKey } from "../support/managed";
import { countAll } from "../support/shards";

/** Rows a tenant owns in every table a create could write. */
async function written(tenantId: string): Promise<number> {
  const counts = await Promise.all(
    [
      "SELECT count(*) AS n FROM responses WHERE tenant_id = ?1",
      "SELECT count(*) AS n FROM response_items WHERE tenant_id = ?1",
      "SELECT count(*) AS n FROM response_events WHERE response_id IN (SELECT id FROM responses WHERE tenant_id = ?1)",
      "SELECT count(*) AS n FROM usage_daily WHERE tenant_id = ?1",
      "SELECT count(*) AS n FROM tenant_shards WHERE tenant_id = ?1",
    ].map((sql) => countAll(sql, tenantId)),
  );
  return counts.reduce((sum, n) => sum + n, 0);
}

async function post(key: string, body: BodyInit, overrides: Record<string, unknown> = {}, headers = {}) {
  const res = await managedFetch(
    `${GATEWAY_URL}/responses`,
    {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
      body,
    },
    overrides,
  );
  return { status: res.status, headers: res.headers, body: await res.json<{ error: Record<string, unknown> }>() };
}

const streamOf = (text: string) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      const bytes = new TextEncoder().encode(text);
      for (let i = 0; i < bytes.length; i += 512) controller.enqueue(bytes.slice(i, i + 512));
      controller.close();
    },
  });

describe("limits", () => {
  const LIMIT = { MAX_REQUEST_BYTES: "4096" };

  it.each([
    ["declared by content-length", (text: string) => text],
    ["streamed without a length", (text: string) => streamOf(text)],
  ])("answers a body over MAX_REQUEST_BYTES (%s) with a 413 and writes nothing", async (_name, bodyOf) => {
    const { key, tenantId } = await newTenantKey("limits");
    const m = model("text:1");
    const res = await post(key, bodyOf(JSON.stringify({ model: m, input: "x".repeat(5000) })), LIMIT);
    expect(res.status).toBe(413);
    expect(res.body.error).toMatchObject({ type: "invalid_request_error", code: "request_too_large" });
    expect(await written(tenantId)).toBe(0);
    expect(await upstream.requests(m)).toEqual([]);
  });

  const compressed = (text: string, format: "gzip" | "deflate"): Promise<ArrayBuffer> =>
    new Response(new Blob([text]).stream().pipeThrough(new CompressionStream(format))).arrayBuffer();

  it.each([["gzip"], ["deflate"], ["br"], ["zstd"], ["gzip, br"]])(
    "answers a body sent compressed (%s) with a 415 naming the coding, before reading it",
    async (coding) => {
      const { key, tenantId } = await newTenantKey("limits");
      const m = model("text:1");
      const body =
        coding === "gzip" || coding === "deflate"
          ? await compressed(JSON.stringify({ model: m, input: "hi" }), coding)
          : JSON.stringify({ model: m, input: "hi" });
      const res = await post(key, body, {}, { "content-encoding": coding });
      expect(res.status).toBe(415);
      expect(res.headers.get("accept-encoding")).toBe("identity");
      expect(res.body.error).toMatchObject({ type: "invalid_request_error", code: "unsupported_content_encoding" });
      expect(res.body.error.message).toContain(`'${coding}'`);
      expect(await written(tenantId)).toBe(0);
      expect(await upstream.requests(m)).toEqual([]);
    },
  );

  it("takes a body labelled identity as it is", async () => {
    const { key } = await newTenantKey("limits");
    const m = model("text:1");
    const res = await post(key, JSON.stringify({ model: m, input: "hi" }), {}, { "content-encoding": "identity" });
    expect(res.status).toBe(200);
  });

  it("accepts a body just under the limit", async () => {
    const { key } = await newTenantKey("limits");
    const body = JSON.stringify({ model: model("text:1"), input: "x" });
    const res = await post(key, body.replace('"x"', `"${"x".repeat(4096 - body.length)}"`), LIMIT);
    expect(res.status).toBe(200);
  });

  const item = { role: "user", content: "hi" };
  it.each([
    ["too many input items", { input: Array.from({ length: INPUT_MAX_ITEMS + 1 }, () => item) }, "input"],
    [
      "17 metadata keys",
      { metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])) },
      "metadata",
    ],
    ["a 65-character metadata key", { metadata: { ["k".repeat(65)]: "v" } }, "metadata"],
    ["a 513-character metadata value", { metadata: { k: "v".repeat(513) } }, "metadata.k"],
    ["a metadata value that is not a string", { metadata: { k: 1 } }, "metadata.k"],
  ])("answers %s with a 400 naming it and writes nothing", async (_name, extra, param) => {
    const { key, tenantId } = await newTenantKey("limits");
    const m = model("text:1");
    const res = await post(key, JSON.stringify({ model: m, input: "x", ...extra }));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: "invalid_request_error", param });
    expect(await written(tenantId)).toBe(0);
    expect(await upstream.requests(m)).toEqual([]);
  });

  it.each([
    [
      "nested deeper than 64 levels",
      { junk: JSON.parse("[".repeat(65) + "]".repeat(65)) as unknown },
      /nested too deeply: at most 64 levels/,
    ],
    [
      "of more than 200,000 values",
      { junk: Array.from({ length: MAX_JSON_VALUES }, () => 0) },
      /too many values: at most 200,000/,
    ],
  ])("answers a body %s with a 400 before parsing it, and writes nothing", async (_name, extra, message) => {
    const { key, tenantId } = await newTenantKey("limits");
    const m = model("text:1");
    const res = await post(key, JSON.stringify({ model: m, input: "x", ...extra }));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: "invalid_request_error", param: null });
    expect(res.body.error.message).toMatch(message);
    expect(await written(tenantId)).toBe(0);
    expect(await upstream.requests(m)).toEqual([]);
  });

  it("accepts exactly 2,048 items and 16 metadata pairs at their longest", async () => {
    const { key } = await newTenantKey("limits");
    const metadata = Object.fromEntries(
      Array.from({ length: 16 }, (_, i) => [`${i}`.padEnd(64, "k"), "v".repeat(512)]),
    );
    const input = Array.from({ length: INPUT_MAX_ITEMS }, () => item);
    const res = await post(key, JSON.stringify({ model: model("text:1"), input, metadata }));
    expect(res.status).toBe(200);
  });

  it("counts metadata lengths in characters as OpenAI does: an emoji is one, not two UTF-16 code units", async () => {
    const { key } = await newTenantKey("limits");
    const emoji = "\u{1F600}";
    const metadata = { [emoji.repeat(64)]: emoji.repeat(512) };
    const res = await post(key, JSON.stringify({ model: model("text:1"), input: "x", metadata }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ metadata });

    const over = await post(
      key,
      JSON.stringify({ model: model("text:1"), input: "x", metadata: { k: emoji.repeat(513) } }),
    );
    expect(over.status).toBe(400);
    expect(over.body.error).toMatchObject({ param: "metadata.k", code: "string_above_max_length" });
    expect(over.body.error.message).toContain("but got a string with length 513 instead");
  });

  it("counts no items of a store:false create, which writes none (Codex resends its whole history each turn)", async () => {
    const { key } = await newTenantKey("limits");
    const m = model("text:1");
    const input = Array.from({ length: INPUT_MAX_ITEMS + 1 }, () => item);
    const res = await post(key, JSON.stringify({ model: m, input, store: false }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "completed", store: false });
    const background = await post(key, JSON.stringify({ model: m, input, store: false, background: true }));
    expect([background.status, background.body.error.param]).toEqual([400, "input"]);
  });

  it("answers a key over its rate limit with OpenAI's 429 and retry-after, before reading or writing anything", async () => {
    const { key, tenantId } = await newTenantKey("limited");
    // The strict test limiter allows 3 requests per key per minute (vitest.config.ts).
    const strict = { RATE_LIMITER: (env as unknown as Record<string, unknown>).STRICT_RATE_LIMITER };
    const m = model("text:1");
    const body = () => JSON.stringify({ model: m, input: "x" });
    let accepted = 0;
    let refused: Awaited<ReturnType<typeof post>> | undefined;
    // Windows follow the clock: crossing a minute boundary resets the count once at most.
    for (let i = 0; i < 7 && refused === undefined; i++) {
      const res = await post(key, body(), strict);
      if (res.status === 429) refused = res;
      else accepted += 1;
    }
    expect(accepted).toBeGreaterThanOrEqual(3);
    expect(accepted).toBeLessThanOrEqual(6);
    expect(refused?.body).toEqual({
      error: {
        message: expect.stringMatching(
          /^Rate limit reached for requests on this API key\. Please try again in \d+s\.$/,
        ) as unknown,
        type: "requests",
        param: null,
        code: "rate_limit_exceeded",
      },
    });
    const retryAfter = Number(refused?.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Only the accepted requests reached the upstream and the tables.
    expect(await upstream.requests(m)).toHaveLength(accepted);
    expect(await countAll("SELECT count(*) AS n FROM responses WHERE tenant_id = ?", tenantId)).toBe(accepted);
    // Another key is not held back by this one's limit.
    const other = await newTenantKey("unlimited");
    expect((await post(other.key, body(), strict)).status).toBe(200);
  });

  it("limits every /v1 route, reads included", async () => {
    const { key } = await newTenantKey("limited reads");
    const strict = { RATE_LIMITER: (env as unknown as Record<string, unknown>).STRICT_RATE_LIMITER };
    const statuses: number[] = [];
    for (let i = 0; i < 7 && !statuses.includes(429); i++) {
      const res = await managedFetch(
        `${GATEWAY_URL}/responses`,
        { headers: { authorization: `Bearer ${key}` } },
        strict,
      );
      statuses.push(res.status);
    }
    expect(statuses.at(-1)).toBe(429);
  });
});
