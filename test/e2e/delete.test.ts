import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { client, model } from "../support/gateway";

async function rowsOwnedBy(id: string): Promise<number> {
  const counts = await env.DB.batch([
    env.DB.prepare("SELECT count(*) AS n FROM responses WHERE id = ?").bind(id),
    env.DB.prepare("SELECT count(*) AS n FROM response_items WHERE response_id = ?").bind(id),
    env.DB.prepare("SELECT count(*) AS n FROM response_events WHERE response_id = ?").bind(id),
  ]);
  return counts.reduce((sum, result) => sum + ((result.results[0] as { n: number }).n ?? 0), 0);
}

describe("DELETE /v1/responses/{id}", () => {
  it("deletes a response and every row it owns; afterwards it is unknown everywhere", async () => {
    const openai = client();
    const response = await openai.responses.create({ model: model("text:2"), input: "x" });
    expect(await rowsOwnedBy(response.id)).toBeGreaterThan(0);
    const deleted: unknown = await openai.responses.delete(response.id);
    expect(deleted).toEqual({ id: response.id, object: "response.deleted", deleted: true });
    expect(await rowsOwnedBy(response.id)).toBe(0);
    await expect(openai.responses.retrieve(response.id)).rejects.toMatchObject({ status: 404 });
    await expect(openai.responses.retrieve(response.id, { stream: true })).rejects.toMatchObject({ status: 404 });
    await expect(openai.responses.inputItems.list(response.id)).rejects.toMatchObject({ status: 404 });
    await expect(openai.responses.delete(response.id)).rejects.toMatchObject({ status: 404 });
  });
});
