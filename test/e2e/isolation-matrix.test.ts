// Tenants are walls: for every route, tenant B asking about tenant A's objects gets exactly what it
// gets for ids that do not exist (status, headers that matter, body with the id blanked), and A's
// objects are untouched afterwards. Run in both auth modes.

import { env } from "cloudflare:workers";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { newId } from "../../src/responses/ids";
import { gatewayFetch, GATEWAY_URL, model, upstream } from "../support/gateway";
import { managedFetch, newTenantKey } from "../support/managed";

type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

interface Mode {
  name: string;
  fetch: Fetch;
  keys: () => Promise<[string, string]>;
}

const modes: Mode[] = [
  {
    name: "keys mode",
    fetch: (input, init) => managedFetch(input, init),
    keys: async () => [(await newTenantKey("alice")).key, (await newTenantKey("bob")).key],
  },
  {
    name: "pass-through mode",
    fetch: (input, init) => gatewayFetch(input, init),
    keys: () => Promise.resolve([`sk-matrix-alice-${crypto.randomUUID()}`, `sk-matrix-bob-${crypto.randomUUID()}`]),
  },
];

interface Probe {
  route: string;
  request: (id: string) => [path: string, init?: RequestInit];
}

const json = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

/** Every route that takes a response id somewhere (path, query or body). */
const probes = (ownResponseId: string, ownItemId: string): Probe[] => [
  { route: "GET /responses/{id}", request: (id) => [`/responses/${id}`] },
  { route: "GET /responses/{id}?stream=true", request: (id) => [`/responses/${id}?stream=true`] },
  {
    route: "GET /responses/{id}?stream=true&starting_after=2",
    request: (id) => [`/responses/${id}?stream=true&starting_after=2`],
  },
  {
    route: "GET /responses/{id}?include[]=…",
    request: (id) => [`/responses/${id}?include%5B%5D=message.output_text.logprobs`],
  },
  { route: "GET /responses/{id}/input_items", request: (id) => [`/responses/${id}/input_items?limit=5&order=asc`] },
  { route: "POST /responses/{id}/cancel", request: (id) => [`/responses/${id}/cancel`, { method: "POST" }] },
  { route: "DELETE /responses/{id}", request: (id) => [`/responses/${id}`, { method: "DELETE" }] },
  {
    route: "POST /responses (previous_response_id)",
    request: (id) => ["/responses", json({ model: "echo#matrix", input: "x", previous_response_id: id })],
  },
  {
    route: "POST /responses (stream, previous_response_id)",
    request: (id) => ["/responses", json({ model: "echo#matrix", input: "x", stream: true, previous_response_id: id })],
  },
  {
    route: "POST /responses (background, previous_response_id)",
    request: (id) => [
      "/responses",
      json({ model: "echo#matrix", input: "x", background: true, previous_response_id: id }),
    ],
  },
  {
    route: "POST /responses (store:false, previous_response_id)",
    request: (id) => ["/responses", json({ model: "echo#matrix", input: "x", store: false, previous_response_id: id })],
  },
  { route: "GET /responses?previous_response_id={id}", request: (id) => [`/responses?previous_response_id=${id}`] },
  { route: "GET /responses?after={id}", request: (id) => [`/responses?after=${id}`] },
  {
    route: "GET /responses/{own}/input_items?after={item of A}",
    request: (id) => [`/responses/${ownResponseId}/input_items?after=${id === "__A_ITEM__" ? ownItemId : id}`],
  },
];

interface Seen {
  status: number;
  contentType: string | null;
  body: string;
}

async function observe(fetch: Fetch, key: string, [path, init]: [string, RequestInit?], blank: string): Promise<Seen> {
  const headers = new Headers(init?.headers);
  headers.set("authorization", `Bearer ${key}`);
  const response = await fetch(`${GATEWAY_URL}${path}`, { ...init, headers });
  const body = (await response.text()).split(blank).join("<ID>");
  return { status: response.status, contentType: response.headers.get("content-type"), body };
}

async function rowsOf(id: string) {
  const row = await env.DB.prepare(
    `SELECT status, (SELECT count(*) FROM response_items WHERE response_id = ?1) AS items,
            (SELECT count(*) FROM response_events WHERE response_id = ?1) AS events
       FROM responses WHERE id = ?1`,
  )
    .bind(id)
    .first();
  return row;
}

describe.each(modes)("tenant isolation matrix, $name", ({ fetch, keys }) => {
  it("answers tenant A's ids to tenant B exactly as unknown ids, on every route, and leaves A's objects alone", async () => {
    const [aliceKey, bobKey] = await keys();
    const sdk = (key: string) =>
      new OpenAI({ apiKey: key, baseURL: GATEWAY_URL, fetch: (i, init) => fetch(i, init), maxRetries: 0 });
    const alice = sdk(aliceKey);
    const bob = sdk(bobKey);
    const finished = await alice.responses.create({ model: model("text:3"), input: "alice's secret" });
    const held = model("gate:4:6");
    const running = await alice.responses.create({ model: held, input: "alice's job", background: true });
    const aliceItem = (await alice.responses.inputItems.list(finished.id)).data[0]?.id as string;
    const bobOwn = await bob.responses.create({ model: model("text:1"), input: "bob's" });
    const before = { finished: await rowsOf(finished.id), running: await rowsOf(running.id) };

    for (const target of [finished.id, running.id, "__A_ITEM__"]) {
      for (const probe of probes(bobOwn.id, aliceItem)) {
        if (target === "__A_ITEM__" && !probe.route.includes("{item of A}")) continue;
        if (target !== "__A_ITEM__" && probe.route.includes("{item of A}")) continue;
        const unknown = target === "__A_ITEM__" ? newId("msg") : newId("resp");
        const blankA = target === "__A_ITEM__" ? aliceItem : target;
        const seenForA = await observe(fetch, bobKey, probe.request(target), blankA);
        const seenForUnknown = await observe(fetch, bobKey, probe.request(unknown), unknown);
        expect(seenForA, `${probe.route} with ${target}`).toEqual(seenForUnknown);
        expect(seenForA.status, probe.route).toBeGreaterThanOrEqual(200);
        expect(seenForA.body).not.toContain("alice");
      }
    }

    // B's own listing and usage hold nothing of A's.
    const listed = await observe(fetch, bobKey, ["/responses?limit=100"], "\u0000");
    expect(listed.body).not.toContain(finished.id);
    expect(listed.body).not.toContain(running.id);
    expect((JSON.parse(listed.body) as { data: { id: string }[] }).data.map((r) => r.id)).toEqual([bobOwn.id]);
    const usage = JSON.parse((await observe(fetch, bobKey, ["/usage?group_by=model"], "\u0000")).body) as {
      data: { model: string; responses: number }[];
    };
    expect(usage.data.every((row) => row.model === bobOwn.model)).toBe(true);

    // A's objects are as they were: nothing deleted, cancelled or chained onto.
    expect(await rowsOf(finished.id)).toEqual(before.finished);
    expect((await alice.responses.retrieve(running.id)).status).not.toBe("cancelled");
    await upstream.release(held);
    // Following the stream to its end waits for the run to finish, without polling.
    for await (const event of await alice.responses.retrieve(running.id, { stream: true })) void event;
    expect((await alice.responses.retrieve(running.id)).status).toBe("completed");
    expect((await alice.responses.retrieve(finished.id)).output_text).toBe("w0 w1 w2 ");
  });
});
