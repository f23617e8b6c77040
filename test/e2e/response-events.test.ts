// GET /v1/responses/{id}/events, the console's event timeline (docs/console.md): pages of at most 100
// events after a sequence number, each with its time; a larger `limit` is a 400, not a silent cap;
// `order=desc` reads from the last event back (the console's jump to the end of a long log).

import { describe, expect, it } from "vitest";
import { client, gatewayFetch, GATEWAY_URL, model } from "../support/gateway";

const key = "sk-test-response-events";
const send = (path: string) => gatewayFetch(`${GATEWAY_URL}${path}`, { headers: { authorization: `Bearer ${key}` } });

describe("a response's recorded events", () => {
  it("pages them with the console's limit=100 and refuses limit=1000", async () => {
    const { id } = await client(key).responses.create({ model: model("text:3"), input: "x" });
    const page = await send(`/responses/${id}/events?after=-1&limit=100`);
    expect(page.status).toBe(200);
    const body = await page.json<{ data: { sequence_number: number; t_ms: number | null }[]; has_more: boolean }>();
    expect(body.data.length).toBeGreaterThan(0);
    expect(body.data.map((event) => event.sequence_number)).toEqual(body.data.map((_, index) => index));
    expect(body.has_more).toBe(false);
    const tooLarge = await send(`/responses/${id}/events?after=-1&limit=1000`);
    expect(tooLarge.status).toBe(400);
    expect(await tooLarge.json()).toMatchObject({ error: { param: "limit", code: "integer_above_max_value" } });
  });

  it("reads from the end back with order=desc, as asc reads them forward", async () => {
    type Page = { data: { sequence_number: number; type: string; t_ms: number | null }[]; has_more: boolean };
    const { id } = await client(key).responses.create({ model: model("text:3000"), input: "x" });
    const read = async (query: string): Promise<Page> => {
      const response = await send(`/responses/${id}/events?${query}`);
      expect(response.status).toBe(200);
      return response.json<Page>();
    };
    const forward: Page["data"] = [];
    for (let after = -1; ;) {
      const page = await read(`after=${after}&limit=100`);
      forward.push(...page.data);
      if (!page.has_more) break;
      after = page.data.at(-1)!.sequence_number;
    }
    const last = await read("order=desc&limit=1");
    expect(last.data).toEqual([forward.at(-1)]);
    expect(last.data[0]).toMatchObject({ type: "response.completed", sequence_number: forward.length - 1 });
    expect(last.has_more).toBe(true);
    const backward: Page["data"] = [];
    for (let after: number | null = null; ;) {
      const page = await read(`order=desc&limit=100${after === null ? "" : `&after=${after}`}`);
      backward.push(...page.data);
      if (!page.has_more) break;
      after = page.data.at(-1)!.sequence_number;
    }
    expect(backward.reverse()).toEqual(forward);
    const wrong = await send(`/responses/${id}/events?order=newest`);
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ error: { param: "order", code: "invalid_value" } });
  });
});
