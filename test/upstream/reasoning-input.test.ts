// A route's `reasoning_input`: which earlier reasoning items a Responses server is sent, and how, for
// servers that refuse or misread another model's (vLLM, Ollama, llama.cpp).

import { describe, expect, it } from "vitest";
import { withReasoningInput } from "../../src/upstream/reasoning-input";

const user = { role: "user", content: "Weather in Paris?" };
const call = { type: "function_call", id: "fc_1", call_id: "call_1", name: "get_weather", arguments: "{}" };
/** OpenAI's, as a stateless create returns it: the reasoning is the encrypted blob; a summary when asked. */
const openai = { type: "reasoning", id: "rs_openai", summary: [], encrypted_content: "gAAAAABo-blob" };
const summarized = {
  ...openai,
  id: "rs_summarized",
  summary: [{ type: "summary_text", text: "Looking up the weather." }],
};
/** vLLM's and llama.cpp's: the raw text as `reasoning_text` content (llama.cpp adds an empty `encrypted_content`). */
const raw = {
  type: "reasoning",
  id: "rs_raw",
  summary: [],
  content: [{ type: "reasoning_text", text: "The user wants the weather." }],
  encrypted_content: "",
};
/** Ollama's: the thinking as its summary and, in the clear, as `encrypted_content` (the only field it reads back). */
const ollama = {
  type: "reasoning",
  id: "rs_ollama",
  summary: [{ type: "summary_text", text: "Hmm, Paris." }],
  encrypted_content: "Hmm, Paris.",
};

const body = { model: "m", input: [user, openai, summarized, raw, ollama, call] };
const { encrypted_content: _blob, ...summaryOnly } = summarized;
const { encrypted_content: _empty, ...rawOnly } = raw;

describe("a route's reasoning_input", () => {
  it("keeps every item as it came by default (OpenAI needs its encrypted_content)", () => {
    expect(withReasoningInput(body, "keep")).toEqual(body);
  });

  it("keep: leaves out an item with neither encrypted_content nor content, which OpenAI would look up by id", () => {
    // OpenAI's from a create that did not ask for `reasoning.encrypted_content` (a store:false one recorded).
    const byId = { type: "reasoning", id: "rs_byid", summary: [{ type: "summary_text", text: "Paris." }] };
    const empty = { ...raw, id: "rs_empty", content: [] };
    const input = [user, byId, empty, openai, raw, call];
    expect(withReasoningInput({ model: "m", input }, "keep").input).toEqual([user, openai, raw, call]);
  });

  it("drop_encrypted: sends each item without encrypted_content, but Ollama's text in the clear, and leaves out an item with no text left", () => {
    expect(withReasoningInput(body, "drop_encrypted").input).toEqual([user, summaryOnly, rawOnly, ollama, call]);
  });

  it("raw_text_only: sends only items with raw reasoning_text, without encrypted_content", () => {
    expect(withReasoningInput(body, "raw_text_only").input).toEqual([user, rawOnly, call]);
  });

  it("drop: leaves every reasoning item out", () => {
    expect(withReasoningInput(body, "drop").input).toEqual([user, call]);
  });

  it("never changes the items it was given (they are the stored ones)", () => {
    const before = structuredClone(body);
    withReasoningInput(body, "drop_encrypted");
    withReasoningInput(body, "raw_text_only");
    expect(body).toEqual(before);
  });

  it("leaves a body with a string input alone", () => {
    const text = { model: "m", input: "hi" };
    expect(withReasoningInput(text, "drop")).toBe(text);
  });
});
