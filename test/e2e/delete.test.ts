import { describe, expect, it } from "vitest";
import { client, model } from "../support/gateway";
import { countAll } from "../support/shards";

async function rowsOwnedBy(id: string): Promise<number> {
  const counts = await Promise.all([
    countAll("SELECT count(*) AS n FROM responses WHERE id = ?", id),
    countAll("SELECT count(*) AS n FROM response_items WHERE response_id = ?", id),
    countAll("SELECT count(*) AS n FROM response_events WHERE response_id = ?", id),
  ]);
  return counts.reduce((sum, n) => sum + n, 0);
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
