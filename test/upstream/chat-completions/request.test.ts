import { describe, expect, it } from "vitest";
import { ApiError } from "../../../src/errors";
import { validateCreateRequest } from "../../../src/responses/create-request";
import type { InputItem, JsonObject } from "../../../src/responses/types";
import { chatCompletionsProtocol } from "../../../src/upstream/chat-completions";

/** The chat body for a Responses body whose `input` is the whole context. */
function build(body: JsonObject): JsonObject {
  const request = validateCreateRequest({ model: "m", ...body });
  return chatCompletionsProtocol.buildBody(request, request.input);
}

const messagesOf = (input: InputItem[] | string, extra: JsonObject = {}) => build({ input, ...extra }).messages;

/** The ApiError `action` throws (fails the test when it does not throw one). */
function apiError(action: () => unknown): ApiError {
  try {
    action();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error("expected an ApiError");
}

const validate = (body: JsonObject) => () =>
  chatCompletionsProtocol.validate(validateCreateRequest({ model: "m", ...body }));

describe("request translation: messages", () => {
  it("sends instructions as the first system message", () => {
    expect(messagesOf("hi", { instructions: "Be brief." })).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "hi" },
    ]);
  });

  it("sends developer messages as system messages", () => {
    expect(messagesOf([{ role: "developer", content: "Rules." }])).toEqual([{ role: "system", content: "Rules." }]);
  });

  it("joins the instructions and the system and developer messages opening the input into one system message", () => {
    const input = [
      { role: "developer", content: "Rules." },
      { role: "system", content: [{ type: "input_text", text: "More rules." }] },
      { role: "user", content: "hi" },
      { role: "developer", content: "Later." },
    ];
    expect(messagesOf(input, { instructions: "Be brief." })).toEqual([
      { role: "system", content: "Be brief.\n\nRules.\n\nMore rules." },
      { role: "user", content: "hi" },
      { role: "user", content: "Later." },
    ]);
    expect((messagesOf(input.slice(0, 3)) as JsonObject[])[0]).toEqual({
      role: "system",
      content: "Rules.\n\nMore rules.",
    });
  });

  it("sends a system or developer message that does not open the conversation as a user message in its place", () => {
    const input = [
      { role: "user", content: "hi" },
      { role: "assistant", content: "Hello." },
      { role: "developer", content: "From now on, answer in French." },
      { role: "user", content: "bye" },
      { role: "system", content: [{ type: "input_text", text: "Be brief." }] },
    ];
    expect(messagesOf(input)).toEqual([
      { role: "user", content: "hi" },
      { role: "assistant", content: "Hello." },
      { role: "user", content: "From now on, answer in French." },
      { role: "user", content: "bye" },
      { role: "user", content: "Be brief." },
    ]);
  });

  it("sends a system or developer message that comes between calls and their outputs after the outputs", () => {
    const call = (id: string) => ({ type: "function_call", call_id: id, name: "f", arguments: "{}" });
    const output = (id: string) => ({ type: "function_call_output", call_id: id, output: id });
    const input = [
      { role: "user", content: "hi" },
      call("c1"),
      { role: "developer", content: "Mind the budget." },
      call("c2"),
      output("c1"),
      { role: "system", content: "Be brief." },
      output("c2"),
      { role: "user", content: "go on" },
    ];
    expect(messagesOf(input)).toEqual([
      { role: "user", content: "hi" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "c1", type: "function", function: { name: "f", arguments: "{}" } },
          { id: "c2", type: "function", function: { name: "f", arguments: "{}" } },
        ],
      },
      { role: "tool", tool_call_id: "c1", content: "c1" },
      { role: "tool", tool_call_id: "c2", content: "c2" },
      { role: "user", content: "Mind the budget." },
      { role: "user", content: "Be brief." },
      { role: "user", content: "go on" },
    ]);
    // Calls never answered: the message still goes, before whatever comes next.
    expect(messagesOf([{ role: "user", content: "hi" }, call("c1"), { role: "developer", content: "Note." }])).toEqual([
      { role: "user", content: "hi" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }],
      },
      { role: "user", content: "Note." },
    ]);
  });

  it("flattens system content parts into one string", () => {
    const input = [
      {
        type: "message",
        role: "system",
        content: [
          { type: "input_text", text: "a" },
          { type: "input_text", text: "b" },
        ],
      },
    ];
    expect(messagesOf(input)).toEqual([{ role: "system", content: "a\nb" }]);
  });

  it("sends a user message whose parts are all text as one string", () => {
    const input = [
      {
        role: "user",
        content: [
          { type: "input_text", text: "Hello" },
          { type: "input_text", text: "world" },
        ],
      },
    ];
    expect(messagesOf(input)).toEqual([{ role: "user", content: "Hello\nworld" }]);
  });

  it("sends assistant output_text as assistant content", () => {
    const input = [
      {
        type: "message",
        role: "assistant",
        id: "msg_1",
        status: "completed",
        content: [{ type: "output_text", text: "Hi!", annotations: [] }],
      },
    ];
    expect(messagesOf(input)).toEqual([{ role: "assistant", content: "Hi!" }]);
  });

  it("sends an assistant refusal as what the assistant said", () => {
    const input = [{ role: "assistant", content: [{ type: "refusal", refusal: "I can't help with that." }] }];
    expect(messagesOf(input)).toEqual([{ role: "assistant", content: "I can't help with that." }]);
  });

  it("sends input_image URLs and data URLs as image_url parts with their detail", () => {
    const input = [
      {
        role: "user",
        content: [
          { type: "input_text", text: "What is this?" },
          { type: "input_image", image_url: "https://example.com/cat.png", detail: "high" },
          { type: "input_image", image_url: "data:image/png;base64,iVBORw0KGgo=", detail: "auto" },
          { type: "input_image", image_url: "https://example.com/dog.png", detail: "original" },
        ],
      },
    ];
    expect(messagesOf(input)).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "What is this?" },
          { type: "image_url", image_url: { url: "https://example.com/cat.png", detail: "high" } },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=", detail: "auto" } },
          { type: "image_url", image_url: { url: "https://example.com/dog.png" } },
        ],
      },
    ]);
  });

  it("refuses an input_image given only by file_id", () => {
    const input = [{ role: "user", content: [{ type: "input_image", file_id: "file-abc", detail: "auto" }] }];
    const error = apiError(() => messagesOf(input));
    expect(error.status).toBe(400);
    expect(error.param).toBe("input[0].content[0].file_id");
  });

  it("names image_url, not file_id, when an input_image has no usable image_url and no file_id", () => {
    const part = (extra: JsonObject) => [{ role: "user", content: [{ type: "input_image", ...extra }] }];
    expect(apiError(() => messagesOf(part({})))).toMatchObject({
      param: "input[0].content[0].image_url",
      code: "missing_required_parameter",
    });
    expect(apiError(() => messagesOf(part({ image_url: { url: "https://example.com/a.png" } })))).toMatchObject({
      param: "input[0].content[0].image_url",
      code: "invalid_type",
    });
  });

  it("sends input_file data as a file part with its filename", () => {
    const input = [
      {
        role: "user",
        content: [{ type: "input_file", file_data: "data:application/pdf;base64,JVBERi0=", filename: "a.pdf" }],
      },
    ];
    expect(messagesOf(input)).toEqual([
      {
        role: "user",
        content: [{ type: "file", file: { file_data: "data:application/pdf;base64,JVBERi0=", filename: "a.pdf" } }],
      },
    ]);
  });

  it("refuses an input_file given by URL", () => {
    const input = [{ role: "user", content: [{ type: "input_file", file_url: "https://example.com/a.pdf" }] }];
    const error = apiError(() => messagesOf(input));
    expect([error.status, error.param]).toEqual([400, "input[0].content[0].file_url"]);
    expect(error.message).toContain("file_url");
  });

  it("names file_data, not file_url, when an input_file has no file, or file_data that is not a string", () => {
    const part = (extra: JsonObject) => [
      { role: "user", content: [{ type: "input_file", filename: "a.pdf", ...extra }] },
    ];
    expect(apiError(() => messagesOf(part({})))).toMatchObject({
      param: "input[0].content[0].file_data",
      code: "missing_required_parameter",
    });
    expect(apiError(() => messagesOf(part({ file_data: { base64: "JVBERi0=" } })))).toMatchObject({
      param: "input[0].content[0].file_data",
      code: "invalid_type",
    });
  });

  it("sends consecutive function calls as one assistant message, each output as a tool message", () => {
    const input = [
      { role: "user", content: "Weather in Paris and Rome?" },
      { type: "function_call", id: "fc_1", call_id: "call_a", name: "weather", arguments: '{"city":"Paris"}' },
      { type: "function_call", id: "fc_2", call_id: "call_b", name: "weather", arguments: '{"city":"Rome"}' },
      { type: "function_call_output", call_id: "call_a", output: "18C" },
      { type: "function_call_output", call_id: "call_b", output: "24C" },
    ];
    expect(messagesOf(input)).toEqual([
      { role: "user", content: "Weather in Paris and Rome?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_a", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } },
          { id: "call_b", type: "function", function: { name: "weather", arguments: '{"city":"Rome"}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_a", content: "18C" },
      { role: "tool", tool_call_id: "call_b", content: "24C" },
    ]);
  });

  it("joins function calls to the assistant message right before them, as the model produced them", () => {
    const input = [
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "Let me check." }] },
      { type: "function_call", call_id: "call_a", name: "weather", arguments: "{}" },
      { type: "function_call_output", call_id: "call_a", output: "sunny" },
      // No arguments at all: sent as the gateway's own output writes them, `{}` (templates parse them).
      { type: "function_call", call_id: "call_b", name: "time", arguments: "" },
    ];
    expect(messagesOf(input)).toEqual([
      {
        role: "assistant",
        content: "Let me check.",
        tool_calls: [{ id: "call_a", type: "function", function: { name: "weather", arguments: "{}" } }],
      },
      { role: "tool", tool_call_id: "call_a", content: "sunny" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_b", type: "function", function: { name: "time", arguments: "{}" } }],
      },
    ]);
  });

  it("joins the text parts of a function call output", () => {
    const input = [
      {
        type: "function_call_output",
        call_id: "call_a",
        output: [
          { type: "input_text", text: "line 1" },
          { type: "input_text", text: "line 2" },
        ],
      },
    ];
    expect(messagesOf(input)).toEqual([{ role: "tool", tool_call_id: "call_a", content: "line 1\nline 2" }]);
  });

  it("refuses an image in a function call output", () => {
    const input = [
      {
        type: "function_call_output",
        call_id: "call_a",
        output: [{ type: "input_image", image_url: "https://example.com/x.png" }],
      },
    ];
    expect(apiError(() => messagesOf(input)).param).toBe("input[0].output[0]");
  });

  it("sends custom tool calls and outputs as function calls taking {input}", () => {
    const input = [
      { type: "custom_tool_call", call_id: "call_c", name: "run_sql", input: "SELECT 1" },
      { type: "custom_tool_call_output", call_id: "call_c", output: "1" },
    ];
    expect(messagesOf(input)).toEqual([
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_c", type: "function", function: { name: "run_sql", arguments: '{"input":"SELECT 1"}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_c", content: "1" },
    ]);
  });

  it("drops reasoning items that carry only a summary or encrypted content", () => {
    const input = [
      { role: "user", content: "hi" },
      {
        type: "reasoning",
        id: "rs_1",
        summary: [{ type: "summary_text", text: "thinking" }],
        encrypted_content: "gAAAA",
      },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "Hello" }] },
    ];
    expect(messagesOf(input)).toEqual([
      { role: "user", content: "hi" },
      { role: "assistant", content: "Hello" },
    ]);
  });

  it("keeps an assistant message and its calls one message across a reasoning item that is not sent", () => {
    const input = [
      { role: "user", content: "hi" },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "Let me check." }] },
      { type: "reasoning", id: "rs_1", summary: [], encrypted_content: "gAAAA" },
      { type: "function_call", call_id: "call_a", name: "weather", arguments: "{}" },
    ];
    expect(messagesOf(input)).toEqual([
      { role: "user", content: "hi" },
      {
        role: "assistant",
        content: "Let me check.",
        tool_calls: [{ id: "call_a", type: "function", function: { name: "weather", arguments: "{}" } }],
      },
    ]);
  });

  it("attaches raw reasoning_text to the following assistant message as reasoning_content", () => {
    const input = [
      {
        type: "reasoning",
        id: "rs_1",
        summary: [],
        content: [{ type: "reasoning_text", text: "Need the weather tool." }],
      },
      { type: "function_call", call_id: "call_a", name: "weather", arguments: "{}" },
      { type: "function_call_output", call_id: "call_a", output: "sunny" },
      { type: "reasoning", id: "rs_2", summary: [], content: [{ type: "reasoning_text", text: "Now answer." }] },
      { role: "assistant", content: "It is sunny." },
    ];
    expect(messagesOf(input)).toEqual([
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_a", type: "function", function: { name: "weather", arguments: "{}" } }],
        reasoning_content: "Need the weather tool.",
      },
      { role: "tool", tool_call_id: "call_a", content: "sunny" },
      { role: "assistant", content: "It is sunny.", reasoning_content: "Now answer." },
    ]);
  });

  it("refuses item references", () => {
    const error = apiError(() =>
      messagesOf([
        { role: "user", content: "hi" },
        { type: "item_reference", id: "msg_1" },
      ]),
    );
    expect([error.status, error.param]).toEqual([400, "input[1]"]);
    expect(error.message).toContain("item_reference");
  });

  it("refuses input items that have no chat form", () => {
    const error = apiError(() =>
      messagesOf([{ type: "file_search_call", id: "fs_1", status: "completed", queries: [] }]),
    );
    expect(error.message).toContain("'file_search_call'");
  });

  it("leaves out a web search call of an earlier turn, keeping the answer that follows it", () => {
    const search = { type: "web_search_call", id: "ws_1", status: "completed", action: { type: "search", query: "q" } };
    const answer = {
      type: "message",
      role: "assistant",
      content: [{ type: "output_text", text: "found", annotations: [] }],
    };
    expect(messagesOf([{ role: "user", content: "search" }, search, answer])).toEqual([
      { role: "user", content: "search" },
      { role: "assistant", content: "found" },
    ]);
  });
});

