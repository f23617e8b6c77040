// Every object the gateway emits, validated against OpenAI's OpenAPI document (with the documented
// extensions in test/fixtures/openapi): Response objects from create, retrieve and background
// polling, every stream event (live, replayed, store:false), and input_items lists, over both
// upstream protocols, streaming and not. The total number of objects checked is printed at the end.

import { afterAll, describe, expect, it } from "vitest";
import { routed } from "../support/chat";
import { GATEWAY_URL, gatewayFetch, model, readEvents } from "../support/gateway";
import { validateAgainstSpec } from "../support/oracle";

const KEY = "sk-test-schema-conformance";
let checked = 0;

afterAll(() => {
  console.log(`schema conformance: ${checked} objects checked against the OpenAPI document`);
});

async function expectValid(schema: string, objects: unknown[], label: string): Promise<void> {
  const result = await validateAgainstSpec(schema, objects);
  checked += result.checked;
  expect(result.failures, `${label}: ${JSON.stringify(result.failures, null, 1)}`).toEqual([]);
}

const call = (path: string, body?: unknown) =>
  gatewayFetch(`${GATEWAY_URL}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

const TOOLS = [
  {
    type: "function",
    name: "get_weather",
    description: "Weather of a city.",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
  },
  { type: "function", name: "no_args" },
  { type: "custom", name: "run_sql", description: "Runs SQL." },
]; // prettier-ignore

/** Tools a chat upstream gets as functions whose calls come back as other items (see tools.test.ts). */
const CLIENT_SIDE_TOOLS = [
  { type: "namespace", name: "crm", description: "CRM", tools: [{ type: "function", name: "find", parameters: { type: "object", properties: {} } }, { type: "custom", name: "note" }] },
  { type: "tool_search", execution: "client" },
  { type: "shell", environment: { type: "local" } },
  { type: "apply_patch" },
  { type: "local_shell" },
]; // prettier-ignore

interface Scenario {
  name: string;
  /** A fresh model name for the scenario (one per request, so the mock's records stay apart). */
  model: () => string;
  tools?: unknown[];
  /** More fields of every request of the scenario. */
  body?: Record<string, unknown>;
}

const responsesScenarios: Scenario[] = [
  { name: "text", model: () => model("text:3"), tools: TOOLS },
  { name: "function call", model: () => model("function:get_weather"), tools: TOOLS },
  { name: "reasoning + calls (OpenAI recording)", model: () => model("fixture:openai-reasoning-encrypted-content.1.chunks.txt:0") },
  { name: "web search + citations (OpenAI recording)", model: () => model("fixture:openai-web-search-tool.1.chunks.txt:0") },
  { name: "incomplete", model: () => model("incomplete") },
  { name: "plain JSON body", model: () => model("json") },
  { name: "cut off mid-stream", model: () => model("cut-after:5") },
]; // prettier-ignore

const chatScenarios: Scenario[] = [
  { name: "text", model: () => routed("text:3").model, tools: TOOLS },
  { name: "tool calls", model: () => routed("tools").model, tools: TOOLS },
  { name: "reasoning (DeepSeek recording)", model: () => routed("fixture:vercel-ai__deepseek-reasoning.chunks.txt").model },
  { name: "reasoning as a summary (DeepSeek recording)", model: () => routed("fixture:vercel-ai__deepseek-reasoning.chunks.txt").model, body: { reasoning: { summary: "auto" } } },
  { name: "refusal + logprobs (OpenAI recording)", model: () => routed("fixture:openai-node__stream-refusal-logprobs.sse").model },
  { name: "incomplete (DeepSeek recording)", model: () => routed("fixture:vercel-ai__deepseek-text.chunks.txt").model },
  { name: "plain JSON body (Groq recording)", model: () => routed("fixture:vercel-ai__groq-tool-call.json").model, tools: TOOLS },
  { name: "cut off mid-stream", model: () => routed("cut-after:3").model },
  { name: "namespaced, search and client tool calls", model: () => routed("tools").model, tools: CLIENT_SIDE_TOOLS },
]; // prettier-ignore

/** The input of every scenario: a tool loop's history, so input_items lists hold every kind a client replays. */
const INPUT = [
  { role: "developer", content: "Answer briefly." },
  { role: "user", content: [{ type: "input_text", text: "What is the weather in Paris?" }] },
  { type: "function_call", call_id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' },
  { type: "function_call_output", call_id: "call_1", output: "18C, sunny" },
  { type: "custom_tool_call", call_id: "call_2", name: "run_sql", input: "SELECT 1" },
  { type: "custom_tool_call_output", call_id: "call_2", output: "1" },
  { type: "message", role: "assistant", content: [{ type: "output_text", text: "It is sunny.", annotations: [] }] },
  { role: "user", content: "And tomorrow?" },
];

const requestBody = (scenario: Scenario, extra: Record<string, unknown>) => ({
  model: scenario.model(),
  input: INPUT,
  metadata: { suite: "schema" },
  ...(scenario.tools === undefined ? {} : { tools: scenario.tools }),
  ...scenario.body,
  ...extra,
});

/** A created response's JSON (a Response, or an error envelope), validated as what it is. */
async function validateAnswer(res: Response, label: string): Promise<Record<string, unknown>> {
  const body = await res.json<Record<string, unknown>>();
  await expectValid(res.ok ? "Response" : "ErrorResponse", [body], label);
  return body;
}

async function validateStored(id: string, label: string): Promise<void> {
  await validateAnswer(await call(`/responses/${id}`), `${label} retrieve`);
  const replay = await readEvents((await call(`/responses/${id}?stream=true`)).body);
  expect(replay.length).toBeGreaterThan(0);
  await expectValid("ResponseStreamEvent", replay, `${label} replay`);
  const items = await (await call(`/responses/${id}/input_items?order=asc`)).json();
  await expectValid("ResponseItemList", [items], `${label} input_items`);
}

async function untilTerminal(id: string): Promise<Record<string, unknown>> {
  for (;;) {
    const response = await (await call(`/responses/${id}`)).json<Record<string, unknown>>();
    if (response.status !== "queued" && response.status !== "in_progress") return response;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each([
  ["responses", responsesScenarios],
  ["chat_completions", chatScenarios],
] as const)("objects emitted over a %s upstream", (_protocol, scenarios) => {
  it.each(scenarios)("$name: create, retrieve, replay and input_items (stored, not streamed)", async (scenario) => {
    const created = await validateAnswer(await call("/responses", requestBody(scenario, {})), "create");
    if (typeof created.id === "string") await validateStored(created.id, "stored");
  });

  it.each(scenarios)("$name: every live stream event, then retrieve, replay and input_items", async (scenario) => {
    const events = await readEvents((await call("/responses", requestBody(scenario, { stream: true }))).body);
    expect(events[0]?.type).toBe("response.created");
    await expectValid("ResponseStreamEvent", events, "stream");
    await validateStored((events[0]?.response as { id: string }).id, "streamed");
  });

  it.each(scenarios)("$name: store:false, streamed and not", async (scenario) => {
    await validateAnswer(await call("/responses", requestBody(scenario, { store: false })), "store:false");
    const events = await readEvents(
      (await call("/responses", requestBody(scenario, { store: false, stream: true }))).body,
    );
    await expectValid("ResponseStreamEvent", events, "store:false stream");
  });

  it.each(scenarios)("$name: background, polled and streamed", async (scenario) => {
    const queued = await validateAnswer(
      await call("/responses", requestBody(scenario, { background: true })),
      "queued",
    );
    await expectValid("Response", [await untilTerminal(queued.id as string)], "background final");
    const events = await readEvents(
      (await call("/responses", requestBody(scenario, { background: true, stream: true }))).body,
    );
    await expectValid("ResponseStreamEvent", events, "background stream");
  });
});
