// Why an upstream could not be reached, from what workerd's fetch throws and what Cloudflare answers
// for a deployed Worker, and the protocol hint on a 404 from a server without /responses.

import { describe, expect, it } from "vitest";
import { ApiError } from "../../src/errors";
import {
  connectionFailure,
  originFailure,
  upstreamHttpError,
  withProtocolHint,
  withReasoningPlaceholderHint,
} from "../../src/upstream/errors";

/** What workerd's fetch rejects with (seen under `wrangler dev`). */
const REFUSED = new Error("Network connection lost.");
const OPAQUE = new Error("internal error; reference = 6mfenagp2su3rbgkmtlibmn");

describe("connectionFailure", () => {
  it("names a refused port", () => {
    expect(connectionFailure(REFUSED, "http://127.0.0.1:1/v1")).toBe(
      "the connection was refused or cut (is the server running, and listening on that port?)",
    );
  });

  it.each([
    ["http://upstream.invalid/v1", "its name does not resolve (DNS), or the network is down"],
    ["http://10.0.0.5:8000/v1", "the network is down"],
    [
      "https://api.example.com/v1",
      "its name does not resolve (DNS), or the TLS handshake failed (does it serve https?)",
    ],
    ["https://127.0.0.1:8790/v1", "the TLS handshake failed (does it serve https?)"],
    ["https://[::1]:8790/v1", "the TLS handshake failed (does it serve https?)"],
  ])("narrows workerd's opaque internal error by what %s rules out", (baseUrl, reason) => {
    expect(connectionFailure(OPAQUE, baseUrl)).toBe(reason);
  });

  it("says no more than it knows of anything else", () => {
    expect(connectionFailure(new TypeError("something odd"), "https://api.example.com/v1")).toBe(
      "the connection failed",
    );
  });
});

describe("originFailure", () => {
  it("reads Cloudflare's answers for a failed origin, 1016 as DNS", () => {
    expect(originFailure(530, "error code: 1016")).toBe("its name does not resolve (DNS; Cloudflare error 1016)");
    expect(originFailure(521, "<html>…</html>")).toBe("it refused the connection (Cloudflare 521)");
    expect(originFailure(525, "")).toBe("the TLS handshake failed (Cloudflare 525)");
    expect(originFailure(502, "Bad Gateway")).toBeNull();
  });
});

describe("upstreamHttpError", () => {
  it("reads the fields a server refused from a pydantic validation error (Mistral, FastAPI)", () => {
    // Mistral's answer to an OpenAI field it does not take (reported in avante.nvim#2347, openai-agents-python#442).
    const mistral = {
      object: "error",
      message: {
        detail: [
          {
            type: "extra_forbidden",
            loc: ["body", "stream_options", "include_usage"],
            msg: "Extra inputs are not permitted",
            input: true,
          },
          { type: "extra_forbidden", loc: ["body", "max_completion_tokens"], msg: "Extra inputs are not permitted" },
        ],
      },
      type: "invalid_request_error",
      param: null,
      code: null,
    };
    expect(upstreamHttpError(422, JSON.stringify(mistral)).body().error).toEqual({
      message:
        "body.stream_options.include_usage: Extra inputs are not permitted; body.max_completion_tokens: Extra inputs are not permitted",
      type: "invalid_request_error",
      param: null,
      code: null,
    });
    const fastApi = { detail: [{ type: "missing", loc: ["body", "messages", 0, "content"], msg: "Field required" }] };
    expect(upstreamHttpError(422, JSON.stringify(fastApi)).message).toBe("body.messages.0.content: Field required");
    expect(upstreamHttpError(422, JSON.stringify({ error: { message: { detail: [{ msg: "bad" }] } } })).message).toBe(
      "bad",
    );
  });

  it("keeps string messages, and says only the status when the body says nothing readable", () => {
    expect(upstreamHttpError(404, JSON.stringify({ detail: "Not Found" })).message).toBe("Not Found");
    expect(upstreamHttpError(422, JSON.stringify({ detail: [{ loc: ["body"] }] })).message).toBe(
      "The upstream model server answered with HTTP 422.",
    );
  });
});

describe("a prompt longer than the model's context", () => {
  it("becomes OpenAI's context_length_exceeded on input, in each server's words", () => {
    const bodies = [
      // vLLM (and DeepSeek, with its own numbers)
      {
        object: "error",
        message: "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.",
        type: "BadRequestError",
        param: null,
        code: 400,
      },
      {
        error: {
          code: 400,
          message: "the request exceeds the available context size",
          type: "exceed_context_size_error",
        },
      },
      { object: "error", message: "The input (5000 tokens) is longer than the model's context length (4096 tokens)." },
      {
        error: {
          message: "Prompt too long",
          type: "invalid_request_error",
          param: "messages",
          code: "context_length_exceeded",
        },
      },
    ];
    for (const body of bodies)
      expect(upstreamHttpError(400, JSON.stringify(body)).body().error).toMatchObject({
        type: "invalid_request_error",
        param: "input",
        code: "context_length_exceeded",
      });
  });

  it("leaves other refusals, and server failures that mention the context, as they were", () => {
    const other = { error: { message: "max_tokens must be at least 1", type: "BadRequestError", code: 400 } };
    expect(upstreamHttpError(400, JSON.stringify(other)).code).toBe("400");
    expect(upstreamHttpError(500, "maximum context length exceeded while loading").code).toBeNull();
  });
});

