// Errors and refusals over a Chat Completions upstream, through the real Worker: a provider's 4xx
// body in whatever shape becomes OpenAI's envelope with the upstream's status (the refused response
// is kept as failed); what the protocol cannot carry (hosted tools, prompts, item references...) is a
// 400 before anything is stored or sent; and a translatable request reaches the wire as the
// translation table says.

import { APIError } from "openai";
import type { ResponseCreateParams } from "openai/resources/responses/responses";
import { describe, expect, it } from "vitest";
import { received, routed, rowCount } from "../support/chat";
import { client, expectKeptAsFailed, model, rawEvents } from "../support/gateway";

const openai = client("sk-test-chat-errors");

const failure = (promise: Promise<unknown>): Promise<APIError> =>
  promise.then(
    () => {
      throw new Error("expected the request to fail");
    },
    (error: unknown) => error as APIError,
  );

describe("upstream 4xx bodies over Chat Completions", () => {
  it.each([
    [
      "OpenAI's envelope",
      "error:openai:400",
      400,
      { message: "mock chat error 400", type: "invalid_request_error", param: "messages", code: "bad_x" },
    ],
    [
      "Ollama's {error: string}",
      "error:ollama:404",
      404,
      {
        message: 'model "llama9" not found, try pulling it first',
        type: "invalid_request_error",
        param: null,
        code: null,
      },
    ],
    [
      "vLLM's {object: error, message}",
      "error:vllm:404",
      404,
      { message: "The model `x` does not exist.", type: "invalid_request_error", param: null, code: null },
    ],
    [
      "a plain-text body",
      "error:text:422",
      422,
      { message: "upstream says no", type: "invalid_request_error", param: null, code: null },
    ],
  ])(
    "maps %s to OpenAI's envelope with the upstream status, and keeps the refused response as failed",
    async (_shape, scenario, status, error) => {
      for (const stream of [false, true]) {
        const m = routed(scenario);
        const caught = await failure(openai.responses.create({ model: m.model, input: "x", stream }));
        expect(caught).toBeInstanceOf(APIError);
        expect(caught.status).toBe(status);
        expect(caught.error).toEqual(error);
        expect(caught.headers?.get("content-type")).toBe("application/json");
        // Kept with a code that agrees with its type: a refusal without one blames the request.
        await expectKeptAsFailed(openai, m.model, { code: error.code ?? "invalid_prompt", message: error.message });
        expect(await received(m)).toHaveLength(1);
      }
    },
  );

  it("hints at the base URL when the chat server has no /chat/completions (Ollama's URL without /v1)", async () => {
    const m = routed("error:nopath:404");
    const caught = await failure(openai.responses.create({ model: m.model, input: "x" }));
    expect([caught.status, caught.error]).toEqual([
      404,
      {
        message: expect.stringMatching(
          /^404 page not found \(The upstream at 127\.0\.0\.1:\d+ has no \/chat\/completions endpoint at its base URL\. Check UPSTREAM_BASE_URL, or the "base_url" of its UPSTREAM_ROUTES entry: it is the API's root, as Ollama's http:\/\/127\.0\.0\.1:11434\/v1\.\)$/,
        ) as string,
        type: "invalid_request_error",
        param: null,
        code: null,
      },
    ]);
  });

  it("names the client's text.format where a chat server's 400 names the response_format it was sent", async () => {
    const m = routed("error:schema:400");
    const text = { format: { type: "json_schema" as const, name: "person", schema: { type: "object" } } };
    const caught = await failure(openai.responses.create({ model: m.model, input: "x", text }));
    expect([caught.status, caught.error]).toEqual([
      400,
      {
        message: "Invalid schema for response_format 'person': In context=(), 'required' is required (400).",
        type: "invalid_request_error",
        param: "text.format",
        code: null,
      },
    ]);
    expect((await received(m))[0]?.body.response_format).toMatchObject({ type: "json_schema" });
  });

  it("names the client's max_output_tokens where a route's server refuses the max_tokens it was renamed to", async () => {
    const m = routed("error:maxtokens:400", "strict:");
    const caught = await failure(openai.responses.create({ model: m.model, input: "x", max_output_tokens: 100000 }));
    expect([caught.status, caught.param]).toEqual([400, "max_output_tokens"]);
    expect((await received(m))[0]?.body.max_tokens).toBe(100000);
  });

  it.each([
    ["vLLM", "error:vllm-context:400", "This model's maximum context length is 4096 tokens."],
    ["llama.cpp", "error:llamacpp-context:400", "the request exceeds the available context size, try increasing it"],
  ])(
    "answers %s's refusal of a prompt longer than the context as OpenAI does: context_length_exceeded on input",
    async (_server, scenario, message) => {
      for (const stream of [false, true]) {
        const m = routed(scenario);
        const caught = await failure(openai.responses.create({ model: m.model, input: "x", stream }));
        expect(caught.status).toBe(400);
        expect(caught.error).toMatchObject({
          type: "invalid_request_error",
          param: "input",
          code: "context_length_exceeded",
        });
        expect(caught.message).toContain(message);
        await expectKeptAsFailed(openai, m.model, { code: "context_length_exceeded" });
      }
    },
  );

  it("fails a background response on an upstream 4xx, with the upstream's code and message", async () => {
    const m = routed("error:openai:400");
    const queued = await openai.responses.create({ model: m.model, input: "x", background: true });
    expect(queued.status).toBe("queued");
    // Following the response's stream waits for its end.
    const events = await rawEvents("sk-test-chat-errors", `/responses/${queued.id}?stream=true`);
    expect(events.map((event) => event.type)).toEqual([
      "response.created",
      "response.queued",
      "response.in_progress",
      "error",
      "response.failed",
    ]);
    expect((await openai.responses.retrieve(queued.id)).error).toEqual({
      code: "bad_x",
      message: "mock chat error 400",
      type: "invalid_request_error",
      param: "messages",
    });
  });
});

