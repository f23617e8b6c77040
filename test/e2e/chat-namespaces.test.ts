// Codex CLI's tools through a Chat Completions upstream, end to end with the SDK: namespaced MCP
// tools and client-executed tool search, over a previous_response_id chain, calls coming back
// with their namespace (issue 14: Codex answered "Tool type 'namespace' is not supported").

import { describe, expect, it } from "vitest";
import { received, routed } from "../support/chat";
import { client } from "../support/gateway";

const deepwiki = {
  type: "namespace" as const,
  name: "mcp__deepwiki__",
  description: "Tools in the mcp__deepwiki__ namespace.",
  tools: [
    {
      type: "function" as const,
      name: "ask_question",
      description: "Ask about a repository.",
      strict: false,
      parameters: { type: "object", properties: { question: { type: "string" } }, required: ["question"] },
    },
  ],
};
const search = { type: "tool_search" as const, execution: "client" as const, description: "Find more tools." };
const crm = {
  type: "namespace" as const,
  name: "crm",
  description: "CRM",
  tools: [{ type: "function" as const, name: "find", defer_loading: true, parameters: null, strict: false }],
};

const functionNames = (body: Record<string, unknown>) =>
  ((body.tools ?? []) as { function: { name: string } }[]).map((tool) => tool.function.name);

describe("namespaced tools and tool search over a Chat Completions upstream", () => {
  it("calls a namespaced tool, returns it with its namespace, and takes its output back", async () => {
    const openai = client("sk-test-namespaces");
    const m = routed("tools");
    const first = await openai.responses.create({ model: m.model, input: "Ask deepwiki.", tools: [deepwiki] });
    expect(first.output).toMatchObject([
      { type: "function_call", name: "ask_question", namespace: "mcp__deepwiki__", status: "completed" },
    ]);
    expect((first.tools[0] as { tools: { strict: boolean }[] }).tools[0]?.strict).toBe(false);
    const call = first.output[0] as { call_id: string };
    const second = await openai.responses.create({
      model: m.model,
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: call.call_id, output: "42" }],
      tools: [deepwiki],
    });
    expect(second.output_text).toBe("results: 42");
    const [, sent] = await received(m);
    expect(functionNames(sent?.body ?? {})).toEqual(["mcp__deepwiki__ask_question"]);
    expect((sent?.body.messages as Record<string, unknown>[])[1]).toMatchObject({
      role: "assistant",
      tool_calls: [{ id: call.call_id, function: { name: "mcp__deepwiki__ask_question" } }],
    });
  });

  it("loads tools a client-executed search found, and maps their calls back on later turns of the chain", async () => {
    const openai = client("sk-test-namespaces");
    const m = routed("tools");
    const searched = await openai.responses.create({ model: m.model, input: "Find the customer.", tools: [search] });
    expect(searched.output).toMatchObject([{ type: "tool_search_call", execution: "client", status: "completed" }]);
    const searchCall = searched.output[0] as { call_id: string };
    const loaded = await openai.responses.create({
      model: m.model,
      previous_response_id: searched.id,
      input: [{ type: "tool_search_output", call_id: searchCall.call_id, execution: "client", tools: [crm] }],
      tools: [search],
    });
    expect(loaded.output_text).toContain("results:");
    // A later turn: the loaded tool is known only from the chain, yet its call maps back.
    const later = await openai.responses.create({
      model: m.model,
      previous_response_id: loaded.id,
      input: "Now look them up.",
      tools: [search],
    });
    expect(later.output).toMatchObject([
      { type: "tool_search_call" },
      { type: "function_call", name: "find", namespace: "crm" },
    ]);
    const sent = (await received(m)).at(-1);
    expect(functionNames(sent?.body ?? {})).toEqual(["tool_search", "crm__find"]);
  });
});
