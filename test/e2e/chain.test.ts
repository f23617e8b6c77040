import { describe, expect, it } from "vitest";
import { decompressText } from "../../src/db/codec";
import { client, model, upstream, withoutParsed } from "../support/gateway";
import { everyD1 } from "../support/shards";

/** Rewrites a stored response's compressed values as the TEXT an earlier version wrote. */
async function storeAsText(id: string): Promise<void> {
  for (const db of everyD1()) {
    const row = await db
      .prepare("SELECT input, snapshot, output FROM responses WHERE id = ?")
      .bind(id)
      .first<Record<"input" | "snapshot" | "output", number[] | null>>();
    if (row === null) continue;
    const text = (value: number[] | null) => (value === null ? null : decompressText(Uint8Array.from(value)));
    await db
      .prepare("UPDATE responses SET input = ?, snapshot = ?, output = ? WHERE id = ?")
      .bind(text(row.input), text(row.snapshot), text(row.output), id)
      .run();
    const types = await db
      .prepare("SELECT typeof(input) AS i, typeof(snapshot) AS s, typeof(output) AS o FROM responses WHERE id = ?")
      .bind(id)
      .first();
    expect(types).toEqual({ i: "text", s: "text", o: "text" });
    return;
  }
  throw new Error(`no row for ${id}`);
}

describe("previous_response_id", () => {
  it("sends the whole history upstream on a three-turn chain, without inherited instructions", async () => {
    const openai = client();
    const m = model("echo");
    const first = await openai.responses.create({ model: m, input: "one", instructions: "first only" });
    const second = await openai.responses.create({ model: m, input: "two", previous_response_id: first.id });
    const third = await openai.responses.create({
      model: m,
      input: [{ role: "user", content: "three" }],
      previous_response_id: second.id,
    });
    expect(third.previous_response_id).toBe(second.id);
    expect(third.instructions).toBeNull();

    const sent = await upstream.requests(m);
    expect(sent).toHaveLength(3);
    const input = sent[2]?.body.input as Record<string, unknown>[];
    expect(sent[2]?.body).not.toHaveProperty("instructions");
    expect(input.map((item) => item.role ?? item.type)).toEqual(["user", "assistant", "user", "assistant", "user"]);
    expect(input[0]).toEqual({ role: "user", content: "one" });
    expect(input[1]).toMatchObject({ type: "message", role: "assistant", id: first.output[0]?.id });
    expect(input[2]).toEqual({ role: "user", content: "two" });
    expect(input[3]).toMatchObject({ id: second.output[0]?.id });
    expect(input[4]).toEqual({ role: "user", content: "three" });
    expect(third.output_text).toBe("echo(5): three");
  });

  it("keeps encrypted reasoning across a chain", async () => {
    const openai = client();
    const m = model("fixture:openai-reasoning-encrypted-content.1.chunks.txt:0");
    const first = await openai.responses.create({ model: m, input: "go" });
    const reasoning = first.output.find((item) => item.type === "reasoning") as
      { encrypted_content?: string } | undefined;
    expect(reasoning?.encrypted_content).toMatch(/^gAAAA/);
    const m2 = model("echo");
    await openai.responses.create({ model: m2, input: "next", previous_response_id: first.id });
    const [sent] = await upstream.requests(m2);
    const replayed = (sent?.body.input as Record<string, unknown>[]).find((item) => item.type === "reasoning");
    expect(replayed?.encrypted_content).toBe(reasoning?.encrypted_content);
  });

  it("refuses unknown, store:false and deleted ids with previous_response_not_found, before calling upstream", async () => {
    const openai = client();
    const stateless = await openai.responses.create({ model: model("text:1"), input: "x", store: false });
    const deleted = await openai.responses.create({ model: model("text:1"), input: "x" });
    await openai.responses.delete(deleted.id);
    for (const id of ["resp_0000000000000000000000000000000000000000000000000", stateless.id, deleted.id]) {
      const m = model("echo");
      await expect(openai.responses.create({ model: m, input: "y", previous_response_id: id })).rejects.toMatchObject({
        status: 400,
        error: {
          message: `Previous response with id '${id}' not found.`,
          type: "invalid_request_error",
          param: "previous_response_id",
          code: "previous_response_not_found",
        },
      });
      expect(await upstream.requests(m)).toEqual([]);
    }
  });

  it("chains from a store:false request too, which stores nothing itself", async () => {
    const openai = client();
    const first = await openai.responses.create({ model: model("text:1"), input: "one" });
    const m = model("echo");
    const second = await openai.responses.create({
      model: m,
      input: "two",
      previous_response_id: first.id,
      store: false,
    });
    expect(second.output_text).toBe("echo(3): two");
  });

  it("reads a link stored before values were compressed (TEXT) like any other", async () => {
    const openai = client();
    const m = model("echo");
    const first = await openai.responses.create({ model: m, input: "one" });
    const items = await openai.responses.inputItems.list(first.id);
    await storeAsText(first.id);

    expect(withoutParsed(await openai.responses.retrieve(first.id))).toEqual(withoutParsed(first));
    expect((await openai.responses.inputItems.list(first.id)).data).toEqual(items.data);
    const second = await openai.responses.create({ model: m, input: "two", previous_response_id: first.id });
    expect(second.output_text).toBe("echo(3): two");
    const sent = await upstream.requests(m);
    expect(sent[1]?.body.input).toEqual([
      { role: "user", content: "one" },
      expect.objectContaining({ id: first.output[0]?.id, role: "assistant" }),
      { role: "user", content: "two" },
    ]);
  });
});
