// Reasoning a chat model made, as the client sees it and as it comes back: every such item carries
// the gateway's mark as its `encrypted_content`, and asked for `reasoning.encrypted_content` (or
// made for a store:false create) its text sealed for the tenant, which a client that keeps its own
// history (store:false) sends back for the chat server to get as `reasoning_content`.

import type OpenAI from "openai";
import type { ResponseInputItem, ResponseReasoningItem } from "openai/resources/responses/responses";
import { describe, expect, it } from "vitest";
import { received, routed } from "../support/chat";
import { client, readEvents, GATEWAY_URL, gatewayFetch } from "../support/gateway";

const KEY = "sk-test-chat-reasoning";
const openai = client(KEY);
const REASONING = "fixture:vercel-ai__deepseek-reasoning.chunks.txt";
const INCLUDE = ["reasoning.encrypted_content" as const];

const reasoningOf = (response: OpenAI.Responses.Response): ResponseReasoningItem =>
  response.output.find((item) => item.type === "reasoning") as ResponseReasoningItem;

const textOf = (item: ResponseReasoningItem): string => item.content?.map((part) => part.text).join("") ?? "";

/** The next turn of a client that keeps its history: the reasoning as the AI SDK sends it back (no content). */
function nextTurn(first: OpenAI.Responses.Response, encrypted: string | null | undefined): ResponseInputItem[] {
  const reasoning = reasoningOf(first);
  return [
    { role: "user", content: "How many r's in strawberry?" },
    { type: "reasoning", id: reasoning.id, encrypted_content: encrypted, summary: [] },
    { role: "assistant", content: first.output_text },
    { role: "user", content: "And in raspberry?" },
  ];
}

const assistantOf = async (m: ReturnType<typeof routed>) =>
  ((await received(m))[0]?.body as { messages: Record<string, unknown>[] }).messages.find(
    (message) => message.role === "assistant",
  );

