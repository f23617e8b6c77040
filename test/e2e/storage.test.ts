import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { foldEvents } from "../../src/responses/fold";
import type { StreamEvent } from "../../src/responses/types";
import { client, model, rawEvents } from "../support/gateway";

async function rowCounts(id: string) {
  const [responses, items, events] = await env.DB.batch<{ n: number }>([
    env.DB.prepare("SELECT count(*) AS n FROM responses WHERE id = ?").bind(id),
    env.DB.prepare("SELECT count(*) AS n FROM response_items WHERE response_id = ?").bind(id),
    env.DB.prepare("SELECT count(*) AS n FROM response_events WHERE response_id = ?").bind(id),
  ]);
  return { responses: responses?.results[0]?.n, items: items?.results[0]?.n, events: events?.results[0]?.n };
}

describe("D1 recording", () => {
  it("writes a 1,000-event response in a constant number of rows", async () => {
    const openai = client("sk-test-storage");
    const final = await openai.responses.stream({ model: model("text:1000"), input: "x" }).finalResponse();
    const counts = await rowCounts(final.id);
    // 1 response row, 1 input item + 1 output item, the 1,008 events packed into one row.
    expect(counts).toEqual({ responses: 1, items: 2, events: 1 });
    const row = await env.DB.prepare("SELECT event_count, status FROM responses WHERE id = ?").bind(final.id).first();
    expect(row).toEqual({ event_count: 1008, status: "completed" });
  });

  it("splits a response larger than a D1 row over several rows and reads it back whole", async () => {
    const openai = client("sk-test-storage");
    const final = await openai.responses.stream({ model: model("big:2500000"), input: "x" }).finalResponse();
    expect(final.output_text).toHaveLength(2_500_000);
    const stored = await openai.responses.retrieve(final.id);
    expect(stored.output_text).toHaveLength(2_500_000);
    const replay = await rawEvents("sk-test-storage", `/responses/${final.id}?stream=true`);
    expect(foldEvents(replay as StreamEvent[])?.output).toEqual(stored.output);
    const largest = await env.DB.prepare("SELECT max(length(frames)) AS n FROM response_events WHERE response_id = ?")
      .bind(final.id)
      .first<{ n: number }>();
    expect(largest?.n).toBeLessThanOrEqual(600_000);
  });
});