describe("request translation: tools", () => {
  const weather = { type: "function", name: "weather", description: "Weather by city", parameters: { type: "object" } };

  it("nests function tools under `function`, with strict only when set", () => {
    const body = build({ input: "hi", tools: [weather, { ...weather, name: "strict_weather", strict: true }] });
    expect(body.tools).toEqual([
      {
        type: "function",
        function: { name: "weather", description: "Weather by city", parameters: { type: "object" } },
      },
      {
        type: "function",
        function: {
          name: "strict_weather",
          description: "Weather by city",
          parameters: { type: "object" },
          strict: true,
        },
      },
    ]);
  });

  it("lowers a custom tool to a function taking {input: string}", () => {
    const body = build({ input: "hi", tools: [{ type: "custom", name: "run_sql", description: "Runs SQL" }] });
    expect(body.tools).toEqual([
      {
        type: "function",
        function: {
          name: "run_sql",
          description: "Runs SQL",
          parameters: {
            type: "object",
            properties: { input: { type: "string" } },
            required: ["input"],
            additionalProperties: false,
          },
        },
      },
    ]);
  });

  it.each(["none", "auto", "required"])("passes tool_choice %s through", (choice) => {
    expect(build({ input: "hi", tools: [weather], tool_choice: choice }).tool_choice).toBe(choice);
  });

  it.each(["function", "custom"])("forces a %s tool as a function choice", (type) => {
    const body = build({ input: "hi", tools: [weather], tool_choice: { type, name: "weather" } });
    expect(body.tool_choice).toEqual({ type: "function", function: { name: "weather" } });
  });

  it("lowers allowed_tools to the allowed subset of tools and its mode", () => {
    const tools = [weather, { ...weather, name: "time" }, { ...weather, name: "news" }];
    const tool_choice = {
      type: "allowed_tools",
      mode: "required",
      tools: [
        { type: "function", name: "time" },
        { type: "function", name: "news" },
      ],
    };
    const body = build({ input: "hi", tools, tool_choice });
    expect((body.tools as { function: { name: string } }[]).map((tool) => tool.function.name)).toEqual([
      "time",
      "news",
    ]);
    expect(body.tool_choice).toBe("required");
    expect(build({ input: "hi", tools, tool_choice: { ...tool_choice, mode: "auto" } }).tool_choice).toBe("auto");
  });

  it("sends parallel_tool_calls with the tools", () => {
    expect(build({ input: "hi", tools: [weather], parallel_tool_calls: false }).parallel_tool_calls).toBe(false);
  });

  it("sends no tool fields when there are no tools (OpenAI rejects them alone)", () => {
    const body = build({ input: "hi", tool_choice: "none", parallel_tool_calls: true });
    expect(body).not.toHaveProperty("tools");
    expect(body).not.toHaveProperty("tool_choice");
    expect(body).not.toHaveProperty("parallel_tool_calls");
  });
});

