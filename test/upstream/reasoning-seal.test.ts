// The encrypted_content of chat reasoning items: the text sealed only when asked for and keyed, the
// bare mark otherwise; a seal opens only for its tenant and secret, and never as a compaction item's
// (its own key); gateway reasoning goes to a chat upstream with its text and to a Responses one not at all.

import { describe, expect, it } from "vitest";
import { seal } from "../../src/compaction/seal";
import type { InputItem } from "../../src/responses/types";
import { gatewayReasoningFor } from "../../src/upstream/gateway-reasoning";
import { isGatewayReasoning, openReasoning, reasoningSeal } from "../../src/upstream/reasoning-seal";
import { ApiError } from "../../src/errors";

const SECRET = "a-test-secret-of-more-than-32-characters";
const INCLUDE = { include: ["reasoning.encrypted_content"], store: true };
const TEXT = "The user wants the weather in Paris: call the tool. ✓";

describe("reasoningSeal and openReasoning", () => {
  it("seals the text when asked for with a usable secret, and it opens for that tenant and secret only", () => {
    const sealed = reasoningSeal(INCLUDE, "t_a", SECRET)(TEXT);
    expect(sealed).toMatch(/^gwr1\.[A-Za-z0-9_-]+$/);
    expect(openReasoning(sealed, "t_a", SECRET)).toBe(TEXT);
    expect(openReasoning(sealed, "t_b", SECRET)).toBeNull();
    expect(openReasoning(sealed, "t_a", `${SECRET}!`)).toBeNull();
    expect(openReasoning(sealed, "t_a", null)).toBeNull();
    const flipped = sealed.at(-3) === "A" ? "B" : "A";
    expect(openReasoning(`${sealed.slice(0, -3)}${flipped}${sealed.slice(-2)}`, "t_a", SECRET)).toBeNull();
    expect(openReasoning("gwr1.AAAA", "t_a", SECRET)).toBeNull();
    expect(openReasoning("gwr1.not*base64", "t_a", SECRET)).toBeNull();
    // Two seals of one text differ (a fresh IV each).
    expect(reasoningSeal(INCLUDE, "t_a", SECRET)(TEXT)).not.toBe(sealed);
  });

  it("is the bare mark when not asked for, or without a usable secret", () => {
    for (const [request, secret] of [
      [{ include: [], store: true }, SECRET],
      [INCLUDE, null],
      [INCLUDE, "short"],
      [{ include: [], store: false }, null],
    ] as const)
      expect(reasoningSeal(request, "t_a", secret)(TEXT)).toBe("gwr1");
  });

  it("seals a store:false create's text unasked: the client keeps the item, the gateway does not", () => {
    const sealed = reasoningSeal({ include: [], store: false }, "t_a", SECRET)(TEXT);
    expect(openReasoning(sealed, "t_a", SECRET)).toBe(TEXT);
  });

  it("keys apart from compaction: a compaction item's seal does not open as reasoning", async () => {
    const compaction = await seal({ v: 1, summary: TEXT, created_at: 1, model: "m" }, "t_a", SECRET);
    expect(openReasoning(`gwr1.${compaction.slice(5)}`, "t_a", SECRET)).toBeNull();
  });

  it("tells the gateway's reasoning from a model's own", () => {
    expect(isGatewayReasoning({ type: "reasoning", encrypted_content: "gwr1" })).toBe(true);
    expect(isGatewayReasoning({ type: "reasoning", encrypted_content: "gwr1.abc" })).toBe(true);
    expect(isGatewayReasoning({ type: "reasoning", encrypted_content: "gAAAAB" })).toBe(false);
    expect(isGatewayReasoning({ type: "reasoning", encrypted_content: "gwr10" })).toBe(false);
    expect(isGatewayReasoning({ type: "reasoning" })).toBe(false);
  });
});

describe("gatewayReasoningFor", () => {
  const options = { tenantId: "t_a", secret: SECRET, ownFrom: 1 };
  const sealed = reasoningSeal(INCLUDE, "t_a", SECRET)(TEXT);
  const vllm: InputItem = {
    type: "reasoning",
    id: "rs_v",
    summary: [],
    content: [{ type: "reasoning_text", text: "v" }],
  };
  const openai: InputItem = { type: "reasoning", id: "rs_o", summary: [], encrypted_content: "gAAAAB" };
  const stored: InputItem = { ...vllm, id: "rs_s", encrypted_content: "gwr1" };
  const stateless: InputItem = { type: "reasoning", id: "rs_c", summary: [], encrypted_content: sealed };

  it("leaves the gateway's items out for a Responses upstream, and every other item as it is", () => {
    const input = [vllm, openai, stored, stateless, { role: "user", content: "x" }];
    expect(gatewayReasoningFor("responses", input, options)).toEqual([vllm, openai, { role: "user", content: "x" }]);
    const plain = [vllm, openai];
    expect(gatewayReasoningFor("responses", plain, options)).toBe(plain);
  });

  it("gives a chat upstream the text: its content, else the opened seal", () => {
    const [, , , opened] = gatewayReasoningFor("chat_completions", [vllm, openai, stored, stateless], options);
    expect(opened).toEqual({ ...stateless, content: [{ type: "reasoning_text", text: TEXT }] });
    const both = { ...stored, encrypted_content: `${sealed}x` };
    expect(gatewayReasoningFor("chat_completions", [both], options)).toEqual([both]);
  });

  it("refuses a seal that does not open, naming the request's own item", () => {
    const run = (tenantId: string) =>
      gatewayReasoningFor("chat_completions", [{ role: "user", content: "x" }, stateless], { ...options, tenantId });
    expect(() => run("t_a")).not.toThrow();
    let failure: unknown;
    try {
      run("t_b");
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure).toMatchObject({
      status: 400,
      param: "input[0].encrypted_content",
      code: "invalid_encrypted_content",
    });
  });
});