describe("reasoning made over Chat Completions", () => {
  it("is sealed for a store:false client that asks for it, and comes back to the chat server as reasoning_content", async () => {
    const first = await openai.responses.create({
      model: routed(REASONING).model,
      input: "How many r's in strawberry?",
      store: false,
      include: INCLUDE,
    });
    const reasoning = reasoningOf(first);
    expect(reasoning.encrypted_content).toMatch(/^gwr1\.[\w-]+$/);
    const text = textOf(reasoning);
    expect(text.length).toBeGreaterThan(10);
    // Sealed, not encoded: the text cannot be read from it.
    expect(
      atob((reasoning.encrypted_content as string).slice(5).replaceAll("-", "+").replaceAll("_", "/")),
    ).not.toContain(text.slice(0, 10));

    const next = routed("echo");
    const second = await openai.responses.create({
      model: next.model,
      input: nextTurn(first, reasoning.encrypted_content),
      store: false,
    });
    expect(second.status).toBe("completed");
    expect(await assistantOf(next)).toEqual({ role: "assistant", content: first.output_text, reasoning_content: text });
  });

  it("streams the sealed value in output_item.done and response.completed", async () => {
    const res = await gatewayFetch(`${GATEWAY_URL}/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: routed(REASONING).model,
        input: "x",
        store: false,
        include: INCLUDE,
        stream: true,
      }),
    });
    const events = await readEvents(res.body);
    const done = events.find(
      (event) => event.type === "response.output_item.done" && (event.item as { type: string }).type === "reasoning",
    );
    const sealed = (done?.item as { encrypted_content: string }).encrypted_content;
    expect(sealed).toMatch(/^gwr1\./);
    const completed = events.at(-1) as { type: string; response: { output: { encrypted_content?: string }[] } };
    expect(completed.type).toBe("response.completed");
    expect(completed.response.output[0]?.encrypted_content).toBe(sealed);
  });

  it("is sealed for a store:false client that does not ask: the AI SDK asks only for model names it knows", async () => {
    const first = await openai.responses.create({ model: routed(REASONING).model, input: "x", store: false });
    const reasoning = reasoningOf(first);
    expect(reasoning.encrypted_content).toMatch(/^gwr1\.[\w-]+$/);
    const next = routed("echo");
    await openai.responses.create({
      model: next.model,
      input: nextTurn(first, reasoning.encrypted_content),
      store: false,
    });
    expect(await assistantOf(next)).toEqual({
      role: "assistant",
      content: first.output_text,
      reasoning_content: textOf(reasoning),
    });
  });

  it("is marked only, without its text, when stored and not asked for; the bare mark is not sent back", async () => {
    const first = await openai.responses.create({ model: routed(REASONING).model, input: "x" });
    expect(reasoningOf(first).encrypted_content).toBe("gwr1");
    const next = routed("echo");
    await openai.responses.create({ model: next.model, input: nextTurn(first, "gwr1"), store: false });
    expect(await assistantOf(next)).toEqual({ role: "assistant", content: first.output_text });
  });

  it("refuses a sealed value that was altered or made for another key: 400 invalid_encrypted_content naming it", async () => {
    const first = await openai.responses.create({
      model: routed(REASONING).model,
      input: "x",
      store: false,
      include: INCLUDE,
    });
    const sealed = reasoningOf(first).encrypted_content as string;
    const flipped = sealed.at(-5) === "A" ? "B" : "A";
    const altered = `${sealed.slice(0, -5)}${flipped}${sealed.slice(-4)}`;
    for (const [caller, value] of [
      [openai, altered],
      [client("sk-test-chat-reasoning-other"), sealed],
    ] as const) {
      const next = routed("echo");
      const failure: unknown = await caller.responses
        .create({ model: next.model, input: nextTurn(first, value), store: false })
        .catch((error: unknown) => error);
      expect(failure).toMatchObject({
        status: 400,
        error: {
          type: "invalid_request_error",
          code: "invalid_encrypted_content",
          param: "input[1].encrypted_content",
        },
      });
      expect(await received(next)).toEqual([]);
    }
  });

  it("keeps the mark in what a stored response shows: retrieve, input items and conversation items", async () => {
    const conversation = await openai.conversations.create();
    const first = await openai.responses.create({
      model: routed(REASONING).model,
      input: "x",
      conversation: conversation.id,
    });
    const reasoning = reasoningOf(first);
    expect(reasoning.encrypted_content).toBe("gwr1");
    expect(reasoningOf(await openai.responses.retrieve(first.id))).toEqual(reasoning);
    const items = await openai.conversations.items.list(conversation.id, { order: "asc" });
    expect(items.data.find((item) => item.type === "reasoning")).toMatchObject({ encrypted_content: "gwr1" });

    // A turn that names the items by reference gets them from storage, text and mark.
    const message = first.output.find((item) => item.type === "message") as { id: string };
    const next = routed("echo");
    const second = await openai.responses.create({
      model: next.model,
      input: [
        { type: "item_reference", id: reasoning.id },
        { type: "item_reference", id: message.id },
        { role: "user", content: "y" },
      ],
    });
    expect(await assistantOf(next)).toEqual({
      role: "assistant",
      content: first.output_text,
      reasoning_content: textOf(reasoning),
    });
    const listed = await openai.responses.inputItems.list(second.id);
    expect(listed.data.find((item) => item.type === "reasoning")).toMatchObject({ encrypted_content: "gwr1" });
  });
});

describe("reasoning made over Chat Completions, asked for as a summary (reasoning.summary)", () => {
  const SUMMARY = { summary: "auto" as const };
  const summaryOf = (item: ResponseReasoningItem): string => item.summary.map((part) => part.text).join("");

  it("streams the text as one summary part in OpenAI's order, and the item keeps it in summary alone", async () => {
    const res = await gatewayFetch(`${GATEWAY_URL}/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: routed(REASONING).model, input: "x", reasoning: SUMMARY, stream: true }),
    });
    const events = await readEvents(res.body);
    const reasoningEvents = events.filter((event) => event.output_index === 0).map((event) => event.type);
    const deltas = reasoningEvents.filter((type) => type === "response.reasoning_summary_text.delta").length;
    expect(deltas).toBeGreaterThan(1);
    expect(reasoningEvents).toEqual([
      "response.output_item.added",
      "response.reasoning_summary_part.added",
      ...Array<string>(deltas).fill("response.reasoning_summary_text.delta"),
      "response.reasoning_summary_text.done",
      "response.reasoning_summary_part.done",
      "response.output_item.done",
    ]);
    expect(events.find((event) => event.type === "response.output_item.added")?.item).toMatchObject({
      type: "reasoning",
      summary: [],
    });
    const text = events.find((event) => event.type === "response.reasoning_summary_text.done")?.text as string;
    expect(text).toMatch(/^We need to count/);
    const item = { type: "reasoning", summary: [{ type: "summary_text", text }], encrypted_content: "gwr1" };
    const done = events.find((event) => event.type === "response.output_item.done")?.item;
    expect(done).toMatchObject(item);
    expect(done).not.toHaveProperty("content");
    const completed = events.at(-1) as { type: string; response: { id: string; output: unknown[] } };
    expect(completed.response.output[0]).toEqual(done);
    // Stored once, as sent: retrieve shows the same item.
    expect((await openai.responses.retrieve(completed.response.id)).output[0]).toEqual(done);
  });

  it("is accumulated by the openai SDK's responses.stream()", async () => {
    const stream = openai.responses.stream({ model: routed(REASONING).model, input: "x", reasoning: SUMMARY });
    let deltas = "";
    stream.on("response.reasoning_summary_text.delta", (event) => (deltas += event.delta));
    const final = await stream.finalResponse();
    const reasoning = reasoningOf(final);
    expect(summaryOf(reasoning)).toBe(deltas);
    expect(deltas).toMatch(/^We need to count/);
    expect(reasoning.content).toBeUndefined();
  });

  it("comes back to the chat server as reasoning_content: chained, and from a store:false client's summary", async () => {
    const first = await openai.responses.create({ model: routed(REASONING).model, input: "x", reasoning: SUMMARY });
    const text = summaryOf(reasoningOf(first));
    expect(text.length).toBeGreaterThan(10);
    const chained = routed("echo");
    await openai.responses.create({ model: chained.model, input: "y", previous_response_id: first.id });
    expect(await assistantOf(chained)).toEqual({
      role: "assistant",
      content: first.output_text,
      reasoning_content: text,
    });

    // A store:false client sends the item back as the AI SDK does: the summary it showed, and the
    // encrypted_content the item carried (sealed, or the bare mark when the gateway has no secret).
    const unstored = await openai.responses.create({
      model: routed(REASONING).model,
      input: "x",
      reasoning: SUMMARY,
      store: false,
    });
    const reasoning = reasoningOf(unstored);
    expect(reasoning.encrypted_content).toMatch(/^gwr1\./);
    for (const encrypted of [reasoning.encrypted_content, "gwr1"]) {
      const next = routed("echo");
      const input = nextTurn(unstored, encrypted);
      input[1] = { ...(input[1] as ResponseReasoningItem), summary: reasoning.summary };
      await openai.responses.create({ model: next.model, input, store: false });
      expect(await assistantOf(next)).toEqual({
        role: "assistant",
        content: unstored.output_text,
        reasoning_content: summaryOf(reasoning),
      });
    }
  });

  it("leaves another model's summary out, as before", async () => {
    const next = routed("echo");
    const input: ResponseInputItem[] = [
      { role: "user", content: "x" },
      { type: "reasoning", id: "rs_other", summary: [{ type: "summary_text", text: "OpenAI's summary" }] },
      { role: "assistant", content: "y" },
    ];
    await openai.responses.create({ model: next.model, input, store: false });
    expect(await assistantOf(next)).toEqual({ role: "assistant", content: "y" });
  });
});
