// GET /v1/responses/{id}/events, the console's event timeline (docs/console.md): pages of at most 100
// events after a sequence number, each with its time; a larger `limit` is a 400, not a silent cap.

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
});