describe("request translation: parameters", () => {
  it("maps a json_schema text format to response_format", () => {
    const schema = { type: "object", properties: { city: { type: "string" } } };
    const text = { format: { type: "json_schema", name: "place", description: "A place", schema, strict: true } };
    expect(build({ input: "hi", text }).response_format).toEqual({
      type: "json_schema",
      json_schema: { name: "place", description: "A place", schema, strict: true },
    });
  });

  it("maps a json_object text format to response_format, and plain text to nothing", () => {
    expect(build({ input: "hi", text: { format: { type: "json_object" } } }).response_format).toEqual({
      type: "json_object",
    });
    expect(build({ input: "hi", text: { format: { type: "text" } } })).not.toHaveProperty("response_format");
  });

  it("refuses a text format chat has no response_format for, rather than answering in plain text", () => {
    const error = apiError(validate({ input: "hi", text: { format: { type: "xml" } } }));
    expect(error).toMatchObject({ status: 400, param: "text.format.type", code: "unsupported_value" });
    expect(error.message).toContain("'xml'");
  });

  it("maps reasoning.effort to reasoning_effort", () => {
    expect(build({ input: "hi", reasoning: { effort: "low", summary: "auto" } }).reasoning_effort).toBe("low");
    expect(build({ input: "hi" })).not.toHaveProperty("reasoning_effort");
  });

  it("maps max_output_tokens to max_completion_tokens", () => {
    const body = build({ input: "hi", max_output_tokens: 256 });
    expect(body.max_completion_tokens).toBe(256);
    expect(body).not.toHaveProperty("max_tokens");
  });

  it("lets a client that sends max_tokens itself (older servers) keep it, without max_completion_tokens", () => {
    const body = build({ input: "hi", max_output_tokens: 256, max_tokens: 100 });
    expect(body.max_tokens).toBe(100);
    expect(body).not.toHaveProperty("max_completion_tokens");
  });

  it("passes temperature and top_p through", () => {
    expect(build({ input: "hi", temperature: 0.2, top_p: 0.9 })).toMatchObject({ temperature: 0.2, top_p: 0.9 });
  });

  it("maps top_logprobs to logprobs and top_logprobs", () => {
    expect(build({ input: "hi", top_logprobs: 3 })).toMatchObject({ logprobs: true, top_logprobs: 3 });
  });

  it("maps include message.output_text.logprobs to logprobs", () => {
    const body = build({ input: "hi", include: ["message.output_text.logprobs"] });
    expect(body.logprobs).toBe(true);
    expect(body).not.toHaveProperty("top_logprobs");
  });

  it("sends safety_identifier, or else user, as user", () => {
    expect(build({ input: "hi", user: "u-1" }).user).toBe("u-1");
    expect(build({ input: "hi", user: "u-1", safety_identifier: "s-1" }).user).toBe("s-1");
  });

  it("never sends Responses-only or OpenAI-only fields", () => {
    const body = build({
      input: "hi",
      metadata: { k: "v" },
      store: true,
      background: true,
      truncation: "auto",
      max_tool_calls: 3,
      service_tier: "flex",
      prompt_cache_key: "k",
      text: { verbosity: "low" },
      include: ["reasoning.encrypted_content"],
      previous_response_id: "resp_1",
      stream_options: { include_obfuscation: false },
    });
    expect(Object.keys(body).sort()).toEqual(["messages", "model", "stream", "stream_options"]);
  });

  it("sends the model, stream: true and stream_options.include_usage", () => {
    const body = build({ input: "hi", stream: false });
    expect(body).toMatchObject({ model: "m", stream: true, stream_options: { include_usage: true } });
  });

  it("forwards extra fields that are not Responses fields (vLLM and Ollama sampling knobs)", () => {
    const body = build({
      input: "hi",
      top_k: 20,
      min_p: 0.05,
      chat_template_kwargs: { enable_thinking: false },
      seed: 7,
    });
    expect(body).toMatchObject({ top_k: 20, min_p: 0.05, chat_template_kwargs: { enable_thinking: false }, seed: 7 });
  });

  it("does not forward Codex's client_metadata, which is no model's knob", () => {
    const body = build({ input: "hi", client_metadata: { session_id: "s", "x-codex-turn-metadata": "{}" } });
    expect(body).not.toHaveProperty("client_metadata");
  });

  it("never lets an extra field replace what the translation owns", () => {
    const body = build({ input: "hi", messages: [{ role: "user", content: "injected" }], n: 3, stream_options: null });
    expect(body.messages).toEqual([{ role: "user", content: "hi" }]);
    expect(body).not.toHaveProperty("n");
    expect(body.stream_options).toEqual({ include_usage: true });
  });

  it("translates the whole context passed in, not only the request's own input", () => {
    const request = validateCreateRequest({ model: "m", input: "and now?", previous_response_id: "resp_1" });
    const context = [
      { role: "user", content: "first" },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "ok" }] },
      ...request.input,
    ];
    expect(chatCompletionsProtocol.buildBody(request, context).messages).toEqual([
      { role: "user", content: "first" },
      { role: "assistant", content: "ok" },
      { role: "user", content: "and now?" },
    ]);
  });

  it("names an earlier item chat cannot take as 'input', saying where it is, not by an index of the request's own input", () => {
    const fileByUrl = { type: "input_file", file_url: "https://example.com/a.pdf" };
    const chained = validateCreateRequest({ model: "m", input: "and now?", previous_response_id: "resp_1" });
    const chain = [{ role: "user", content: [{ type: "input_text", text: "read" }, fileByUrl] }, ...chained.input];
    const error = apiError(() => chatCompletionsProtocol.buildBody(chained, chain));
    expect([error.status, error.param, error.code]).toEqual([400, "input", "unsupported_value"]);
    expect(error.message).toContain(
      "It is in an earlier item of the chain of 'previous_response_id' (item 0 of the context, at content[1].file_url)",
    );

    const searched = { type: "file_search_call", id: "fs_1", status: "completed", queries: ["q"] };
    const continued = validateCreateRequest({ model: "m", input: "and now?", conversation: "conv_1" });
    const conversation = [{ role: "user", content: "find it" }, searched, ...continued.input];
    const refused = apiError(() => chatCompletionsProtocol.buildBody(continued, conversation));
    expect(refused.param).toBe("input");
    expect(refused.message).toMatch(/^Invalid 'input': items of type 'file_search_call' cannot be sent/);
    expect(refused.message).toContain(
      "It is in an earlier item of the conversation (item 1 of the context), not in this request's input.",
    );
  });
});

