// Pass-through mode: nothing is written for a key until the upstream has accepted it. A key the
// upstream refuses gets the upstream's 401 and leaves no row anywhere; an accepted key is checked
// once and then remembered for a while; a check the upstream cannot answer writes nothing and can
// be retried. (The mock upstream refuses keys containing `refused`, and those it was told to revoke.)

import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import OpenAI, { APIError, AuthenticationError } from "openai";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { client, gatewayFetch, GATEWAY_URL, heldBackground, model, upstream } from "../support/gateway";
import { managedClient, newTenantKey, UPSTREAM_KEY } from "../support/managed";
import { routed } from "../support/chat";
import { until } from "../support/hooks";
import { rowCounts } from "../support/tables";

const message = { role: "user" as const, content: "hello" };
const endpointParams = {
  url: "https://hooks.example.com/acceptance",
  name: "a",
  event_types: ["response.completed" as const],
};

/** What a call that must fail threw, to inspect it. */
const failure = (call: () => Promise<unknown>): Promise<APIError> =>
  call().then(
    () => {
      throw new Error("expected the call to fail");
    },
    (error: unknown) => error as APIError,
  );

afterEach(() => {
  vi.useRealTimers();
});

describe("pass-through mode: writes for a key the upstream has not accepted", () => {
  it("refuses a key the upstream refuses with its 401, on the routes that create, and writes nothing", async () => {
    const openai = client(`sk-refused-${crypto.randomUUID()}`);
    const before = await rowCounts();
    for (const attempt of [
      () => openai.conversations.create({ items: [message], metadata: { a: "b" } }),
      () => openai.webhooks.create(endpointParams),
    ]) {
      const error = await failure(attempt);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect(error.error).toMatchObject({ message: "mock upstream error 401", code: "mock_401" });
    }
    expect(await rowCounts()).toEqual(before);
  });

  it("refuses a key the upstream refuses on a compaction sent with a route's own key, and counts nothing", async () => {
    // The route's key is accepted, so the summary call says nothing of the caller's: it is asked first.
    const openai = client(`sk-refused-${crypto.randomUUID()}`);
    const before = await rowCounts();
    for (const route of ["alt/", "alt-responses/"] as const) {
      const error = await failure(() =>
        openai.responses.compact({ model: routed("summarize", route).model, input: [message] }),
      );
      expect(error).toBeInstanceOf(AuthenticationError);
    }
    expect(await rowCounts()).toEqual(before);
  });

  it("checks a new key once with the upstream, then remembers it", async () => {
    const key = `sk-test-accepted-${crypto.randomUUID()}`;
    const openai = client(key);
    const conversation = await openai.conversations.create({ items: [message] });
    await openai.conversations.items.create(conversation.id, { items: [message] });
    await openai.conversations.update(conversation.id, { metadata: { step: "2" } });
    await openai.webhooks.create(endpointParams);
    expect(await upstream.keyChecks(key)).toBe(1);
  });

  it("stops writing for a key the upstream has since revoked, once the gateway's memory of it lapses", async () => {
    const key = `sk-test-revoked-${crypto.randomUUID()}`;
    const openai = client(key);
    const conversation = await openai.conversations.create({ items: [message], metadata: { step: "1" } });
    const [item] = (await openai.conversations.items.list(conversation.id)).data;
    const endpoint = await openai.webhooks.create(endpointParams);
    await upstream.revoke(key);
    // Stands in for the memory's few minutes passing.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 60 * 60_000);
    const before = await rowCounts();
    for (const attempt of [
      () => openai.conversations.update(conversation.id, { metadata: { step: "2" } }),
      () => openai.conversations.items.create(conversation.id, { items: [message] }),
      () => openai.conversations.items.delete(item?.id ?? "", { conversation_id: conversation.id }),
      () => openai.conversations.delete(conversation.id),
      () => openai.webhooks.create(endpointParams),
      () => openai.webhooks.update(endpoint.id, { name: "renamed" }),
      () => openai.webhooks.rotateSecret(endpoint.id),
      () => openai.webhooks.delete(endpoint.id),
      // Writes nothing, but sends a request signed with the endpoint's secret.
      () => openai.webhooks.test(endpoint.id, { event_type: "response.completed" }),
    ])
      expect(await failure(attempt)).toBeInstanceOf(AuthenticationError);
    expect(await rowCounts()).toEqual(before);
    // Reads write nothing: they still answer, and show nothing changed.
    expect((await openai.conversations.retrieve(conversation.id)).metadata).toEqual({ step: "1" });
    expect((await openai.conversations.items.list(conversation.id)).data).toHaveLength(1);
    expect((await openai.webhooks.retrieve(endpoint.id)).name).toBe("a");
    expect(await upstream.keyChecks(key)).toBe(10);
  });

  it("does not let a key the upstream has since revoked delete a response or cancel a running one", async () => {
    const key = `sk-test-revoked-runs-${crypto.randomUUID()}`;
    const openai = client(key);
    const stored = await openai.responses.create({ model: model("text:1"), input: "x" });
    const running = await heldBackground(openai);
    await upstream.revoke(key);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 60 * 60_000);
    expect(await failure(() => openai.responses.delete(stored.id))).toBeInstanceOf(AuthenticationError);
    expect(await failure(() => openai.responses.cancel(running.id))).toBeInstanceOf(AuthenticationError);
    vi.useRealTimers();
    expect((await openai.responses.retrieve(stored.id)).status).toBe("completed");
    expect((await openai.responses.retrieve(running.id)).status).toBe("in_progress");
    // Let the run end, and its webhook (the deployment default's, delivered once) settle, before the
    // next test counts rows.
    await upstream.release(running.model);
    await until(
      () => openai.get<{ data: { status: string }[] }>(`/responses/${running.id}/webhook_deliveries`),
      (list) => list.data.length === 1 && list.data[0]?.status === "delivered",
      "the run's webhook to be delivered",
    );
  });

  it("writes nothing while the upstream cannot confirm a key (its check fails), with a retryable 503", async () => {
    const key = `sk-models-503-${crypto.randomUUID()}`;
    const before = await rowCounts();
    const error = await failure(() => client(key).conversations.create({ items: [message] }));
    expect(error.status).toBe(503);
    expect(error.error).toEqual({
      message:
        "The upstream model server could not confirm this API key just now (it answered 503), so nothing was written. Please try again.",
      type: "server_error",
      param: null,
      code: "key_unverified",
    });
    expect(await rowCounts()).toEqual(before);
  });

  it("writes nothing for a server without /models or /responses, with a 502 naming UPSTREAM_PROTOCOL that the SDK does not retry", async () => {
    const key = `sk-models-chatonly-${crypto.randomUUID()}`;
    const before = await rowCounts();
    // The SDK's own retries on: it makes none.
    const openai = new OpenAI({ apiKey: key, baseURL: GATEWAY_URL, fetch: gatewayFetch, maxRetries: 2 });
    const error = await failure(() => openai.conversations.create({ items: [message] }));
    expect(error.status).toBe(502);
    expect(error.headers?.get("x-should-retry")).toBe("false");
    expect(error.error).toEqual({
      message:
        "The upstream model server cannot confirm this API key (it serves neither /models nor /responses (HTTP 404 to both): if it speaks Chat Completions, the gateway's operator must set UPSTREAM_PROTOCOL=chat_completions; else UPSTREAM_BASE_URL is not its API's base URL), so nothing was written. Retrying will not help.",
      type: "server_error",
      param: null,
      code: "key_unverified",
    });
    expect(await rowCounts()).toEqual(before);
    // One check: the SDK did not retry it.
    expect(await upstream.keyChecks(key)).toBe(1);
  });

  it.each([
    ["has no /models (404)", "404"],
    ["does not let the key list models (403)", "403"],
  ])(
    "asks the create endpoint when the upstream %s: a body it must refuse tells an accepted key from a refused one",
    async (_name, status) => {
      const accepted = client(`sk-models-${status}-${crypto.randomUUID()}`);
      expect((await accepted.conversations.create({ items: [message] })).object).toBe("conversation");
      const refused = client(`sk-models-${status}-refused-${crypto.randomUUID()}`);
      const before = await rowCounts();
      expect(await failure(() => refused.conversations.create({ items: [message] }))).toBeInstanceOf(
        AuthenticationError,
      );
      expect(await rowCounts()).toEqual(before);
    },
  );

  it("asks nothing in keys mode: the gateway issued the key", async () => {
    const { key } = await newTenantKey("acceptance");
    const checks = await upstream.keyChecks(UPSTREAM_KEY);
    await managedClient(key).conversations.create({ items: [message] });
    expect(await upstream.keyChecks(UPSTREAM_KEY)).toBe(checks);
  });

  // The create path: its own upstream call (made before anything is written for an unknown key) is
  // the check, and a background create asks first.
  it("writes nothing for a create whose key the upstream refuses, not even a failed response", async () => {
    const openai = client(`sk-refused-${crypto.randomUUID()}`);
    const before = await rowCounts();
    const m = model("text:2");
    for (const attempt of [
      () => openai.responses.create({ model: m, input: "x" }),
      () => openai.responses.create({ model: m, input: "x" }, { headers: { "idempotency-key": crypto.randomUUID() } }),
      () => openai.responses.create({ model: m, input: "x", stream: true }),
      () => openai.responses.create({ model: m, input: "x", background: true }),
    ])
      expect(await failure(attempt)).toBeInstanceOf(AuthenticationError);
    expect(await rowCounts()).toEqual(before);
  });

  // OpenAI answers a wrong key 401 whatever it asks for; here its tenant (the key's hash) has no
  // history, and a "not found" would send its user looking for the id instead of fixing the key.
  it("answers a refused key's lookups that find nothing with the upstream's 401, as a conversation turn's", async () => {
    const owner = client(`sk-test-owner-${crypto.randomUUID()}`);
    const m = model("text:2");
    const first = await owner.responses.create({ model: m, input: "x" });
    const conversation = await owner.conversations.create({ items: [message] });
    const [item] = first.output;
    const openai = client(`sk-refused-${crypto.randomUUID()}`);
    const before = await rowCounts();
    for (const attempt of [
      () => openai.responses.create({ model: m, input: "y", previous_response_id: first.id }),
      () => openai.responses.create({ model: m, input: "y", previous_response_id: first.id, stream: true }),
      () => openai.responses.create({ model: m, input: "y", previous_response_id: first.id, store: false }),
      () => openai.responses.create({ model: m, input: [{ type: "item_reference", id: item?.id ?? "" }] }),
      () => openai.responses.create({ model: m, input: "y", conversation: conversation.id }),
      () => openai.responses.inputTokens.count({ model: m, input: "y", previous_response_id: first.id }),
      () => openai.responses.retrieve(first.id),
      () => openai.conversations.retrieve(conversation.id),
    ]) {
      const error = await failure(attempt);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect(error.error).toMatchObject({ code: "mock_401" });
    }
    expect(await rowCounts()).toEqual(before);
  });

  it("answers a refused key's repeated lookups with its 401, asking the upstream once a minute", async () => {
    const key = `sk-refused-${crypto.randomUUID()}`;
    const openai = client(key);
    for (const missing of ["resp_0123456789abcdef0123456789abcdef", "resp_fedcba9876543210fedcba9876543210"])
      for (let attempt = 0; attempt < 2; attempt++)
        expect(await failure(() => openai.responses.retrieve(missing))).toBeInstanceOf(AuthenticationError);
    expect(await upstream.keyChecks(key)).toBe(1);
  });

  it("refuses the operator's admin token as a /v1 key, never sending it upstream", async () => {
    const token = `adm-passthrough-${crypto.randomUUID()}`;
    const withAdminToken = { ...env, ADMIN_TOKEN: token } as unknown as Env;
    const openai = new OpenAI({
      apiKey: token,
      baseURL: GATEWAY_URL,
      maxRetries: 0,
      fetch: (input, init) => worker.fetch(new Request(input, init), withAdminToken, createExecutionContext()),
    });
    const m = model("text:2");
    for (const attempt of [
      () => openai.responses.create({ model: m, input: "x" }),
      () => openai.conversations.create({ items: [message] }),
      () => openai.responses.retrieve("resp_0123456789abcdef0123456789abcdef"),
    ])
      expect(await failure(attempt)).toBeInstanceOf(AuthenticationError);
    expect(await upstream.requests(m)).toEqual([]);
    expect(await upstream.keyChecks(token)).toBe(0);
  });

  it("answers an accepted key's lookup that finds nothing with its not found, asking the upstream once", async () => {
    const key = `sk-test-lost-${crypto.randomUUID()}`;
    const openai = client(key);
    const m = model("text:2");
    const missing = "resp_0123456789abcdef0123456789abcdef";
    const error = await failure(() => openai.responses.create({ model: m, input: "y", previous_response_id: missing }));
    expect(error.status).toBe(400);
    expect(error.error).toMatchObject({ code: "previous_response_not_found" });
    expect((await failure(() => openai.responses.retrieve(missing))).status).toBe(404);
    expect(await upstream.keyChecks(key)).toBe(1);
  });

  it("takes a create's 2xx as the key's acceptance: later writes ask the upstream nothing", async () => {
    const key = `sk-test-created-${crypto.randomUUID()}`;
    const openai = client(key);
    expect((await openai.responses.create({ model: model("text:2"), input: "x" })).status).toBe("completed");
    await openai.conversations.create({ items: [message] });
    expect(await upstream.keyChecks(key)).toBe(0);
  });
});
