// A failed response stored before errors carried `type` and `param` ({code, message} only) is read
// back with them, as one stored now is: the Vercel AI SDK rejects a Response whose error has no type.

import { describe, expect, it } from "vitest";
import { compressText, decompressText } from "../../src/db/codec";
import { client, model } from "../support/gateway";
import { everyD1 } from "../support/shards";

/** Rewrites a stored response's error as rows written before 0b728f1 hold it. */
async function storeOldError(id: string): Promise<void> {
  for (const db of everyD1()) {
    const row = await db
      .prepare("SELECT snapshot FROM responses WHERE id = ?")
      .bind(id)
      .first<{ snapshot: number[] }>();
    if (row === null) continue;
    const snapshot = JSON.parse(decompressText(Uint8Array.from(row.snapshot))) as { error: Record<string, unknown> };
    const { code, message } = snapshot.error;
    snapshot.error = { code, message };
    await db
      .prepare("UPDATE responses SET snapshot = ? WHERE id = ?")
      .bind(compressText(JSON.stringify(snapshot)), id)
      .run();
    return;
  }
  throw new Error(`no row for ${id}`);
}

describe("a failed response stored before errors had a type", () => {
  it("is retrieved with type and param", async () => {
    const openai = client("sk-test-stored-errors");
    const failed = await openai.responses.create({ model: model("cut-after:3"), input: "x" });
    expect(failed.status).toBe("failed");
    await storeOldError(failed.id);
    const expected = {
      code: "server_error",
      message: "The upstream connection failed before the response was complete.",
      type: "server_error",
      param: null,
    };
    expect((await openai.responses.retrieve(failed.id)).error).toEqual(expected);
  });
});