describe("validate", () => {
  const hosted = [
    { type: "file_search", vector_store_ids: ["vs_1"] },
    { type: "code_interpreter", container: { type: "auto" } },
    { type: "image_generation" },
    { type: "computer_use_preview", display_width: 1024, display_height: 768, environment: "browser" },
    { type: "computer" },
    { type: "mcp", server_label: "deepwiki", server_url: "https://mcp.deepwiki.com/mcp" },
    { type: "programmatic_tool_calling" },
    { type: "shell", environment: { type: "container_auto" } },
  ];

  it.each(hosted)("refuses a $type tool with a 400 naming it", (tool) => {
    const error = apiError(validate({ input: "hi", tools: [{ type: "function", name: "f" }, tool] }));
    expect(error.status).toBe(400);
    expect(error.type).toBe("invalid_request_error");
    expect(error.param).toMatch(/^tools\[1\]/);
    expect(error.message).toContain(tool.type === "shell" ? "'container_auto'" : `'${tool.type}'`);
    expect(error.message).toContain("tools[1]");
  });

  it.each(["web_search_preview", "file_search", "image_generation", "code_interpreter", "mcp"])(
    "refuses a tool_choice forcing %s",
    (type) => {
      const error = apiError(validate({ input: "hi", tool_choice: { type } }));
      expect([error.status, error.param]).toEqual([400, "tool_choice"]);
      expect(error.message).toContain(`'${type}'`);
    },
  );

  it("says why a tool_choice cannot choose a web search, which is left out", () => {
    for (const tool_choice of [
      { type: "web_search" },
      { type: "allowed_tools", mode: "auto", tools: [{ type: "web_search_preview" }] },
    ]) {
      const error = apiError(validate({ input: "hi", tools: [{ type: "web_search" }], tool_choice }));
      const param = tool_choice.type === "allowed_tools" ? "tool_choice.tools[0]" : "tool_choice";
      expect([error.status, error.param, error.code]).toEqual([400, param, "unsupported_value"]);
      expect(error.message).toBe(
        `Invalid '${param}': it chooses a '${tool_choice.type === "allowed_tools" ? "web_search_preview" : "web_search"}' tool, which is left out for this model server: it speaks the Chat Completions protocol, and nobody can run a web search for it.`,
      );
    }
  });

  it("refuses allowed_tools that allow a hosted tool", () => {
    const tool_choice = {
      type: "allowed_tools",
      mode: "auto",
      tools: [{ type: "function", name: "f" }, { type: "web_search" }],
    };
    const error = apiError(validate({ input: "hi", tools: [{ type: "function", name: "f" }], tool_choice }));
    expect([error.status, error.param]).toEqual([400, "tool_choice.tools[1]"]);
  });

  it("refuses modalities other than text: a chat server's audio or images have no place in a Response", () => {
    for (const modalities of [
      ["text", "audio"],
      ["image", "text"],
    ]) {
      const error = apiError(validate({ input: "hi", modalities, audio: { voice: "alloy", format: "wav" } }));
      const index = modalities.findIndex((modality) => modality !== "text");
      expect([error.status, error.param, error.code]).toEqual([400, `modalities[${index}]`, "unsupported_value"]);
      expect(error.message).toContain(`'${modalities[index]}' output cannot be asked of this model server`);
    }
    expect(validate({ input: "hi", modalities: ["text"] })).not.toThrow();
  });

  it("refuses prompt templates", () => {
    expect(apiError(validate({ input: "hi", prompt: { id: "pmpt_1" } })).param).toBe("prompt");
  });

  it("refuses untranslatable input before anything is stored", () => {
    const error = apiError(validate({ input: [{ type: "item_reference", id: "msg_1" }] }));
    expect([error.status, error.param]).toEqual([400, "input[0]"]);
  });

  it("accepts function and custom tools with any tool choice that targets them", () => {
    const tools = [
      { type: "function", name: "f", parameters: { type: "object" }, strict: false },
      { type: "custom", name: "c" },
    ];
    expect(validate({ input: "hi", tools, tool_choice: { type: "custom", name: "c" } })).not.toThrow();
    expect(validate({ input: "hi", tools, tool_choice: "required" })).not.toThrow();
  });
});

describe("an upstream error's param", () => {
  const param = (name: string) => chatCompletionsProtocol.errorParam?.(name);

  it("names the Responses field where the chat body renamed it", () => {
    expect(param("response_format")).toBe("text.format");
    expect(param("response_format.json_schema.schema")).toBe("text.format.schema");
    expect(param("response_format.type")).toBe("text.format.type");
    expect(param("max_completion_tokens")).toBe("max_output_tokens");
    expect(param("reasoning_effort")).toBe("reasoning.effort");
  });

  it("leaves fields of the same name, and chat fields without one Responses counterpart, as they are", () => {
    for (const name of ["temperature", "top_logprobs", "messages[3].content", "tools[0].function.parameters"])
      expect(param(name)).toBe(name);
    expect(param("response_formats")).toBe("response_formats");
    expect(param("max_completion_tokens_x")).toBe("max_completion_tokens_x");
  });
});
