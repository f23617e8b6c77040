// No secret ever leaves: across every route, error and upstream failure, in both auth modes, no
// response body or header, console line, D1 row or Durable Object row holds a gateway key, an
// upstream key or the admin token (nor any 12-character run of one). The only place a gateway key
// appears is the admin answer that creates it.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { gatewayFetch, GATEWAY_URL, model, upstream } from "../support/gateway";
import { hookUrl, until } from "../support/hooks";
import { admin, ADMIN_TOKEN, managedFetch, newTenantKey, UPSTREAM_KEY } from "../support/managed";
import { everyD1, firstRow } from "../support/shards";

const captured: string[] = [];
/** A console argument as the scan reads it: the gateway's lines are objects, read as their JSON. */
const text = (arg: unknown): string => (typeof arg === "string" ? arg : JSON.stringify(arg));
/** Bodies still being read into `captured`. */
const reading: Promise<void>[] = [];
const spies: { mockRestore(): void }[] = [];

beforeAll(() => {
  for (const level of ["log", "info", "warn", "error", "debug"] as const)
    spies.push(
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void captured.push(args.map(text).join(" "))),
    );
});
afterAll(() => {
  for (const spy of spies) spy.mockRestore();
});

/** Wraps a fetch so every status, header and body the client sees is kept for the scan. */
function capturing(fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>) {
  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const response = await fetch(input, init);
    const [mine, theirs] = response.body === null ? [null, null] : response.body.tee();
    const headers = [...response.headers].map(([name, value]) => `${name}: ${value}`).join("\n");
    if (mine === null) captured.push(`${response.status}\n${headers}`);
    else
      reading.push(
        new Response(mine).text().then((body) => void captured.push(`${response.status}\n${headers}\n${body}`)),
      );
    return new Response(theirs, response);
  };
}

/** Every 12-character run of a secret (after a fixed prefix such as `sk-gw-`). */
function fragments(secret: string, from: number): string[] {
  const out: string[] = [];
  for (let i = from; i + 12 <= secret.length; i++) out.push(secret.slice(i, i + 12));
  return out;
}

function expectNoSecrets(texts: string[], secrets: [string, number][]) {
  const all = texts.join("\n\u0000\n");
  for (const [secret, from] of secrets) {
    expect(all.includes(secret), `a whole secret leaked`).toBe(false);
    for (const fragment of fragments(secret, from)) expect(all.includes(fragment), `fragment ${fragment}`).toBe(false);
  }
}

async function allD1Rows(): Promise<string[]> {
  const rows: string[] = [];
  for (const db of everyD1()) {
    const tables = await db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%'",
      )
      .all<{ name: string }>();
    for (const { name } of tables.results)
      rows.push(JSON.stringify((await db.prepare(`SELECT * FROM "${name}"`).all()).results));
  }
  return rows;
}

async function durableObjectRows(ids: string[]): Promise<string[]> {
  const rows: string[] = [];
  for (const id of ids)
    await runInDurableObject(env.RESPONSE_RUN.getByName(id), (_instance, state) => {
      const tables = state.storage.sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%'")
        .toArray();
      for (const { name } of tables)
        rows.push(JSON.stringify(state.storage.sql.exec(`SELECT * FROM "${name}"`).toArray()));
    });
  return rows;
}

