import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { describe, expect, it } from "vitest";
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
