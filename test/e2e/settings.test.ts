// A wrong setting fails fast: every request it affects answers a 500 that names the setting, its
// value and what is allowed (a secret only by its length), the SDK does not retry it, nothing is
// stored or sent upstream, history stays readable when only the upstream is misconfigured, and the
// problem is logged once.

import OpenAI, { APIError } from "openai";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GATEWAY_URL, model, upstream } from "../support/gateway";
import { managedClient, managedFetch, newTenantKey, type EnvOverrides } from "../support/managed";
import { rowCounts } from "../support/tables";

/** An SDK client with its default retries, counting what it sends. */
function countingClient(key: string, overrides: EnvOverrides) {
  let sent = 0;
  const client = new OpenAI({
    apiKey: key,
    baseURL: GATEWAY_URL,
    fetch: (input, init) => {
      sent++;
      return managedFetch(input, init, overrides);
    },
  });
  return { client, sent: () => sent };
}

async function refusal(promise: Promise<unknown>): Promise<APIError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof APIError) return error;
    throw error;
  }
  throw new Error("expected the request to be refused");
}

afterEach(() => vi.restoreAllMocks());

describe("a wrong setting", () => {
  it("UPSTREAM_PROTOCOL=chat refuses creates, naming it; the SDK does not retry; nothing is stored or sent", async () => {
    const { key } = await newTenantKey("settings");
    const m = model("text:1");
    const before = await rowCounts(["responses", "response_items", "idempotency_keys"]);
    const { client, sent } = countingClient(key, { UPSTREAM_PROTOCOL: "chat" });
    const error = await refusal(client.responses.create({ model: m, input: "hi" }));
    expect(error.status).toBe(500);
    expect(error.headers?.get("x-should-retry")).toBe("false");
    expect(error.error).toEqual({
      message:
        "The gateway is misconfigured: UPSTREAM_PROTOCOL is 'chat'; allowed: 'responses' or 'chat_completions'. Its operator must correct this.",
      type: "server_error",
      param: null,
      code: "gateway_misconfigured",
    });
    expect(sent()).toBe(1);
    expect(await upstream.requests(m)).toEqual([]);
    expect(await rowCounts(["responses", "response_items", "idempotency_keys"])).toEqual(before);
  });

  it("leaves stored history readable while only an upstream setting is wrong", async () => {
    const { key } = await newTenantKey("settings");
    const made = await managedClient(key).responses.create({ model: model("text:2"), input: "kept" });
    const broken = managedClient(key, { UPSTREAM_BASE_URL: "127.0.0.1:8790/v1" });
    expect((await broken.responses.retrieve(made.id)).output_text).toBe(made.output_text);
    expect((await broken.responses.inputItems.list(made.id)).data).toHaveLength(1);
    const error = await refusal(broken.responses.create({ model: model("text:1"), input: "x" }));
    expect(error.message).toContain(
      "UPSTREAM_BASE_URL is '127.0.0.1:8790' (it has no scheme); allowed: an absolute http:// or https:// URL",
    );
  });

  it("AUTH_MODE=key refuses every /v1 and /admin request; /health names it, the console still answers", async () => {
    const root = GATEWAY_URL.replace(/\/v1$/, "");
    const admin = await managedFetch(
      `${root}/admin/tenants`,
      { headers: { authorization: "Bearer x" } },
      {
        AUTH_MODE: "key",
      },
    );
    expect(admin.status).toBe(500);
    expect(await admin.text()).toContain("AUTH_MODE is 'key'");
    const health = await managedFetch(`${root}/health`, {}, { AUTH_MODE: "key" });
    expect([health.status, await health.json()]).toMatchObject([
      503,
      { status: "error", checks: { d1: { status: "ok" }, config: { status: "error", settings: ["AUTH_MODE"] } } },
    ]);
    expect((await managedFetch(`${root}/console/`, {}, { AUTH_MODE: "key" })).status).toBe(200);
  });

  it("AUTH_MODE=key refuses every request, before the key is even looked at", async () => {
    for (const authorization of ["Bearer sk-gw-anything", undefined]) {
      const res = await managedFetch(
        `${GATEWAY_URL}/responses`,
        { headers: authorization === undefined ? {} : { authorization } },
        { AUTH_MODE: "key" },
      );
      expect(res.status).toBe(500);
      expect(res.headers.get("x-should-retry")).toBe("false");
      expect(await res.json()).toEqual({
        error: {
          message:
            "The gateway is misconfigured: AUTH_MODE is 'key'; allowed: 'passthrough' or 'keys'. Its operator must correct this.",
          type: "server_error",
          param: null,
          code: "gateway_misconfigured",
        },
      });
    }
  });

  it("a short ADMIN_TOKEN closes the admin API, naming it by its length only; /v1 keeps working", async () => {
    const { key } = await newTenantKey("settings");
    const overrides = { ADMIN_TOKEN: "letmein" };
    const res = await managedFetch(
      `${GATEWAY_URL.replace(/\/v1$/, "")}/admin/tenants`,
      { headers: { authorization: "Bearer letmein" } },
      overrides,
    );
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).toContain(
      "ADMIN_TOKEN is (secret, 7 characters); allowed: at least 16 characters, without spaces or control characters.",
    );
    expect(text).not.toContain("letmein");
    const list = await managedFetch(
      `${GATEWAY_URL}/responses`,
      { headers: { authorization: `Bearer ${key}` } },
      overrides,
    );
    expect(list.status).toBe(200);
  });

  it("names a URL setting by its host only, to any caller and in its log line: a webhook URL's path may hold a token", async () => {
    const logged = vi.spyOn(console, "error");
    const webhook = `http://hooks.example.com/services/T0KEN-${crypto.randomUUID()}`;
    const res = await managedFetch(
      `${GATEWAY_URL}/responses`,
      {
        method: "POST",
        headers: { authorization: "Bearer sk-anyone", "content-type": "application/json" },
        body: JSON.stringify({ model: model("text:1"), input: "x" }),
      },
      { AUTH_MODE: "passthrough", WEBHOOK_URL: webhook },
    );
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).toContain("WEBHOOK_URL is 'hooks.example.com' (webhook URLs must use https");
    const lines = logged.mock.calls.filter((args) => JSON.stringify(args).includes("hooks.example.com"));
    expect(lines).toEqual([[expect.objectContaining({ event: "config_problem", setting: "WEBHOOK_URL" })]]);
    expect(JSON.stringify([text, logged.mock.calls])).not.toContain("T0KEN");
  });

  it("is logged once per isolate, however many requests it refuses", async () => {
    const logged = vi.spyOn(console, "error");
    const { key } = await newTenantKey("settings");
    const value = `chat-${crypto.randomUUID()}`;
    for (let i = 0; i < 3; i++)
      await refusal(managedClient(key, { UPSTREAM_PROTOCOL: value }).responses.create({ model: "m", input: "x" }));
    const lines = logged.mock.calls.filter((args) => JSON.stringify(args).includes(value));
    // One object, as every line (docs/observability.md).
    expect(lines).toEqual([
      [
        {
          event: "config_problem",
          msg: `gateway misconfigured (upstream calls refused): UPSTREAM_PROTOCOL is '${value}'; allowed: 'responses' or 'chat_completions'.`,
          setting: "UPSTREAM_PROTOCOL",
          scope: "upstream calls",
        },
      ],
    ]);
  });
});