/** Drives every route, the errors and upstream failures a client can meet; returns the response ids and a webhook secret. */
async function exercise(
  openai: OpenAI,
  fetch: ReturnType<typeof capturing>,
  key: string,
): Promise<{ ids: string[]; webhookSecret: string }> {
  const ids: string[] = [];
  const created = await openai.responses.create({ model: model("text:3"), input: "hello", metadata: { a: "b" } });
  ids.push(created.id);
  const streamed = await openai.responses.create({ model: model("text:4"), input: "stream", stream: true });
  for await (const event of streamed) if (event.type === "response.completed") ids.push(event.response.id);
  await openai.responses.create({ model: model("text:2"), input: "not stored", store: false });
  for await (const event of await openai.responses.create({
    model: model("text:2"),
    input: "x",
    store: false,
    stream: true,
  }))
    void event;
  const held = model("gate:4:8");
  const background = await openai.responses.create({ model: held, input: "bg", background: true });
  ids.push(background.id);
  await openai.responses.cancel(background.id);
  await upstream.release(held);
  const chained = await openai.responses.create({
    model: model("echo"),
    input: "again",
    previous_response_id: created.id,
  });
  ids.push(chained.id);
  const conversation = await openai.conversations.create({ items: [{ type: "message", role: "user", content: "c" }] });
  const turn = await openai.responses.create({ model: model("echo"), input: "turn", conversation: conversation.id });
  ids.push(turn.id);
  await openai.conversations.items.list(conversation.id);
  await openai.responses.create(
    { model: model("text:1"), input: "once" },
    { headers: { "idempotency-key": `secrets-${crypto.randomUUID()}` } },
  );
  await openai.responses.retrieve(created.id);
  for await (const event of await openai.responses.retrieve(created.id, { stream: true, starting_after: 1 }))
    void event;
  await openai.responses.inputItems.list(chained.id);
  await fetch(`${GATEWAY_URL}/responses?limit=5`, { headers: { authorization: `Bearer ${key}` } });
  await fetch(`${GATEWAY_URL}/usage?group_by=model,key`, { headers: { authorization: `Bearer ${key}` } });
  await openai.responses.delete(chained.id);
  // A webhook endpoint that answers 500: its failed attempt is logged (with the endpoint's host only).
  const endpoint = await openai.webhooks.create({
    url: hookUrl("status:500"),
    name: "fails",
    event_types: ["response.completed"],
  });
  const hooked = await openai.responses.create({ model: model("text:1"), input: "hook", background: true });
  ids.push(hooked.id);
  await until(
    () => Promise.resolve(captured.filter((line) => line.includes("webhook_failure") && line.includes(hooked.id))),
    (lines) => lines.length > 0,
    "a failed webhook attempt",
  );
  await openai.webhooks.delete(endpoint.id);
  // Failures: bad input, unknown ids, upstream errors (one echoing the key it got), broken streams.
  const failures = [
    () => openai.responses.create({ model: model("text:1"), input: "x", temperature: 9 }),
    () => openai.responses.retrieve(`resp_${"0".repeat(48)}`),
    () => openai.responses.create({ model: model("echo-key"), input: "x" }),
    () => openai.responses.create({ model: model("echo-key"), input: "x", store: false }),
    () => openai.responses.create({ model: model("echo-key-escaped"), input: "x" }),
    () => openai.responses.create({ model: model("echo-key-stream"), input: "x" }),
    () => openai.responses.create({ model: model("echo-key-stream"), input: "x", store: false, stream: true }),
    async () => {
      const streamed = await openai.responses.create({ model: model("echo-key-stream"), input: "x", stream: true });
      for await (const event of streamed) captured.push(JSON.stringify(event));
    },
    async () => {
      const queued = await openai.responses.create({ model: model("echo-key-stream"), input: "x", background: true });
      ids.push(queued.id);
      const ended = await until(
        () => openai.responses.retrieve(queued.id),
        (response) => response.status === "failed",
        "the background run to fail",
      );
      captured.push(JSON.stringify(ended));
    },
    () => openai.responses.create({ model: model("status:500"), input: "x" }),
    () => openai.responses.create({ model: model("status:429:0"), input: "x" }),
    () => openai.responses.create({ model: model("malformed"), input: "x" }),
    () => openai.responses.create({ model: model("cut-after:3"), input: "x" }),
    () => openai.responses.create({ model: model("unknown-event"), input: "x" }),
  ];
  for (const failure of failures) await failure().catch((error: unknown) => captured.push(String(error)));
  await fetch(`${GATEWAY_URL}/responses`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}` },
    body: "{nope",
  });
  return { ids, webhookSecret: String(endpoint.signing_secret) };
}

/** The log lines (not the answers) never hold the webhook signing secret. */
const expectSecretNotLogged = (secret: string) =>
  expectNoSecrets(
    captured.filter((line) => !/^\d{3}\n/.test(line)),
    [[secret, "whsec_".length]],
  );

describe("secrets never leave", () => {
  it("keys mode: no gateway key, upstream key or admin token in any answer, log line or stored row", async () => {
    const { key, keyId } = await newTenantKey("secrets");
    const fetch = capturing((input, init) => managedFetch(input, init));
    const openai = new OpenAI({ apiKey: key, baseURL: GATEWAY_URL, fetch, maxRetries: 0 });
    const { ids, webhookSecret } = await exercise(openai, fetch, key);
    // A wrong key close to the real one, a revoked key, an admin listing of keys.
    const nearMiss = `${key.slice(0, -1)}${key.endsWith("a") ? "b" : "a"}`;
    await fetch(`${GATEWAY_URL}/responses`, { headers: { authorization: `Bearer ${nearMiss}` } });
    const tenant = (
      await env.DB.prepare("SELECT tenant_id FROM api_keys WHERE id = ?").bind(keyId).first<{ tenant_id: string }>()
    )?.tenant_id;
    captured.push(JSON.stringify((await admin("GET", `/tenants/${tenant}/keys`)).body));
    captured.push(JSON.stringify((await admin("POST", `/keys/${keyId}/revoke`)).body));
    await fetch(`${GATEWAY_URL}/responses/${ids[0]}`, { headers: { authorization: `Bearer ${key}` } });
    await Promise.all(reading);

    // The upstream got the operator's key, never the client's.
    const sent = await upstream.requests(
      String((await firstRow<{ model: string }>("SELECT model FROM responses WHERE id = ?", ids[0]))?.model),
    );
    expect(sent[0]?.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(JSON.stringify(sent)).not.toContain(key);

    const answers = captured.filter((line) => /^\d{3}\n/.test(line));
    expect(answers.length).toBeGreaterThan(20);
    const secrets: [string, number][] = [
      [key, 8],
      [UPSTREAM_KEY, 3],
      [ADMIN_TOKEN, 0],
    ];
    expectNoSecrets(captured, secrets);
    // The upstream that echoed its key was answered, with the key taken out.
    expect(captured.join("\n")).toContain("Incorrect API key provided: [redacted]");
    expectNoSecrets(await allD1Rows(), secrets);
    expectNoSecrets(await durableObjectRows(ids), secrets);
    expectSecretNotLogged(webhookSecret);
  });

  it("pass-through mode: the client's key goes upstream only; never into an answer, a log line or a row", async () => {
    const key = `sk-passthrough-SECRET-${crypto.randomUUID()}`;
    const fetch = capturing((input, init) => gatewayFetch(input, init));
    const openai = new OpenAI({ apiKey: key, baseURL: GATEWAY_URL, fetch, maxRetries: 0 });
    const { ids, webhookSecret } = await exercise(openai, fetch, key);
    await Promise.all(reading);
    const secrets: [string, number][] = [[key, 3]];
    expectNoSecrets(captured, secrets);
    expect(captured.join("\n")).toContain("Incorrect API key provided: [redacted]");
    expectNoSecrets(await allD1Rows(), secrets);
    expectNoSecrets(await durableObjectRows(ids), secrets);
    expectSecretNotLogged(webhookSecret);
  });

  it("the console spy sees the Worker's and the Durable Objects' log lines, of every kind", () => {
    const lines = captured.filter((line) => line.startsWith("{"));
    console.info(lines.slice(0, 12).join("\n---\n"));
    expect(captured).toContainEqual(
      expect.stringMatching(
        /^\{"event":"upstream_anomaly","msg":"dropped unknown event type 'response.mock_unknown'","response_id":"resp_[0-9a-f]{48}"\}$/,
      ),
    );
    // The scan above covered the structured lines (src/observe/): requests, response ends (stored,
    // store:false, background), upstream failures (the key-echoing 401 included), webhook failures.
    const kinds = new Set(lines.map((line) => (JSON.parse(line) as { event: string }).event));
    for (const kind of ["request", "response_end", "upstream_failure", "webhook_failure"])
      expect(kinds, kind).toContain(kind);
    expect(lines.filter((line) => line.includes('"event":"response_end"')).length).toBeGreaterThan(20);
  });
});
