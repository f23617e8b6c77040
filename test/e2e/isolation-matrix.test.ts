// Tenants are walls: for every route, tenant B asking about tenant A's objects gets exactly what it
// gets for ids that do not exist (status, headers that matter, body with the id blanked), and A's
// objects are untouched afterwards. Run in both auth modes.

import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { newId } from "../../src/responses/ids";
import { gatewayFetch, GATEWAY_URL, model, upstream } from "../support/gateway";
import { managedFetch, newTenantKey } from "../support/managed";
import { firstRow } from "../support/shards";

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

type Kind = "response" | "conversation" | "response item" | "conversation item";

interface Probe {
  route: string;
  /** What kind of tenant A's id the probe puts in the request. */
  kind: Kind;
  request: (id: string) => [path: string, init?: RequestInit];
}

const json = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

const create = (extra: Record<string, unknown>) => json({ model: "echo#matrix", input: "x", ...extra });

/** Every route that takes an id somewhere (path, query or body); `own*` are tenant B's own objects. */
const probes = (own: { response: string; conversation: string; conversationItem: string }): Probe[] => [
  { kind: "response", route: "GET /responses/{id}", request: (id) => [`/responses/${id}`] },
  { kind: "response", route: "GET /responses/{id}?stream=true", request: (id) => [`/responses/${id}?stream=true`] },
  {
    kind: "response",
    route: "GET /responses/{id}?stream=true&starting_after=2",
    request: (id) => [`/responses/${id}?stream=true&starting_after=2`],
  },
  {
    kind: "response",
    route: "GET /responses/{id}?include[]=…",
    request: (id) => [`/responses/${id}?include%5B%5D=message.output_text.logprobs`],
  },
  {
    kind: "response",
    route: "GET /responses/{id}/input_items",
    request: (id) => [`/responses/${id}/input_items?limit=5&order=asc`],
  },
  {
    kind: "response",
    route: "POST /responses/{id}/cancel",
    request: (id) => [`/responses/${id}/cancel`, { method: "POST" }],
  },
  { kind: "response", route: "DELETE /responses/{id}", request: (id) => [`/responses/${id}`, { method: "DELETE" }] },
  {
    kind: "response",
    route: "POST /responses previous_response_id",
    request: (id) => ["/responses", create({ previous_response_id: id })],
  },
  {
    kind: "response",
    route: "POST /responses stream previous_response_id",
    request: (id) => ["/responses", create({ stream: true, previous_response_id: id })],
  },
  {
    kind: "response",
    route: "POST /responses background previous_response_id",
    request: (id) => ["/responses", create({ background: true, previous_response_id: id })],
  },
  {
    kind: "response",
    route: "POST /responses store:false previous_response_id",
    request: (id) => ["/responses", create({ store: false, previous_response_id: id })],
  },
  {
    kind: "response",
    route: "POST /responses/input_tokens previous_response_id",
    request: (id) => ["/responses/input_tokens", create({ previous_response_id: id })],
  },
  {
    kind: "response",
    route: "POST /responses/compact previous_response_id",
    request: (id) => ["/responses/compact", create({ previous_response_id: id })],
  },
  {
    kind: "response",
    route: "GET /responses?previous_response_id={id}",
    request: (id) => [`/responses?previous_response_id=${id}`],
  },
  { kind: "response", route: "GET /responses?after={id}", request: (id) => [`/responses?after=${id}`] },
  {
    kind: "response item",
    route: "GET /responses/{own}/input_items?after={item}",
    request: (id) => [`/responses/${own.response}/input_items?after=${id}`],
  },
  { kind: "conversation", route: "GET /conversations/{id}", request: (id) => [`/conversations/${id}`] },
  {
    kind: "conversation",
    route: "POST /conversations/{id}",
    request: (id) => [`/conversations/${id}`, json({ metadata: { taken: "yes" } })],
  },
  {
    kind: "conversation",
    route: "DELETE /conversations/{id}",
    request: (id) => [`/conversations/${id}`, { method: "DELETE" }],
  },
  {
    kind: "conversation",
    route: "GET /conversations/{id}/items",
    request: (id) => [`/conversations/${id}/items?limit=5`],
  },
  {
    kind: "conversation",
    route: "POST /conversations/{id}/items",
    request: (id) => [`/conversations/${id}/items`, json({ items: [{ role: "user", content: "injected" }] })],
  },
  {
    kind: "conversation",
    route: "POST /responses conversation",
    request: (id) => ["/responses", create({ conversation: id })],
  },
  {
    kind: "conversation",
    route: "POST /responses stream conversation",
    request: (id) => ["/responses", create({ stream: true, conversation: { id } })],
  },
  {
    kind: "conversation",
    route: "POST /responses/input_tokens conversation",
    request: (id) => ["/responses/input_tokens", create({ conversation: id })],
  },
  {
    kind: "conversation item",
    route: "GET /conversations/{own}/items/{item}",
    request: (id) => [`/conversations/${own.conversation}/items/${id}`],
  },
  {
    kind: "conversation item",
    route: "DELETE /conversations/{own}/items/{item}",
    request: (id) => [`/conversations/${own.conversation}/items/${id}`, { method: "DELETE" }],
  },
  {
    kind: "conversation item",
    route: "GET /conversations/{own}/items?after={item}",
    request: (id) => [`/conversations/${own.conversation}/items?after=${id}`],
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
  return firstRow(
    `SELECT status, (SELECT count(*) FROM response_items WHERE response_id = ?1) AS items,
            (SELECT count(*) FROM response_events WHERE response_id = ?1) AS events
       FROM responses WHERE id = ?1`,
    id,
  );
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
    const aliceConversation = await alice.conversations.create({
      items: [{ type: "message", role: "user", content: "alice's thread" }],
      metadata: { owner: "alice" },
    });
    const aliceConversationItem = (await alice.conversations.items.list(aliceConversation.id)).data[0]?.id as string;
    const bobOwn = await bob.responses.create({ model: model("text:1"), input: "bob's" });
    const bobConversation = await bob.conversations.create({
      items: [{ type: "message", role: "user", content: "b" }],
    });
    const bobConversationItem = (await bob.conversations.items.list(bobConversation.id)).data[0]?.id as string;
    const before = {
      finished: await rowsOf(finished.id),
      conversation: await alice.conversations.items.list(aliceConversation.id),
    };

    // An unknown id of the same time as A's: a list's cursor is a place in time (an id carries its
    // creation time, so a deleted cursor pages on), the same for A's id as for any id of that time.
    const twinOf = (id: string) => () => `${id.slice(0, "resp_".length + 12)}${newId("x").slice("x_".length + 12)}`;
    const targets: [Kind, string, () => string][] = [
      ["response", finished.id, twinOf(finished.id)],
      ["response", running.id, twinOf(running.id)],
      ["response item", aliceItem, () => newId("msg")],
      ["conversation", aliceConversation.id, () => newId("conv")],
      ["conversation item", aliceConversationItem, () => newId("msg")],
    ];
    const own = { response: bobOwn.id, conversation: bobConversation.id, conversationItem: bobConversationItem };
    let probed = 0;
    for (const [kind, target, unknownId] of targets) {
      for (const probe of probes(own).filter((p) => p.kind === kind)) {
        const unknown = unknownId();
        const seenForA = await observe(fetch, bobKey, probe.request(target), target);
        const seenForUnknown = await observe(fetch, bobKey, probe.request(unknown), unknown);
        expect(seenForA, `${probe.route} with ${target}`).toEqual(seenForUnknown);
        // Refused, or (a filter on the list) an empty page.
        if (seenForA.status < 400) expect(JSON.parse(seenForA.body), probe.route).toMatchObject({ data: [] });
        expect(seenForA.body).not.toContain("alice");
        probed += 1;
      }
    }
    expect(probed).toBe(probes(own).length + probes(own).filter((p) => p.kind === "response").length);

    // B's own listing and usage hold nothing of A's.
    const listed = await observe(fetch, bobKey, ["/responses?limit=100"], "\u0000");
    expect(listed.body).not.toContain(finished.id);
    expect(listed.body).not.toContain(running.id);
    expect((JSON.parse(listed.body) as { data: { id: string }[] }).data.map((r) => r.id)).toEqual([bobOwn.id]);
    const usage = JSON.parse((await observe(fetch, bobKey, ["/usage?group_by=model"], "\u0000")).body) as {
      data: { model: string; responses: number }[];
    };
    expect(usage.data.every((row) => row.model === bobOwn.model)).toBe(true);

    // A's objects are as they were: nothing deleted, cancelled, chained onto or appended.
    expect(await rowsOf(finished.id)).toEqual(before.finished);
    expect(await alice.conversations.retrieve(aliceConversation.id)).toMatchObject({ metadata: { owner: "alice" } });
    expect((await alice.conversations.items.list(aliceConversation.id)).data).toEqual(before.conversation.data);
    expect((await alice.responses.retrieve(running.id)).status).not.toBe("cancelled");
    await upstream.release(held);
    // Following the stream to its end waits for the run to finish, without polling.
    for await (const event of await alice.responses.retrieve(running.id, { stream: true })) void event;
    expect((await alice.responses.retrieve(running.id)).status).toBe("completed");
    expect((await alice.responses.retrieve(finished.id)).output_text).toBe("w0 w1 w2 ");
  });
});