const functionTool = { type: "function" as const, name: "f", parameters: { type: "object" }, strict: false };

describe("what Chat Completions cannot carry is refused with a 400, nothing stored, upstream not called", () => {
  const cases: [string, Partial<ResponseCreateParams> & Record<string, unknown>, string][] = [
    ["a file_search tool", { tools: [{ type: "file_search", vector_store_ids: ["vs_1"] }] }, "tools[0]"],
    ["a code_interpreter tool", { tools: [{ type: "code_interpreter", container: { type: "auto" } }] }, "tools[0]"],
    [
      "an mcp tool",
      { tools: [{ type: "mcp", server_label: "x", server_url: "https://mcp.example", require_approval: "never" }] },
      "tools[0]",
    ],
    ["a hosted tool_choice", { tools: [functionTool], tool_choice: { type: "web_search_preview" } }, "tool_choice"],
    [
      "a required tool_choice with only a web search",
      { tools: [{ type: "web_search" }], tool_choice: "required" },
      "tool_choice",
    ],
    ["a prompt template", { prompt: { id: "pmpt_1" } }, "prompt"],
    [
      "an image by file_id",
      { input: [{ role: "user", content: [{ type: "input_image", file_id: "file_1", detail: "auto" }] }] },
      "input[0].content[0].file_id",
    ],
  ];

  it.each(cases)("%s", async (_name, fields, param) => {
    for (const mode of [{}, { stream: true }, { background: true }, { store: false }]) {
      const m = routed("text:1");
      const before = await rowCount("responses");
      const caught = await failure(
        openai.responses.create({ model: m.model, input: "x", ...mode, ...fields } as never),
      );
      expect(caught.status).toBe(400);
      expect(caught.error).toMatchObject({ type: "invalid_request_error", param });
      expect(caught.message).toContain("Chat Completions");
      expect(await rowCount("responses")).toBe(before);
      expect(await received(m)).toEqual([]);
    }
  });
});

describe("a tool_choice the chat request could not honour", () => {
  // Each went out as a chat request without tools (or with `auto`): the model answered in text where
  // the client had asked for a call.
  const cases: [string, Record<string, unknown>, string, string][] = [
    ["'required' without tools", { tool_choice: "required" }, "tool_choice", "invalid_value"],
    ["'required' with an empty tools list", { tools: [], tool_choice: "required" }, "tool_choice", "invalid_value"],
    [
      "allowed_tools in mode 'required' that allows no tool",
      { tools: [functionTool], tool_choice: { type: "allowed_tools", mode: "required", tools: [] } },
      "tool_choice.tools",
      "invalid_value",
    ],
    [
      "allowed_tools in a mode OpenAI does not know",
      { tools: [functionTool], tool_choice: { type: "allowed_tools", mode: "requried", tools: [functionTool] } },
      "tool_choice.mode",
      "invalid_value",
    ],
  ];

  it.each(cases)("refuses %s with a 400, nothing stored, upstream not called", async (_name, fields, param, code) => {
    const m = routed("text:1");
    const before = await rowCount("responses");
    const caught = await failure(openai.responses.create({ model: m.model, input: "x", ...fields } as never));
    expect([caught.status, caught.error]).toEqual([
      400,
      expect.objectContaining({ type: "invalid_request_error", param, code }),
    ]);
    expect(await rowCount("responses")).toBe(before);
    expect(await received(m)).toEqual([]);
  });

  it("says what OpenAI says to 'required' without tools", async () => {
    const caught = await failure(
      openai.responses.create({ model: routed("text:1").model, input: "x", tool_choice: "required" }),
    );
    expect(caught.error).toMatchObject({ message: "Tool choice 'required' must be specified with 'tools' parameter." });
  });

  it("sends allowed_tools in mode 'none' (Open Responses) as tool_choice none, and without a mode as auto", async () => {
    for (const [mode, sent] of [
      ["none", "none"],
      [undefined, "auto"],
    ] as const) {
      const m = routed("text:1");
      const tool_choice = { type: "allowed_tools", mode, tools: [{ type: "function", name: "f" }] };
      await openai.responses.create({ model: m.model, input: "x", tools: [functionTool], tool_choice } as never);
      expect((await received(m))[0]?.body.tool_choice).toBe(sent);
    }
  });
});

