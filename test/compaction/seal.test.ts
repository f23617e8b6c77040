// Sealed compaction items: they open only for the tenant and secret they were made with, any change
// is detected, a missing or short secret fails naming the setting; expansion keeps OpenAI's
// compacted form; the token estimate grows with the context.

import { describe, expect, it } from "vitest";
import { estimateInputTokens } from "../../src/compaction/estimate";
import { expandCompactionItems, summaryText } from "../../src/compaction/expand";
import { compactionSecret, isGatewayCompaction, open, seal, type CompactionPayload } from "../../src/compaction/seal";
import { ApiError } from "../../src/errors";
import type { InputItem } from "../../src/responses/types";

const SECRET = "a-test-secret-of-more-than-32-characters";
const payload: CompactionPayload = { v: 1, summary: "The user wants a haiku.", created_at: 1_800_000_000, model: "m" };

describe("seal and open", () => {
  it("opens for the same tenant and secret, and the content is opaque", async () => {
    const sealed = await seal(payload, "t_a", SECRET);
    expect(sealed).toMatch(/^gwc1\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain("haiku");
    expect(await open(sealed, "t_a", SECRET)).toEqual(payload);
    expect(isGatewayCompaction({ type: "compaction", encrypted_content: sealed })).toBe(true);
  });

  it("does not open for another tenant, another secret, or altered content", async () => {
    const sealed = await seal(payload, "t_a", SECRET);
    expect(await open(sealed, "t_b", SECRET)).toBeNull();
    expect(await open(sealed, "t_a", `${SECRET}!`)).toBeNull();
    const last = sealed.at(-2) === "A" ? "B" : "A";
    expect(await open(`${sealed.slice(0, -2)}${last}${sealed.at(-1) ?? ""}`, "t_a", SECRET)).toBeNull();
    expect(await open("gwc1.not*base64", "t_a", SECRET)).toBeNull();
    // Cut to a length base64 cannot have (atob throws on it): refused like any altered item.
    const cut = sealed.slice(0, 5 + 4 * Math.floor((sealed.length - 5) / 4) - 3);
    expect((cut.length - 5) % 4).toBe(1);
    expect(await open(cut, "t_a", SECRET)).toBeNull();
    expect(await open("gwc1.AAAAA", "t_a", SECRET)).toBeNull();
    expect(await open("gAAAAABopenai", "t_a", SECRET)).toBeNull();
  });

  it("fails clearly, naming COMPACTION_SECRET, when the secret is missing or short", () => {
    for (const secret of [null, "short"]) {
      let error: unknown;
      try {
        compactionSecret(secret);
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(ApiError);
      expect(error).toMatchObject({ status: 503, code: "compaction_not_configured" });
      expect((error as ApiError).message).toContain("COMPACTION_SECRET");
    }
    expect(compactionSecret(SECRET)).toBe(SECRET);
  });
});

describe("expandCompactionItems", () => {
  const options = { tenantId: "t_a", secret: SECRET, ownFrom: 0 };

  it("replaces the latest item by its summary and keeps only the messages of user, system and developer before it", async () => {
    const item = { type: "compaction", id: "cmp_1", encrypted_content: await seal(payload, "t_a", SECRET) };
    const input: InputItem[] = [
      { role: "system", content: "rules" },
      { role: "user", content: "one" },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "reply" }] },
      { type: "function_call", call_id: "c", name: "f", arguments: "{}" },
      { type: "function_call_output", call_id: "c", output: "r" },
      { role: "user", content: "two" },
      item,
      { role: "user", content: "three" },
    ];
    expect(await expandCompactionItems(input, options)).toEqual([
      { role: "system", content: "rules" },
      { role: "user", content: "one" },
      { role: "user", content: "two" },
      { type: "message", role: "user", content: summaryText(payload.summary) },
      { role: "user", content: "three" },
    ]);
  });

  it("returns the same context when it holds no gateway item, even without a secret", async () => {
    const input: InputItem[] = [{ type: "compaction", encrypted_content: "gAAAA-openai" }];
    expect(await expandCompactionItems(input, { ...options, secret: null })).toBe(input);
  });

  it("refuses an item of another tenant with a 400 naming it within the request's own input", async () => {
    const item = { type: "compaction", encrypted_content: await seal(payload, "t_b", SECRET) };
    const history: InputItem[] = [{ role: "user", content: "old" }];
    const error = await expandCompactionItems([...history, { role: "user", content: "x" }, item], {
      ...options,
      ownFrom: 1,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 400, param: "input[1]", code: "invalid_encrypted_content" });
  });
});

describe("estimateInputTokens", () => {
  it("counts about four bytes a token, plus each item and image, and tools", () => {
    const one = estimateInputTokens({ instructions: null, input: [{ role: "user", content: "x".repeat(400) }] });
    expect(one).toBe(Math.ceil(("user".length + 400) / 4) + 4);
    const more = estimateInputTokens({
      instructions: "y".repeat(40),
      input: [
        {
          role: "user",
          content: [
            { type: "input_text", text: "x".repeat(400) },
            { type: "input_image", image_url: "data:image/png;base64,".padEnd(9000, "A") },
          ],
        },
      ],
      tools: [{ type: "function", name: "f", description: "z".repeat(80) }],
    });
    // Text of the role, the part, the instructions, the tool's name and description; two items; one image.
    expect(more).toBe(Math.ceil((4 + 400 + 40 + 1 + 80) / 4) + 2 * 4 + 85);
  });
});