describe("withProtocolHint", () => {
  const hinted = (error: ApiError) =>
    withProtocolHint(error, "127.0.0.1:8080", "responses").message.includes("UPSTREAM_PROTOCOL");

  it("hints at chat_completions for a missing /responses route, keeping type, param and code", () => {
    const llamaCpp = upstreamHttpError(
      404,
      JSON.stringify({ error: { code: 404, message: "File Not Found", type: "not_found_error" } }),
    );
    expect(hinted(llamaCpp)).toBe(true);
    expect(withProtocolHint(llamaCpp, "127.0.0.1:8080", "responses").body().error).toMatchObject({
      type: "not_found_error",
      param: null,
      code: "404",
    });
    expect(hinted(upstreamHttpError(404, "404 page not found"))).toBe(true);
    expect(hinted(upstreamHttpError(404, JSON.stringify({ detail: "Not Found" })))).toBe(true);
    // No message of its own: the gateway's words for it ("…model server…") are not about a model.
    expect(hinted(upstreamHttpError(404, ""))).toBe(true);
    expect(hinted(upstreamHttpError(404, "{}"))).toBe(true);
  });

  it("points a chat server's 404 for /chat/completions at the base URL, not at the protocol", () => {
    const chat = (error: ApiError) => withProtocolHint(error, "127.0.0.1:11434", "chat_completions").message;
    expect(chat(upstreamHttpError(404, "404 page not found"))).toBe(
      "404 page not found (The upstream at 127.0.0.1:11434 has no /chat/completions endpoint at its base URL. " +
        'Check UPSTREAM_BASE_URL, or the "base_url" of its UPSTREAM_ROUTES entry: it is the API\'s root, as ' +
        "Ollama's http://127.0.0.1:11434/v1.)",
    );
    const ollamaModel = JSON.stringify({ error: 'model "llama9" not found, try pulling it first' });
    expect(chat(upstreamHttpError(404, ollamaModel))).toBe('model "llama9" not found, try pulling it first');
  });

  it("leaves a 404 about a model or an input item, and any other status, as the upstream sent it", () => {
    const unknownModel = {
      error: {
        message: "The model `gpt-9` does not exist or you do not have access to it.",
        type: "invalid_request_error",
        param: null,
        code: "model_not_found",
      },
    };
    expect(hinted(upstreamHttpError(404, JSON.stringify(unknownModel)))).toBe(false);
    // A Responses server refusing an item of the input has the route: its 404 names the param.
    const itemNotFound = {
      error: {
        message:
          "Item with id 'rs_0d8a' not found. Items are not persisted when `store` is set to false. Try again with `store` set to true, or remove this item from your input.",
        type: "invalid_request_error",
        param: "input",
        code: null,
      },
    };
    expect(hinted(upstreamHttpError(404, JSON.stringify(itemNotFound)))).toBe(false);
    expect(hinted(upstreamHttpError(400, "404 page not found"))).toBe(false);
  });
});

describe("withReasoningPlaceholderHint", () => {
  const deepSeek = JSON.stringify({
    error: {
      message: "Missing `reasoning_content` field in the assistant message at message index 2.",
      type: "invalid_request_error",
      param: null,
      code: "invalid_request_error",
    },
  });

  it("names the route option for a thinking server's refusal, still the upstream's error (type, code, source)", () => {
    const hinted = withReasoningPlaceholderHint(upstreamHttpError(400, deepSeek));
    expect(hinted.message).toContain('Set "reasoning_placeholder"');
    expect(hinted.body().error).toMatchObject({ type: "invalid_request_error", code: "invalid_request_error" });
    expect(hinted.fromUpstream).toBe(true);
    const kimi = "thinking is enabled but reasoning_content is missing in assistant tool call message at index 3";
    expect(withReasoningPlaceholderHint(upstreamHttpError(400, kimi)).message).toContain("reasoning_placeholder");
  });

  it("leaves other refusals as they were", () => {
    const other = upstreamHttpError(400, "max_tokens must be at least 1");
    expect(withReasoningPlaceholderHint(other)).toBe(other);
    const server = upstreamHttpError(500, "Missing reasoning_content");
    expect(withReasoningPlaceholderHint(server)).toBe(server);
  });
});
