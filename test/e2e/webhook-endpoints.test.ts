// Managing webhook endpoints with the openai SDK's own methods (`client.webhooks.*`), tenant-scoped,
// and the targets the gateway refuses.

import { BadRequestError, NotFoundError } from "openai";
import type OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { client, gatewayFetch, GATEWAY_URL } from "../support/gateway";
import { hookUrl, received } from "../support/hooks";

const tenantKey = () => `sk-test-endpoints-${crypto.randomUUID()}`;

type EventTypes = OpenAI.Webhooks.WebhookCreateParams["event_types"];

describe("webhook endpoints", () => {
  it("creates, reads, updates, rotates, lists and deletes an endpoint; the secret is shown only when minted", async () => {
    const openai = client(tenantKey());
    const url = "https://hooks.example.com/openai";
    const created = await openai.webhooks.create({ url, name: "production", event_types: ["response.completed"] });
    expect(created).toMatchObject({
      object: "webhook_endpoint",
      name: "production",
      url,
      event_types: ["response.completed"],
    });
    expect(created.id).toMatch(/^whe_[0-9a-f]{48}$/);
    expect(created.signing_secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(created.signing_secret_hint).toBe(`whsec_…${created.signing_secret.slice(-4)}`);
    expect(created.updated_at).toBe(created.created_at);

    const read = await openai.webhooks.retrieve(created.id);
    expect(read).not.toHaveProperty("signing_secret");
    const { signing_secret: _secret, ...withoutSecret } = created;
    expect(read).toEqual(withoutSecret);

    const updated = await openai.webhooks.update(created.id, {
      name: "renamed",
      event_types: ["response.failed", "response.cancelled"],
    });
    expect(updated).toMatchObject({ name: "renamed", url, event_types: ["response.failed", "response.cancelled"] });
    expect(updated).not.toHaveProperty("signing_secret");
    expect(await openai.webhooks.update(created.id, {})).toEqual(updated);

    const rotated = await openai.webhooks.rotateSecret(created.id);
    expect(rotated.signing_secret).not.toBe(created.signing_secret);
    expect(rotated.signing_secret_hint).toBe(`whsec_…${rotated.signing_secret.slice(-4)}`);
    await expect(
      openai.webhooks.rotateSecret(created.id, { keep_old_secret_active_for_24_hours: true }),
    ).rejects.toMatchObject({ status: 400, param: "keep_old_secret_active_for_24_hours" });

    const second = await openai.webhooks.create({
      url: "https://other.example.com/x",
      name: "b",
      event_types: ["response.incomplete"],
    });
    const listed: string[] = [];
    for await (const endpoint of openai.webhooks.list({ limit: 1 })) listed.push(endpoint.id);
    expect(listed).toEqual([second.id, created.id]);

    expect(await openai.webhooks.delete(created.id)).toEqual({
      id: created.id,
      object: "webhook_endpoint.deleted",
      deleted: true,
    });
    await expect(openai.webhooks.retrieve(created.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(openai.webhooks.delete(created.id)).rejects.toBeInstanceOf(NotFoundError);
    expect((await openai.webhooks.eventTypes.list()).data).toEqual([
      "response.completed",
      "response.failed",
      "response.cancelled",
      "response.incomplete",
    ]);
  });

  it("keeps each key's endpoints to itself", async () => {
    const mine = client(tenantKey());
    const theirs = client(tenantKey());
    const endpoint = await mine.webhooks.create({
      url: "https://hooks.example.com/a",
      name: "a",
      event_types: ["response.completed"],
    });
    await expect(theirs.webhooks.retrieve(endpoint.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(theirs.webhooks.update(endpoint.id, { name: "x" })).rejects.toBeInstanceOf(NotFoundError);
    await expect(theirs.webhooks.rotateSecret(endpoint.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(theirs.webhooks.delete(endpoint.id)).rejects.toBeInstanceOf(NotFoundError);
    expect((await theirs.webhooks.list()).data).toEqual([]);
    expect((await mine.webhooks.list()).data.map((e) => e.id)).toEqual([endpoint.id]);
    const anonymous = await gatewayFetch(`${GATEWAY_URL}/webhook_endpoints`);
    expect(anonymous.status).toBe(401);
  });

  it.each([
    ["http to a public host", "http://hooks.example.com/x", "must use https"],
    ["a private IPv4 address", "https://10.0.0.7/x", "'10.0.0.7' is a private address"],
    ["a private 192.168 address", "https://192.168.0.10/x", "private address"],
    ["the metadata address", "http://169.254.169.254/latest", "link-local"],
    ["a unique-local IPv6 address", "https://[fd00::1]/x", "unique local"],
    ["an IPv4-mapped private address", "https://[::ffff:172.16.0.1]/x", "private address"],
    ["an internal name", "https://db.internal/x", "private network"],
    ["a malformed URL", "hooks example com", "not a valid absolute URL"],
    ["another scheme", "ftp://hooks.example.com/x", "must use https"],
    ["credentials in the URL", "https://user:secret@hooks.example.com/x", "credentials"],
    ["a 6to4 address embedding the metadata address", "https://[2002:a9fe:a9fe::1]/x", "a 6to4 address"],
    ["a 6to4 address embedding a public address", "https://[2002:5db8:d822::1]/x", "a 6to4 address"],
    ["a Teredo address", "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x", "a Teredo address"],
    ["a local-use NAT64 address", "https://[64:ff9b:1::a9fe:a9fe]/x", "a local-use NAT64 address"],
    ["a NAT64 address embedding a private address", "https://[64:ff9b::10.0.0.1]/x", "private address"],
    ["a NAT64 address embedding the metadata address", "https://[64:ff9b::a9fe:a9fe]/x", "link-local"],
    ["an IPv4-translated private address", "https://[::ffff:0:192.168.1.1]/x", "private address"],
    ["a port other than 443 or 8443", "https://hooks.example.com:6379/x", "port 6379"],
    ["the SSH port", "https://hooks.example.com:22/x", "port 22"],
  ])("refuses %s with a clear 400", async (_what, url, reason) => {
    const openai = client(tenantKey());
    const error = (await openai.webhooks
      .create({ url, name: "bad", event_types: ["response.completed"] })
      .catch((e: unknown) => e)) as BadRequestError;
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.error).toMatchObject({ type: "invalid_request_error", param: "url", code: "invalid_url" });
    expect(error.message).toContain(reason);
    expect((await openai.webhooks.list()).data).toEqual([]);
  });

  it.each(["https://hooks.example.com:443/x", "https://hooks.example.com:8443/x", "https://[2606:4700::6810:85e5]/x"])(
    "accepts %s",
    async (url) => {
      const openai = client(tenantKey());
      const endpoint = await openai.webhooks.create({ url, name: "ok", event_types: ["response.completed"] });
      expect(endpoint.url).toBe(new URL(url).href);
    },
  );

  it("refuses a bad URL on update too, and leaves the endpoint as it was", async () => {
    const openai = client(tenantKey());
    const endpoint = await openai.webhooks.create({
      url: "https://hooks.example.com/a",
      name: "a",
      event_types: ["response.completed"],
    });
    await expect(openai.webhooks.update(endpoint.id, { url: "http://hooks.example.com/a" })).rejects.toMatchObject({
      status: 400,
      param: "url",
    });
    expect((await openai.webhooks.retrieve(endpoint.id)).url).toBe("https://hooks.example.com/a");
  });

  it("accepts http to loopback only because WEBHOOK_ALLOW_LOOPBACK is true in tests", async () => {
    const openai = client(tenantKey());
    const endpoint = await openai.webhooks.create({
      url: hookUrl("ok"),
      name: "local",
      event_types: ["response.completed"],
    });
    expect(endpoint.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/__hooks\/ok\//);
  });

  it.each([
    ["no url", { name: "a", event_types: ["response.completed"] }, "url", "missing_required_parameter"],
    [
      "no name",
      { url: "https://h.example.com/", event_types: ["response.completed"] },
      "name",
      "missing_required_parameter",
    ],
    ["no event types", { url: "https://h.example.com/", name: "a" }, "event_types", "missing_required_parameter"],
    [
      "an empty event list",
      { url: "https://h.example.com/", name: "a", event_types: [] },
      "event_types",
      "empty_array",
    ],
    [
      "an event this gateway never sends",
      { url: "https://h.example.com/", name: "a", event_types: ["batch.completed"] },
      "event_types[0]",
      "invalid_value",
    ],
    ["a url of the wrong type", { url: 42, name: "a", event_types: ["response.completed"] }, "url", "invalid_type"],
  ])("answers %s with OpenAI's 400", async (_what, body, param, code) => {
    const openai = client(tenantKey());
    const error = (await openai.webhooks
      .create(body as unknown as OpenAI.Webhooks.WebhookCreateParams)
      .catch((e: unknown) => e)) as BadRequestError;
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.error).toMatchObject({ type: "invalid_request_error", param, code });
  });

  it("counts a name's length in characters as metadata does: 256 emoji are accepted, 257 refused", async () => {
    const openai = client(tenantKey());
    const url = hookUrl("ok");
    const emoji = "\u{1F600}";
    const endpoint = await openai.webhooks.create({
      url,
      name: emoji.repeat(256),
      event_types: ["response.completed"],
    });
    expect(endpoint.name).toBe(emoji.repeat(256));
    const error = (await openai.webhooks
      .create({ url, name: emoji.repeat(257), event_types: ["response.completed"] })
      .catch((e: unknown) => e)) as BadRequestError;
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.error).toMatchObject({ param: "name", code: "string_above_max_length" });
    expect(error.message).toContain("but got a string with length 257 instead");
  });

  it("sends a signed sample event with client.webhooks.test() and answers the receiver's status; records no delivery", async () => {
    const openai = client(tenantKey());
    const url = hookUrl("ok");
    const endpoint = await openai.webhooks.create({ url, name: "t", event_types: ["response.completed"] });
    expect(await openai.webhooks.test(endpoint.id, { event_type: "response.failed" })).toEqual({
      object: "webhook_endpoint.test",
      webhook_endpoint_id: endpoint.id,
      event_type: "response.failed",
      status_code: 200,
      success: true,
    });
    const [hook] = await received(url);
    const event = await openai.webhooks.unwrap(hook!.body, hook!.headers, endpoint.signing_secret);
    expect(event).toMatchObject({ object: "event", type: "response.failed" });
    expect((event.data as { id: string }).id).toMatch(/^resp_/);
    expect((await openai.get<{ data: unknown[] }>("/webhook_deliveries")).data).toEqual([]);

    const failing = await openai.webhooks.create({
      url: hookUrl("status:503"),
      name: "f",
      event_types: ["response.completed"],
    });
    expect(await openai.webhooks.test(failing.id, { event_type: "response.completed" })).toMatchObject({
      status_code: 503,
      success: true,
    });
    await expect(openai.webhooks.test(endpoint.id, { event_type: "batch.completed" })).rejects.toMatchObject({
      status: 400,
      param: "event_type",
      code: "invalid_value",
    });
    await expect(
      client(tenantKey()).webhooks.test(endpoint.id, { event_type: "response.completed" }),
    ).rejects.toBeInstanceOf(NotFoundError);
    expect(await received(url)).toHaveLength(1);
  });

  it("holds the limit of 16 against concurrent creates", async () => {
    const openai = client(tenantKey());
    const types: EventTypes = ["response.completed"];
    const results = await Promise.allSettled(
      Array.from({ length: 24 }, (_, i) =>
        openai.webhooks.create({ url: `https://hooks.example.com/${i}`, name: `e${i}`, event_types: types }),
      ),
    );
    const refused = results.filter((result) => result.status === "rejected");
    for (const result of refused) expect(result.reason).toMatchObject({ status: 400, code: "limit_exceeded" });
    expect(results.length - refused.length).toBe(16);
    expect((await openai.webhooks.list({ limit: 100 })).data).toHaveLength(16);
  });

  it("allows 16 endpoints per key", async () => {
    const openai = client(tenantKey());
    const types: EventTypes = ["response.completed"];
    for (let i = 0; i < 16; i++)
      await openai.webhooks.create({ url: `https://hooks.example.com/${i}`, name: `e${i}`, event_types: types });
    await expect(
      openai.webhooks.create({ url: "https://hooks.example.com/17", name: "e16", event_types: types }),
    ).rejects.toMatchObject({ status: 400, code: "limit_exceeded" });
  });

  it("answers a malformed endpoint or delivery id like an unknown one (404, not an error)", async () => {
    const authorization = `Bearer ${tenantKey()}`;
    for (const path of ["/webhook_endpoints/whe_%E0%A4%A", "/webhook_deliveries/wh_%E0%A4%A"]) {
      const res = await gatewayFetch(`${GATEWAY_URL}${path}`, { headers: { authorization } });
      expect(res.status).toBe(404);
      expect((await res.json<{ error: unknown }>()).error).toMatchObject({ type: "invalid_request_error" });
    }
  });

  it("rotates a secret on a POST with no body at all, or an empty stream, as with the SDK's {}", async () => {
    const key = tenantKey();
    const created = await client(key).webhooks.create({
      url: "https://hooks.example.com/no-body",
      name: "no body",
      event_types: ["response.completed"],
    });
    const secrets = [created.signing_secret];
    const empty = () => new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
    for (const body of [undefined, empty()]) {
      const res = await gatewayFetch(`${GATEWAY_URL}/webhook_endpoints/${created.id}/rotate_secret`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}` },
        body,
      });
      const rotated = await res.json<{ signing_secret: string }>();
      expect({ status: res.status, fresh: !secrets.includes(rotated.signing_secret) }).toEqual({
        status: 200,
        fresh: true,
      });
      secrets.push(rotated.signing_secret);
    }
  });

  it("asks for the key before reading the body: a request without one is a 401 whatever it sends", async () => {
    const created = await client(tenantKey()).webhooks.create({
      url: hookUrl("auth-order"),
      name: "auth order",
      event_types: ["response.completed"],
    });
    for (const path of [
      `/webhook_endpoints/${created.id}`,
      `/webhook_endpoints/${created.id}/rotate_secret`,
      `/webhook_endpoints/${created.id}/test`,
      "/webhook_endpoints",
    ]) {
      const res = await gatewayFetch(`${GATEWAY_URL}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"url": 42, "event_type": 7, "keep_old_secret_active_for_24_hours": true',
      });
      expect({ path, status: res.status }).toEqual({ path, status: 401 });
    }
  });
});
