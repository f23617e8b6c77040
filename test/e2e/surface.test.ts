// The rest of the Responses surface: input_tokens and compact forwarded to a `responses` upstream
// (context expanded first; for a Chat Completions upstream the gateway does both itself), `prompt`
// forwarded, and OpenAI's 404 for unknown routes.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { received, routed } from "../support/chat";
import { client, gatewayFetch, model, upstream } from "../support/gateway";
import { countAll } from "../support/shards";

const UPSTREAM_HOST = new URL(env.UPSTREAM_BASE_URL).host;

describe("POST /v1/responses/input_tokens and /v1/responses/compact", () => {
  it("counts input tokens upstream, with a conversation's items expanded into the input", async () => {
    const openai = client("sk-test-surface");
    const conversation = await openai.conversations.create({
      items: [
        { role: "user", content: "a" },
        { role: "user", content: "b" },
      ],
    });
    const m = model("echo");
    const counted = await openai.responses.inputTokens.count({ model: m, conversation: conversation.id, input: "c" });
    expect(counted).toEqual({ object: "response.input_tokens", input_tokens: 30 });
    const [sent] = await upstream.requests(m);
    expect(sent?.path).toBe("/v1/responses/input_tokens");
    expect(sent?.body).toEqual({
      model: m,
      input: [
        { role: "user", content: "a" },
        { role: "user", content: "b" },
        { role: "user", content: "c" },
      ],
    });
    expect(sent?.authorization).toBe("Bearer sk-test-surface");
  });

  it("compacts upstream with the previous_response_id chain expanded, storing nothing", async () => {
    const openai = client("sk-test-surface");
    const first = await openai.responses.create({ model: model("text:1"), input: "hello" });
    const m = model("echo");
    const compacted = await openai.responses.compact({ model: m, previous_response_id: first.id, input: "next" });
    expect(compacted).toMatchObject({
      object: "response.compaction",
      output: [
        { type: "message", role: "user", content: [{ type: "input_text", text: "hello" }] },
        { type: "message", role: "user", content: [{ type: "input_text", text: "next" }] },
        { type: "compaction", encrypted_content: "mock:3" },
      ],
    });
    const [sent] = await upstream.requests(m);
    expect(sent?.path).toBe("/v1/responses/compact");
    expect(sent?.body).not.toHaveProperty("previous_response_id");
    expect((sent?.body.input as unknown[]).length).toBe(3);
    expect(await countAll("SELECT count(*) AS n FROM responses WHERE model = ?", m)).toBe(0);
  });

  it("validates like a create: model required for compact, context ids checked, upstream errors mapped", async () => {
    const openai = client("sk-test-surface");
    await expect(openai.responses.compact({ input: "x" } as never)).rejects.toMatchObject({
      status: 400,
      param: "model",
      code: "missing_required_parameter",
    });
    await expect(
      openai.responses.inputTokens.count({ model: "m", previous_response_id: "resp_" + "0".repeat(48) }),
    ).rejects.toMatchObject({ status: 400, code: "previous_response_not_found" });
    await expect(
      openai.responses.inputTokens.count({ model: "m", conversation: "conv_" + "0".repeat(48) }),
    ).rejects.toMatchObject({ status: 404, param: "conversation" });
    await expect(openai.responses.inputTokens.count({ model: model("status:422") })).rejects.toMatchObject({
      status: 422,
      code: "mock_422",
    });
  });

  it("keeps a 404 from a Responses server without input_tokens, with a hint naming the endpoint", async () => {
    // Servers that implement only the create lack it. Without compact the gateway compacts (compaction.test.ts).
    const openai = client("sk-test-surface");
    await expect(openai.responses.inputTokens.count({ model: model("no-route"), input: "x" })).rejects.toMatchObject({
      status: 404,
      error: {
        message: `404 page not found (The upstream at ${UPSTREAM_HOST} has no /responses/input_tokens endpoint: it serves the Responses API without OpenAI's token counting. Over UPSTREAM_PROTOCOL=chat_completions (or "protocol": "chat_completions" in its UPSTREAM_ROUTES entry) the gateway answers an estimate.)`,
        param: null,
        code: null,
      },
    });
  });

  it("keeps vLLM's 405 to input_tokens (it has GET /responses/{id}), with the hint naming the endpoint", async () => {
    const openai = client("sk-test-surface");
    await expect(openai.responses.inputTokens.count({ model: model("vllm-405"), input: "x" })).rejects.toMatchObject({
      status: 405,
      error: {
        message: `Method Not Allowed (The upstream at ${UPSTREAM_HOST} has no /responses/input_tokens endpoint: it serves the Responses API without OpenAI's token counting. Over UPSTREAM_PROTOCOL=chat_completions (or "protocol": "chat_completions" in its UPSTREAM_ROUTES entry) the gateway answers an estimate.)`,
      },
    });
  });

  it("answers LM Studio's 200 error for input_tokens it lacks as the 404 other servers give, with the same hint", async () => {
    const openai = client("sk-test-surface");
    await expect(openai.responses.inputTokens.count({ model: model("lm-studio"), input: "x" })).rejects.toMatchObject({
      status: 404,
      error: {
        message: `Unexpected endpoint or method. (POST /v1/responses/input_tokens) (The upstream at ${UPSTREAM_HOST} has no /responses/input_tokens endpoint: it serves the Responses API without OpenAI's token counting. Over UPSTREAM_PROTOCOL=chat_completions (or "protocol": "chat_completions" in its UPSTREAM_ROUTES entry) the gateway answers an estimate.)`,
        param: null,
        code: null,
      },
    });
  });

  it("answers a 502 envelope, not the body, when the upstream's answer is not JSON", async () => {
    const openai = client("sk-test-surface");
    for (const [scenario, message] of [
      ["html", /web page \(text\/html\), not JSON/],
      ["cut", /not a JSON object/],
    ] as const) {
      const expected = { status: 502, type: "server_error", code: "upstream_invalid_response", message };
      await expect(openai.responses.inputTokens.count({ model: model(scenario), input: "x" })).rejects.toMatchObject(
        expected,
      );
      await expect(openai.responses.compact({ model: model(scenario), input: "x" })).rejects.toMatchObject(expected);
    }
  });

  it("does both itself when the model's upstream speaks Chat Completions (see compaction.test.ts)", async () => {
    const openai = client("sk-test-surface");
    const m = routed("summarize");
    const counted = await openai.responses.inputTokens.count({ model: m.model, input: "x" });
    expect(counted).toMatchObject({ object: "response.input_tokens", estimated: true });
    expect(await received(m)).toEqual([]);
    const compacted = await openai.responses.compact({ model: m.model, input: "x" });
    expect(compacted.output.at(-1)).toMatchObject({ type: "compaction" });
    expect((await received(m)).map((request) => request.path)).toEqual(["/v1/chat/completions"]);
  });
});

describe("prompt and unknown routes", () => {
  it("forwards a stored prompt reference upstream as it came", async () => {
    const openai = client("sk-test-surface");
    const m = model("text:1");
    const prompt = { id: "pmpt_123", version: "2", variables: { city: "Paris" } };
    const response = await openai.responses.create({ model: m, prompt, input: "x" });
    expect(response.status).toBe("completed");
    const [sent] = await upstream.requests(m);
    expect(sent?.body.prompt).toEqual(prompt);
  });

  it.each([
    ["GET", "/v1/nope"],
    ["GET", "/v1/conversations"],
    ["PUT", "/v1/conversations/conv_1"],
    ["GET", "/v1/responses/input_tokens/extra"],
  ])("answers %s %s with OpenAI's Invalid URL 404", async (method, path) => {
    const response = await gatewayFetch(`http://gateway.test${path}`, {
      method,
      headers: { authorization: "Bearer sk-test-surface" },
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      error: { message: `Invalid URL (${method} ${path})`, type: "invalid_request_error", param: null, code: null },
    });
  });
});
