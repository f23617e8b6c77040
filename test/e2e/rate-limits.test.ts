// Rate limiting as a client sees it: by client address before any key is looked up (keys mode), a
// wrong key remembered, and what a failing limiter does to requests, in both auth modes.

import { env } from "cloudflare:workers";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { GATEWAY_URL, model } from "../support/gateway";
import { managedClient, managedFetch, newTenantKey, type EnvOverrides } from "../support/managed";
import { watchUnhandled } from "../support/uncaught";

/** The test limiter that allows 3 requests per key a minute (vitest.config.ts). */
const STRICT = (env as unknown as Record<string, unknown>).STRICT_RATE_LIMITER;

const hex = () => Math.floor(Math.random() * 0x10000).toString(16);
/** A client address of its own (a /64 of the documentation range), so no two tests share a count. */
const freshAddress = () => `2001:db8:${hex()}:${hex()}::1`;
/** A well-formed gateway key that was never issued. */
const inventedKey = () => `sk-gw-${crypto.randomUUID().replaceAll("-", "")}0123456789a`;

/** The D1 binding, counting the statements the gateway prepares on it. */
function countingD1(): { db: D1Database; prepared: () => number } {
  let prepared = 0;
  const db = new Proxy(env.DB, {
    get(target, property) {
      if (property === "prepare")
        return (sql: string) => {
          prepared += 1;
          return target.prepare(sql);
        };
      const value = Reflect.get(target, property) as unknown;
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { db, prepared: () => prepared };
}

/** GET /v1/responses as a client at `address` (none: no `cf-connecting-ip`, as in local tests). */
async function listFrom(key: string, address: string | null, overrides: EnvOverrides = {}) {
  const res = await managedFetch(
    `${GATEWAY_URL}/responses`,
    { headers: { authorization: `Bearer ${key}`, ...(address === null ? {} : { "cf-connecting-ip": address }) } },
    overrides,
  );
  return { status: res.status, headers: res.headers, body: await res.json<{ error?: Record<string, unknown> }>() };
}

describe("GET /health", () => {
  it("is counted against the client's address: past its limit, a 429 that queries no D1", async () => {
    const address = freshAddress();
    const d1 = countingD1();
    const overrides = { ADDRESS_RATE_LIMITER: STRICT, DB: d1.db };
    const statuses: number[] = [];
    // Windows follow the clock: crossing a minute boundary resets the count once at most.
    for (let i = 0; i < 8 && !statuses.includes(429); i++) {
      const res = await managedFetch(
        "http://gateway.test/health",
        { headers: { "cf-connecting-ip": address } },
        overrides,
      );
      await res.body?.cancel();
      statuses.push(res.status);
    }
    const refused = statuses.indexOf(429);
    expect(refused).toBeGreaterThanOrEqual(3);
    expect(refused).toBeLessThanOrEqual(6);
    expect(statuses.slice(0, refused)).toEqual(new Array(refused).fill(200));
    // One ping per check let through; none for the refused one.
    const prepared = d1.prepared();
    const res = await managedFetch(
      "http://gateway.test/health",
      { headers: { "cf-connecting-ip": address } },
      overrides,
    );
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).not.toBeNull();
    await res.body?.cancel();
    expect(d1.prepared()).toBe(prepared);
    // Another address is not held back.
    expect(
      (await managedFetch("http://gateway.test/health", { headers: { "cf-connecting-ip": freshAddress() } }, overrides))
        .status,
    ).toBe(200);
  });
});

describe("keys mode: invented keys", () => {
  it("refuses invented keys from one address with a 429 once it is over its limit, before looking them up", async () => {
    const address = freshAddress();
    const d1 = countingD1();
    const overrides = { ADDRESS_RATE_LIMITER: STRICT, DB: d1.db };
    const answers: Awaited<ReturnType<typeof listFrom>>[] = [];
    // Windows follow the clock: crossing a minute boundary resets the count once at most.
    for (let i = 0; i < 8 && !answers.some((answer) => answer.status === 429); i++)
      answers.push(await listFrom(inventedKey(), address, overrides));
    const refused = answers.findIndex((answer) => answer.status === 429);
    expect(refused).toBeGreaterThanOrEqual(3);
    expect(refused).toBeLessThanOrEqual(6);
    expect(answers.slice(0, refused).map((answer) => answer.status)).toEqual(new Array(refused).fill(401));
    expect(answers[refused]?.body).toEqual({
      error: {
        message: expect.stringMatching(
          /^Rate limit reached for requests from this address\. Please try again in \d+s\.$/,
        ) as unknown,
        type: "requests",
        param: null,
        code: "rate_limit_exceeded",
      },
    });
    const headers = answers[refused]?.headers;
    expect(Number(headers?.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // The address limiter's own limit (ADDRESS_RATE_LIMIT_REQUESTS, default 1200), not the per-key one's.
    expect(headers?.get("x-ratelimit-limit-requests")).toBe("1200");
    expect(headers?.get("ratelimit-policy")).toBe("1200;w=60");
    expect(headers?.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(headers?.get("x-ratelimit-reset-requests")).toBe(`${headers?.get("retry-after")}s`);
    // One lookup per key let through; none for the refused one.
    expect(d1.prepared()).toBe(refused);
    // Another address is not held back, and an issued key from it works.
    const { key } = await newTenantKey("address limits");
    expect((await listFrom(key, freshAddress(), { ADDRESS_RATE_LIMITER: STRICT })).status).toBe(200);
  });

  it("names the limit that refused: ADDRESS_RATE_LIMIT_REQUESTS, or RATE_LIMIT_REQUESTS when RATE_LIMITER counts addresses", async () => {
    const cases = [
      [{ ADDRESS_RATE_LIMITER: STRICT, ADDRESS_RATE_LIMIT_REQUESTS: 3 }, "3"],
      [{ ADDRESS_RATE_LIMITER: undefined, RATE_LIMITER: STRICT, RATE_LIMIT_REQUESTS: "3" }, "3"],
    ] as const;
    for (const [overrides, limit] of cases) {
      const address = freshAddress();
      let refused: Awaited<ReturnType<typeof listFrom>> | undefined;
      for (let i = 0; i < 8 && refused === undefined; i++) {
        const answer = await listFrom(inventedKey(), address, overrides);
        if (answer.status === 429) refused = answer;
      }
      expect(refused?.body.error?.message).toMatch(/from this address/);
      expect(refused?.headers.get("x-ratelimit-limit-requests")).toBe(limit);
      expect(refused?.headers.get("ratelimit-policy")).toBe(`${limit};w=60`);
      expect(refused?.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    }
  });

  it("looks a wrong key up once, then refuses it again without a lookup", async () => {
    const d1 = countingD1();
    const key = inventedKey();
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await listFrom(key, freshAddress(), { DB: d1.db }));
    expect(answers.map((answer) => answer.status)).toEqual([401, 401, 401, 401]);
    for (const answer of answers) expect(answer.body).toEqual(answers[0]?.body);
    expect(answers[0]?.body.error).toMatchObject({ type: "invalid_request_error", code: "invalid_api_key" });
    expect(d1.prepared()).toBe(1);
  });
});

const watch = watchUnhandled();
afterEach(() => watch.expectNone());
afterAll(() => watch.stop());

/** A limiter binding that errs on every call, as the real one may in an outage. */
const BROKEN_LIMITER = {
  limit: () => Promise.reject(new Error("rate limiter unavailable")),
};

describe("pass-through mode: rotating keys", () => {
  const PASSTHROUGH = { AUTH_MODE: "passthrough", ADDRESS_RATE_LIMITER: STRICT };
  const invented = () => `sk-invented-${crypto.randomUUID()}`;

  it("counts every key from one address together: new keys do not reset the count", async () => {
    const address = freshAddress();
    const statuses: number[] = [];
    for (let i = 0; i < 8 && !statuses.includes(429); i++)
      statuses.push((await listFrom(invented(), address, PASSTHROUGH)).status);
    const refused = statuses.indexOf(429);
    expect(refused).toBeGreaterThanOrEqual(3);
    expect(refused).toBeLessThanOrEqual(6);
    expect((await listFrom(invented(), freshAddress(), PASSTHROUGH)).status).toBe(200);
  });

  it("counts an IPv6 client by its /64: other addresses inside it share the count", async () => {
    const prefix = `2001:db8:${hex()}:${hex()}`;
    const statuses: number[] = [];
    for (let i = 0; i < 8 && !statuses.includes(429); i++)
      statuses.push((await listFrom(invented(), `${prefix}::${hex()}:${hex()}`, PASSTHROUGH)).status);
    expect(statuses.at(-1)).toBe(429);
  });

  it("counts a request without cf-connecting-ip (service binding, local tests) by its key only", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await listFrom(invented(), null, PASSTHROUGH)).status);
    expect(statuses).toEqual(new Array(8).fill(200));
  });
});

describe("a failing rate limiter", () => {
  it.each([
    ["keys mode", "keys"],
    ["pass-through mode", "passthrough"],
  ])("lets /v1 requests through with a log line (%s)", async (_name, mode) => {
    const key = mode === "keys" ? (await newTenantKey("limiter down")).key : `sk-test-limiter-${crypto.randomUUID()}`;
    const openai = managedClient(key, { AUTH_MODE: mode, RATE_LIMITER: BROKEN_LIMITER });
    const created = await openai.responses.create({ model: model("text:2"), input: "x" });
    expect(created.status).toBe("completed");
    expect((await openai.responses.retrieve(created.id)).id).toBe(created.id);
    const logged = watch.logged();
    expect(logged.length).toBeGreaterThan(0);
    for (const line of logged)
      expect(line).toMatch(
        /^\{"event":"failure","msg":"the rate limiter failed; letting the request through: .*rate limiter unavailable/,
      );
    watch.expectNone([/"msg":"the rate limiter failed; letting the request through/]);
  });
});

describe("the limits the headers name (RATE_LIMIT_REQUESTS, ADDRESS_RATE_LIMIT_REQUESTS)", () => {
  it("takes a number unquoted in [vars] as well as a string", async () => {
    const { key } = await newTenantKey("limit settings");
    for (const value of [250, "250"]) {
      const answer = await listFrom(key, null, { RATE_LIMIT_REQUESTS: value });
      expect(answer.status).toBe(200);
      expect(answer.headers.get("x-ratelimit-limit-requests")).toBe("250");
      expect(answer.headers.get("ratelimit-policy")).toBe("250;w=60");
    }
  });

  it.each([
    ["RATE_LIMIT_REQUESTS", "abc"],
    ["RATE_LIMIT_REQUESTS", "0"],
    ["ADDRESS_RATE_LIMIT_REQUESTS", "1,200"],
  ])("refuses /v1 requests while %s=%j, naming it, as any wrong setting", async (setting, value) => {
    const { key } = await newTenantKey("limit settings");
    const answer = await listFrom(key, freshAddress(), { [setting]: value });
    expect(answer.status).toBe(500);
    expect(answer.headers.get("x-should-retry")).toBe("false");
    expect(answer.body.error).toEqual({
      message: `The gateway is misconfigured: ${setting} is '${value}'; allowed: an integer from 1 to 1000000000 (requests a period). Its operator must correct this.`,
      type: "server_error",
      param: null,
      code: "gateway_misconfigured",
    });
    watch.expectNone([new RegExp(`${setting} is '${value}'`)]);
  });
});
