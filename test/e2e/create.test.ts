import type { ResponseCreateParamsNonStreaming, ResponseStreamEvent } from "openai/resources/responses/responses";
import { describe, expect, it } from "vitest";
import { received, routed } from "../support/chat";
import { client, gatewayFetch, GATEWAY_URL, model, readEvents, upstream, withoutParsed } from "../support/gateway";
import { countAll } from "../support/shards";

const RESPONSE_FIELDS = [
  "id",
  "object",
  "created_at",
  "status",
  "background",
  "completed_at",
  "error",
  "incomplete_details",
  "instructions",
  "max_output_tokens",
  "max_tool_calls",
  "model",
  "output",
  "parallel_tool_calls",
  "previous_response_id",
  "prompt_cache_key",
  "reasoning",
  "safety_identifier",
  "service_tier",
  "store",
  "temperature",
  "text",
  "tool_choice",
  "tools",
  "top_logprobs",
  "top_p",
  "truncation",
  "usage",
  "user",
  "metadata",
  "conversation",
];

describe("POST /v1/responses", () => {
  it("answers a non-streaming create with a full Response that retrieve returns unchanged", async () => {
    const openai = client();
    const m = model("text:3");
    const response = await openai.responses.create({
      model: m,
      input: "hello",
      metadata: { job: "42" },
      instructions: "Be brief.",
    });
    expect(response.id).toMatch(/^resp_[0-9a-f]{48}$/);
    expect(response.status).toBe("completed");
    expect(response.output_text).toBe("w0 w1 w2 ");
    expect(response.metadata).toEqual({ job: "42" });
    expect(response.instructions).toBe("Be brief.");
    expect((response as unknown as { store: boolean }).store).toBe(true);
    for (const field of RESPONSE_FIELDS) expect(response, field).toHaveProperty(field);
    expect(await openai.responses.retrieve(response.id)).toEqual(response);
  });

  it("forwards every request field statelessly: store false, no background, no previous_response_id", async () => {
    const openai = client();
    const m = model("text:1");
    await openai.responses.create({
      model: m,
      input: [{ role: "user", content: "hi" }],
      instructions: "sys",
      tools: [{ type: "function", name: "f", parameters: { type: "object", properties: {} }, strict: false }],
      tool_choice: "auto",
      text: { format: { type: "text" } },
      reasoning: { effort: "low" },
      include: ["message.output_text.logprobs"],
      metadata: { a: "b" },
      max_output_tokens: 64,
      temperature: 0.5,
      top_p: 0.9,
      parallel_tool_calls: false,
      truncation: "auto",
      user: "u1",
      safety_identifier: "s1",
      prompt_cache_key: "k1",
    });
    const [sent] = await upstream.requests(m);
    expect(sent?.path).toBe("/v1/responses");
    expect(sent?.authorization).toBe("Bearer sk-test-tenant-a");
    expect(sent?.body).toMatchObject({
      model: m,
      input: [{ role: "user", content: "hi" }],
      instructions: "sys",
      tool_choice: "auto",
      reasoning: { effort: "low" },
      metadata: { a: "b" },
      max_output_tokens: 64,
      temperature: 0.5,
      top_p: 0.9,
      parallel_tool_calls: false,
      truncation: "auto",
      user: "u1",
      safety_identifier: "s1",
      prompt_cache_key: "k1",
      store: false,
      stream: true,
    });
    expect(sent?.body.include).toEqual(["message.output_text.logprobs", "reasoning.encrypted_content"]);
    expect(sent?.body).not.toHaveProperty("background");
    expect(sent?.body).not.toHaveProperty("previous_response_id");
  });

  it("streams events with contiguous sequence numbers from 0, the helper's final response equal to retrieve", async () => {
    const openai = client();
    const events: ResponseStreamEvent[] = [];
    const stream = openai.responses.stream({ model: model("text:6"), input: "count" });
    stream.on("event", (event) => events.push(event));
    const final = await stream.finalResponse();
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    expect(events[0]?.type).toBe("response.created");
    expect(events.at(-1)?.type).toBe("response.completed");
    for (const event of events) if ("response" in event) expect(event.response.id).toBe(final.id);
    const stored = await openai.responses.retrieve(final.id);
    expect(stored).toEqual(withoutParsed(final));
  });

  it("sends SSE frames whose event name equals data.type, without [DONE]", async () => {
    const res = await gatewayFetch(`${GATEWAY_URL}/responses`, {
      method: "POST",
      headers: { authorization: "Bearer sk-test-tenant-a", "content-type": "application/json" },
      body: JSON.stringify({ model: model("text:2"), input: "x", stream: true }),
    });
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
    const text = await res.text();
    expect(text).not.toContain("[DONE]");
    for (const frame of text.split("\n\n").filter(Boolean)) {
      const [eventLine, dataLine] = frame.split("\n");
      expect((JSON.parse(dataLine?.slice(6) ?? "") as { type: string }).type).toBe(eventLine?.slice(7));
    }
  });

  it("with store:false streams through and writes nothing", async () => {
    const openai = client();
    const stream = openai.responses.stream({ model: model("text:3"), input: "x", store: false });
    const final = await stream.finalResponse();
    expect(final.output_text).toBe("w0 w1 w2 ");
    expect((final as unknown as { store: boolean }).store).toBe(false);
    const nonStream = await openai.responses.create({ model: model("text:2"), input: "x", store: false });
    expect(nonStream.output_text).toBe("w0 w1 ");
    for (const id of [final.id, nonStream.id]) {
      expect(await countAll("SELECT count(*) AS n FROM responses WHERE id = ?", id)).toBe(0);
      await expect(openai.responses.retrieve(id)).rejects.toMatchObject({ status: 404 });
    }
  });

  it("turns an upstream that answers plain JSON into a complete stream", async () => {
    const openai = client();
    const final = await openai.responses.stream({ model: model("json"), input: "x" }).finalResponse();
    expect(final.output_text).toBe("plain json");
    expect(await openai.responses.retrieve(final.id)).toEqual(withoutParsed(final));
  });

  it("records an incomplete response as incomplete", async () => {
    const openai = client();
    const response = await openai.responses.create({ model: model("incomplete"), input: "x" });
    expect(response.status).toBe("incomplete");
    expect(response.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect((await openai.responses.retrieve(response.id)).status).toBe("incomplete");
  });

  it("passes a function call through and stores it", async () => {
    const openai = client();
    const response = await openai.responses.create({ model: model("function:get_weather"), input: "weather?" });
    expect(response.output[0]).toMatchObject({
      type: "function_call",
      name: "get_weather",
      arguments: '{"city":"Paris"}',
    });
  });

  it("streams a stored run's SSE to a raw HTTP client too", async () => {
    const res = await gatewayFetch(`${GATEWAY_URL}/responses`, {
      method: "POST",
      headers: { authorization: "Bearer sk-test-tenant-a", "content-type": "application/json" },
      body: JSON.stringify({ model: model("text:2"), input: "x", stream: true }),
    });
    const events = await readEvents(res.body);
    expect(events.map((event) => event.type)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
  });
});

// `generate` is the WebSocket event's field; the SDK's HTTP create params do not name it.
type WithGenerate = ResponseCreateParamsNonStreaming & { generate?: unknown };
const create = (body: WithGenerate, key?: string) =>
  client(key).responses.create(body as ResponseCreateParamsNonStreaming);

describe("POST /v1/responses with generate: false", () => {
  it.each([
    ["responses", () => ({ model: model("echo"), upstream: "" })],
    ["chat_completions", () => routed("echo")],
  ])(
    "over a %s route: completed with no output, zero usage, no model call; retrievable and chained from with its input",
    async (_route, pick) => {
      const m = pick();
      const target = m.upstream === "" ? m.model : m.upstream;
      const warm = await create({ model: m.model, input: "the whole prompt", generate: false });
      expect(warm).toMatchObject({ status: "completed", output: [], usage: { total_tokens: 0 }, store: true });
      expect(await upstream.requests(target)).toEqual([]);
      const openai = client();
      expect(await openai.responses.retrieve(warm.id)).toEqual(warm);
      expect((await openai.responses.inputItems.list(warm.id)).data).toHaveLength(1);
      const next = await openai.responses.create({ model: m.model, previous_response_id: warm.id, input: "and more" });
      expect(next.output_text).toBe("echo(2): and more");
      const [sent] = await upstream.requests(target);
      expect(JSON.stringify(sent?.body)).toContain("the whole prompt");
    },
  );

  it("streams response.created then response.completed, the model never called", async () => {
    const m = model("text:3");
    const response = await gatewayFetch(`${GATEWAY_URL}/responses`, {
      method: "POST",
      headers: { authorization: "Bearer sk-test-tenant-a", "content-type": "application/json" },
      body: JSON.stringify({ model: m, input: "hi", stream: true, generate: false, store: false }),
    });
    const events = await readEvents(response.body);
    expect(events.map((event) => event.type)).toEqual(["response.created", "response.completed"]);
    expect(events.at(-1)).toMatchObject({ response: { status: "completed", output: [], store: false } });
    expect(await upstream.requests(m)).toEqual([]);
  });

  it("in a conversation: its input becomes the conversation's items, which the next turn sends", async () => {
    const openai = client();
    const m = routed("echo");
    const conversation = await openai.conversations.create({});
    await create({ model: m.model, conversation: conversation.id, input: "remember this", generate: false });
    expect(await received(m)).toEqual([]);
    const items = await openai.conversations.items.list(conversation.id);
    expect(items.data.map((item) => item.type)).toEqual(["message"]);
    const next = await openai.responses.create({ model: m.model, conversation: conversation.id, input: "then" });
    expect(next.output_text).toBe("echo(2): then");
  });

  it("refuses a generate that is not a boolean, as the socket does", async () => {
    await expect(create({ model: model("text:1"), input: "hi", generate: "no" })).rejects.toMatchObject({
      status: 400,
      error: { code: "invalid_type", param: "generate" },
    });
  });

  it("never sends generate upstream (true is the default; a warm-up is the gateway's own)", async () => {
    const responses = model("text:1");
    await create({ model: responses, input: "hi", generate: true });
    const chat = routed("text:1");
    await create({ model: chat.model, input: "hi", generate: true });
    const [sentResponses] = await upstream.requests(responses);
    const [sentChat] = await received(chat);
    expect(sentResponses?.body).not.toHaveProperty("generate");
    expect(sentChat?.body).not.toHaveProperty("generate");
  });
});
