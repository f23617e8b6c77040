// What of a create's context the gateway leaves out of its upstream call, as the Response's
// `input_transformations` lists it: per protocol and route option, in input order, named items only.

import { describe, expect, it } from "vitest";
import { validateCreateRequest } from "../../src/responses/create-request";
import { chatCompletionsProtocol } from "../../src/upstream/chat-completions";
import type { UpstreamTarget } from "../../src/upstream/client";
import { responsesProtocol } from "../../src/upstream/responses-protocol";
import { withheldReasoning } from "../../src/upstream/withheld-reasoning";

const user = { role: "user", content: "a" };
const openai = { type: "reasoning", id: "rs_openai", summary: [], encrypted_content: "gAAAAABo-blob" };
const raw = { type: "reasoning", id: "rs_raw", summary: [], content: [{ type: "reasoning_text", text: "hm" }] };
const unnamed = { type: "reasoning", summary: [], encrypted_content: "gAAAAABo-other" };
const gateway = {
  type: "reasoning",
  id: "rs_gateway",
  summary: [],
  content: [{ type: "reasoning_text", text: "x" }],
  encrypted_content: "gwr1",
};
const answer = { type: "message", role: "assistant", content: [{ type: "output_text", text: "b" }] };
const context = [user, openai, unnamed, raw, gateway, answer];
const request = validateCreateRequest({ model: "m", input: "c" });

const target = (options: Partial<UpstreamTarget>): UpstreamTarget => ({
  baseUrl: "http://upstream.test/v1",
  protocol: responsesProtocol,
  apiKey: null,
  ...options,
});
const ids = (t: UpstreamTarget, sent = context) =>
  withheldReasoning(t, request, context, sent).entries.map((entry) => entry.id);

describe("the reasoning a call withholds", () => {
  it("lists each item a Responses route leaves out, as model_mismatch, in input order", () => {
    // The gateway's own items never reach a Responses upstream (expandForUpstream left it out of `sent`).
    const sent = context.filter((item) => item !== gateway);
    expect(ids(target({}), sent)).toEqual(["rs_gateway"]);
    expect(ids(target({ reasoningInput: "drop_encrypted" }), sent)).toEqual(["rs_openai", "rs_gateway"]);
    expect(ids(target({ reasoningInput: "drop" }), sent)).toEqual(["rs_openai", "rs_raw", "rs_gateway"]);
    expect(withheldReasoning(target({ reasoningInput: "drop" }), request, context, sent)).toEqual({
      entries: ["rs_openai", "rs_raw", "rs_gateway"].map((id) => ({
        id,
        action: "removed",
        reason: "model_mismatch",
        type: "reasoning",
      })),
      order: ["rs_openai", "rs_raw", "rs_gateway"],
    });
  });

  it("lists on a chat route the items without raw text, and every item with reasoning_sent_as null", () => {
    expect(ids(target({ protocol: chatCompletionsProtocol }))).toEqual(["rs_openai"]);
    expect(ids(target({ protocol: chatCompletionsProtocol, reasoningSentAs: "thinking" }))).toEqual(["rs_openai"]);
    // Text that no assistant message follows (a response that failed mid-thought, then a new turn) goes nowhere.
    const cut = [user, raw, { role: "user", content: "again" }, gateway, answer];
    expect(withheldReasoning(target({ protocol: chatCompletionsProtocol }), request, cut, cut).entries).toEqual([
      { id: "rs_raw", action: "removed", reason: "model_mismatch", type: "reasoning" },
    ]);
    expect(ids(target({ protocol: chatCompletionsProtocol, reasoningSentAs: null }))).toEqual([
      "rs_openai",
      "rs_raw",
      "rs_gateway",
    ]);
  });

  it("does not translate a context without reasoning items for a chat route (once a create is enough)", () => {
    let reads = 0;
    const counted = {
      role: "user",
      get content() {
        reads++;
        return "a";
      },
    };
    const plain = [counted, answer];
    expect(withheldReasoning(target({ protocol: chatCompletionsProtocol }), request, plain, plain)).toEqual({
      entries: [],
      order: [],
    });
    expect(reads).toBe(0);
  });

  it("lists nothing for a warm-up, which calls no model", () => {
    expect(ids(target({ reasoningInput: "drop", warmUp: true }))).toEqual([]);
  });
});