describe("a web search, which a chat server cannot run", () => {
  it("is left out of the chat request: the model is offered the other tools and answers", async () => {
    const m = routed("text:1");
    const response = await openai.responses.create({
      model: m.model,
      input: "x",
      tools: [functionTool, { type: "web_search" }, { type: "web_search_preview" }],
    });
    expect(response.status).toBe("completed");
    const [sent] = await received(m);
    expect((sent?.body.tools as { function: { name: string } }[]).map((tool) => tool.function.name)).toEqual(["f"]);
  });

  it("run by OpenAI in an earlier turn is left out when the chain goes on over a chat upstream", async () => {
    const searched = await openai.responses.create({
      model: model("fixture:openai-web-search-tool.1.chunks.txt:0"),
      input: "what is new?",
    });
    expect(searched.output.map((item) => item.type)).toContain("web_search_call");
    const m = routed("echo");
    const next = await openai.responses.create({ model: m.model, previous_response_id: searched.id, input: "and?" });
    expect(next.status).toBe("completed");
    const messages = (await received(m))[0]?.body.messages as { role: string }[];
    expect(messages.map((message) => message.role)).toEqual(["user", "assistant", "user"]);
  });

  it("is refused when tool_choice forces it", async () => {
    const m = routed("text:1");
    const caught = await failure(
      openai.responses.create({
        model: m.model,
        input: "x",
        tools: [functionTool, { type: "web_search" }],
        tool_choice: { type: "web_search" },
      } as never),
    );
    expect([caught.status, caught.error]).toEqual([
      400,
      expect.objectContaining({ param: "tool_choice", code: "unsupported_value" }),
    ]);
    expect(await received(m)).toEqual([]);
  });
});

describe("the request translation on the wire", () => {
  it("sends the chat body the translation table describes", async () => {
    const m = routed("text:1");
    await openai.responses.create({
      model: m.model,
      instructions: "Be terse.",
      input: [
        { role: "developer", content: "Use metric units." },
        {
          role: "user",
          content: [
            { type: "input_text", text: "What is in" },
            { type: "input_image", image_url: "data:image/png;base64,AAAA", detail: "low" },
          ],
        },
      ],
      max_output_tokens: 64,
      temperature: 0.2,
      top_p: 0.9,
      reasoning: { effort: "low" },
      text: { format: { type: "json_schema", name: "answer", schema: { type: "object" }, strict: true } },
      tools: [functionTool],
      tool_choice: { type: "function", name: "f" },
      parallel_tool_calls: false,
      metadata: { stays: "here" },
      safety_identifier: "user-1",
      top_logprobs: 2,
      truncation: "auto",
      seed: 7,
    } as never);
    const [sent] = await received(m);
    expect(sent?.path).toBe("/v1/chat/completions");
    expect(sent?.body).toEqual({
      model: m.upstream,
      messages: [
        // One leading system message: many chat templates take no other (Qwen 3.5/3.6).
        { role: "system", content: "Be terse.\n\nUse metric units." },
        {
          role: "user",
          content: [
            { type: "text", text: "What is in" },
            { type: "image_url", image_url: { url: "data:image/png;base64,AAAA", detail: "low" } },
          ],
        },
      ],
      seed: 7,
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object" }, strict: false } }],
      tool_choice: { type: "function", function: { name: "f" } },
      parallel_tool_calls: false,
      response_format: {
        type: "json_schema",
        json_schema: { name: "answer", schema: { type: "object" }, strict: true },
      },
      reasoning_effort: "low",
      max_completion_tokens: 64,
      temperature: 0.2,
      top_p: 0.9,
      logprobs: true,
      top_logprobs: 2,
      user: "user-1",
      stream: true,
      stream_options: { include_usage: true },
    });
  });
});
