// The loopback model server's `/chat/completions` side: recorded chat streams and bodies replayed
// as-is, and scripted chat scenarios (text, a held stream, a cut, a tool loop, providers' error
// bodies). Used by mock-upstream.ts; the scenario is chosen by `model`, as on the Responses side.

import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { join } from "node:path";

type Json = Record<string, unknown>;

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "chat");

let counter = 0;

function chunk(model: string, delta: Json, finish: string | null = null): Json {
  return {
    id: "chatcmpl-mock",
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  };
}

function usageChunk(model: string, output: number): Json {
  return {
    id: "chatcmpl-mock",
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model,
    choices: [],
    usage: { prompt_tokens: 10, completion_tokens: output, total_tokens: 10 + output },
  };
}

/** A whole answer as chunks: role, one chunk per piece, finish, usage (as OpenAI sends with include_usage). */
function textChunks(model: string, pieces: string[]): Json[] {
  return [
    chunk(model, { role: "assistant", content: "" }),
    ...pieces.map((content) => chunk(model, { content })),
    chunk(model, {}, "stop"),
    usageChunk(model, pieces.length),
  ];
}

function messageText(message: Json): string {
  if (typeof message.content === "string") return message.content;
  if (!Array.isArray(message.content)) return "";
  return (message.content as Json[]).map((part) => (typeof part.text === "string" ? part.text : "")).join("");
}

/**
 * A tool loop: after tool results, answer with them; otherwise call every tool offered (OpenAI's
 * parallel form: each call opens with id and name, its arguments follow in fragments), after
 * `thinking` as `reasoning_content` when given (DeepSeek's thinking with tool calls).
 */
function toolLoopChunks(model: string, body: Json, thinking?: string): Json[] {
  const messages = Array.isArray(body.messages) ? (body.messages as Json[]) : [];
  const results: string[] = [];
  for (let i = messages.length - 1; i >= 0 && messages[i]?.role === "tool"; i--)
    results.unshift(messageText(messages[i] as Json));
  if (results.length > 0) return textChunks(model, ["results: ", results.join(" | ")]);
  const tools = Array.isArray(body.tools) ? (body.tools as Json[]) : [];
  const chunks: Json[] = [chunk(model, { role: "assistant", content: null })];
  if (thinking !== undefined) chunks.push(chunk(model, { content: null, reasoning_content: thinking }));
  tools.forEach((tool, index) => {
    const fn = (tool.function ?? {}) as Json;
    const name = typeof fn.name === "string" ? fn.name : "tool";
    const args = `{"city":"Paris","n":${index}}`;
    const id = `call_mock${(++counter).toString(16).padStart(8, "0")}`;
    const call = (fields: Json) => chunk(model, { tool_calls: [{ index, ...fields }] });
    chunks.push(call({ id, type: "function", function: { name, arguments: "" } }));
    chunks.push(call({ function: { arguments: args.slice(0, 7) } }));
    chunks.push(call({ function: { arguments: args.slice(7) } }));
  });
  chunks.push(chunk(model, {}, "tool_calls"), usageChunk(model, 20));
  return chunks;
}

const dataFrame = (value: Json) => `data: ${JSON.stringify(value)}\n\n`;

/**
 * DeepSeek's rule in thinking mode (on unless `thinking.type` is "disabled"): in a turn where the
 * model called tools (the messages between two user messages), every assistant message must carry
 * `reasoning_content`. The index of the first that does not, or undefined.
 */
function missingReasoning(body: Json): number | undefined {
  if ((body.thinking as Json | undefined)?.type === "disabled") return undefined;
  const messages = Array.isArray(body.messages) ? (body.messages as Json[]) : [];
  let start = 0;
  for (let end = 0; end <= messages.length; end++) {
    if (end < messages.length && messages[end]?.role !== "user") continue;
    const turn = messages.slice(start, end);
    if (turn.some((message) => Array.isArray(message.tool_calls) && message.tool_calls.length > 0)) {
      const at = turn.findIndex(
        (message) => message.role === "assistant" && typeof message.reasoning_content !== "string",
      );
      if (at >= 0) return start + at;
    }
    start = end + 1;
  }
  return undefined;
}

/** Error bodies in the shapes real servers send them. */
const ERROR_BODIES: Record<string, (status: number) => { type: string; body: string }> = {
  openai: (status) => ({
    type: "application/json",
    body: JSON.stringify({
      error: { message: `mock chat error ${status}`, type: "invalid_request_error", param: "messages", code: "bad_x" },
    }),
  }),
  // OpenAI's chat API refusing a structured-output schema: it names its own field.
  schema: (status) => ({
    type: "application/json",
    body: JSON.stringify({
      error: {
        message: `Invalid schema for response_format 'person': In context=(), 'required' is required (${status}).`,
        type: "invalid_request_error",
        param: "response_format",
        code: null,
      },
    }),
  }),
  // A server that reads max_tokens (a route renames max_completion_tokens to it) refusing its value.
  maxtokens: () => ({
    type: "application/json",
    body: JSON.stringify({
      error: {
        message: "max_tokens is too large: 100000. This model supports at most 4096 completion tokens.",
        type: "invalid_request_error",
        param: "max_tokens",
        code: null,
      },
    }),
  }),
  ollama: () => ({
    type: "application/json",
    body: JSON.stringify({ error: 'model "llama9" not found, try pulling it first' }),
  }),
  vllm: (status) => ({
    type: "application/json",
    body: JSON.stringify({
      object: "error",
      message: "The model `x` does not exist.",
      type: "NotFoundError",
      param: null,
      code: status,
    }),
  }),
  text: () => ({ type: "text/plain", body: "upstream says no" }),
  // A path the server does not serve (a base URL without its /v1): Ollama's (Go's) plain 404.
  nopath: () => ({ type: "text/plain", body: "404 page not found" }),
  // A prompt longer than the model's context, as vLLM and llama.cpp refuse it.
  "vllm-context": (status) => ({
    type: "application/json",
    body: JSON.stringify({
      error: {
        message:
          "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4900 in the messages, 100 in the completion). Please reduce the length of the messages or completion.",
        type: "BadRequestError",
        param: null,
        code: status,
      },
    }),
  }),
  "llamacpp-context": (status) => ({
    type: "application/json",
    body: JSON.stringify({
      error: {
        code: status,
        message: "the request exceeds the available context size, try increasing it",
        type: "exceed_context_size_error",
        n_prompt_tokens: 5000,
        n_ctx: 4096,
      },
    }),
  }),
};

interface StreamOptions {
  /** Waits for the gate before sending frame K. */
  pauseAfter?: number;
  /** Drops the connection before frame K. */
  cutAfter?: number;
  /** Ends the body cleanly before frame K (no finish reason, no `[DONE]`). */
  endAfter?: number;
}

async function streamFrames(
  res: ServerResponse,
  frames: string[],
  hold: () => Promise<void>,
  options: StreamOptions = {},
): Promise<void> {
  res.writeHead(200, { "content-type": "text/event-stream" });
  for (let index = 0; index < frames.length; index++) {
    if (res.destroyed) return;
    if (options.cutAfter === index) {
      await new Promise((resolve) => res.write("", resolve));
      return void res.socket?.destroy();
    }
    if (options.endAfter === index) return void res.end();
    if (options.pauseAfter === index) await hold();
    res.write(frames[index]);
  }
  res.end();
}

/** vLLM's refusal of a prompt longer than the model's context (its `code` is the HTTP status). */
const contextOverflow = (characters: number): string =>
  JSON.stringify({
    error: {
      message: `This model's maximum context length is 150 tokens. However, you requested ${Math.ceil(characters / 4)} tokens in the messages. Please reduce the length of the messages.`,
      type: "BadRequestError",
      param: null,
      code: 400,
    },
  });

/** Models whose summary call was refused once (`summarize:flaky`). */
const summaryFailed = new Set<string>();

/** A completion whose message has no text (`summarize:empty`). */
const emptyCompletion = (model: string): Json => ({
  id: "chatcmpl-empty",
  object: "chat.completion",
  model,
  choices: [{ index: 0, message: { role: "assistant", content: "" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 100, completion_tokens: 0, total_tokens: 100 },
});

function sendBody(res: ServerResponse, status: number, type: string, body: string) {
  if (!res.headersSent) res.writeHead(status, { "content-type": type });
  res.end(body);
}

function replayFixture(res: ServerResponse, name: string) {
  const text = readFileSync(join(FIXTURES, name), "utf8");
  if (name.endsWith(".json")) return sendBody(res, 200, "application/json", text);
  const sse = name.endsWith(".sse")
    ? text
    : text
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => `data: ${line}\n\n`)
        .join("") + "data: [DONE]\n\n";
  sendBody(res, 200, "text/event-stream", sse);
}

/** Serves one `/chat/completions` request; `hold` resolves when the test releases this model's gate. */
export async function serveChat(
  res: ServerResponse,
  body: Json,
  authorization: string | null,
  hold: () => Promise<void>,
): Promise<void> {
  const model = typeof body.model === "string" ? body.model : "";
  const [scenario = ""] = model.split("#");
  const [kind = "", ...args] = scenario.split(":");
  const text = (count: number) =>
    textChunks(
      model,
      Array.from({ length: count }, (_, i) => `w${i} `),
    );
  const frames = (chunks: Json[]) => [...chunks.map(dataFrame), "data: [DONE]\n\n"];
  switch (kind) {
    case "fixture":
      return replayFixture(res, args.join(":"));
    case "text":
      return streamFrames(res, frames(text(Number(args[0] ?? 5))), hold);
    case "gate":
      // gate:K:N  N deltas; holds frame K until released
      return streamFrames(res, frames(text(Number(args[1] ?? 10))), hold, { pauseAfter: Number(args[0] ?? 3) });
    case "cut-after":
      // cut-after:K  drops the connection before frame K of a four-piece answer
      return streamFrames(res, frames(text(4)), hold, { cutAfter: Number(args[0] ?? 3) });
    case "end-after":
      // end-after:K  ends the body cleanly before frame K of a four-piece answer
      return streamFrames(res, frames(text(4)), hold, { endAfter: Number(args[0] ?? 3) });
    case "echo": {
      const messages = Array.isArray(body.messages) ? (body.messages as Json[]) : [];
      const last = [...messages].reverse().find((message) => message.role === "user");
      return streamFrames(
        res,
        frames(textChunks(model, [`echo(${messages.length}): `, last ? messageText(last) : ""])),
        hold,
      );
    }
    case "tools":
      return streamFrames(res, frames(toolLoopChunks(model, body)), hold);
    case "think-tools":
      // think-tools  the tool loop of a thinking model: its calls follow its reasoning
      return streamFrames(res, frames(toolLoopChunks(model, body, "The weather needs a tool.")), hold);
    case "deepseek-tools": {
      // deepseek-tools  think-tools on a server that enforces DeepSeek's thinking-mode rule (its 400 body)
      const at = missingReasoning(body);
      if (at !== undefined)
        return sendBody(
          res,
          400,
          "application/json",
          JSON.stringify({
            error: {
              message: `Missing \`reasoning_content\` field in the assistant message at message index ${at}. For more information, please refer to https://api-docs.deepseek.com/guides/thinking_mode#tool-calls`,
              type: "invalid_request_error",
              param: null,
              code: "invalid_request_error",
            },
          }),
        );
      return streamFrames(res, frames(toolLoopChunks(model, body, "The weather needs a tool.")), hold);
    }
    case "think-cut":
      // think-cut  a thinking model's connection drops in its reasoning (before any answer)
      return streamFrames(res, frames(toolLoopChunks(model, body, "The weather needs a tool.")), hold, { cutAfter: 2 });
    case "summarize": {
      // A compaction request (stream:false) answers one JSON completion naming what it summarized
      // (`summarize:held`: once released); any other request echoes its messages' roles, so a test
      // sees the context it was sent.
      const messages = Array.isArray(body.messages) ? (body.messages as Json[]) : [];
      const transcript = messages.map((message) => `${String(message.role)}:${messageText(message)}`).join(" | ");
      if (body.stream === false && args[0] === "held") {
        // Held as a slow model is, though not silent: headers at once, then a space a second.
        res.writeHead(200, { "content-type": "application/json" });
        const ping = setInterval(() => res.write(" "), 1000);
        await hold().finally(() => clearInterval(ping));
      }
      if (body.stream === false && args[0] === "flaky" && !summaryFailed.has(model)) {
        // summarize:flaky  the first summary call is refused with a 503 (the gateway retries it), the next answers
        summaryFailed.add(model);
        return sendBody(res, 503, "application/json", JSON.stringify({ error: { message: "summary busy" } }));
      }
      if (body.stream === false && args[0] === "empty")
        // summarize:empty  the summary call answers a completion with no text
        return sendBody(res, 200, "application/json", JSON.stringify(emptyCompletion(model)));
      if (body.stream === false && args[0] === "fail")
        // summarize:fail  the summary call is refused (a server error), the turn is never asked
        return sendBody(res, 500, "application/json", JSON.stringify({ error: { message: "summary boom" } }));
      if (body.stream === false && args[0] === "window" && transcript.length > 1500)
        // summarize:window  a server whose context holds 1,500 characters of messages refuses more, as vLLM does
        return sendBody(res, 400, "application/json", contextOverflow(transcript.length));
      if (body.stream === false && args[0] === "stall") {
        // Stalled after its headers (a proxy that answers at once, a server that hung): silent until released.
        res.writeHead(200, { "content-type": "application/json" });
        res.flushHeaders();
        await hold();
      }
      if (body.stream === false && args[0] === "huge")
        // summarize:huge  a server that streams although asked not to, a summary past any sensible size (5 MB)
        return streamFrames(
          res,
          frames(
            textChunks(
              model,
              Array.from({ length: 5 }, () => "x".repeat(1 << 20)),
            ),
          ),
          hold,
        );
      if (body.stream === false)
        return sendBody(
          res,
          200,
          "application/json",
          JSON.stringify({
            id: "chatcmpl-summary",
            object: "chat.completion",
            model,
            choices: [
              {
                index: 0,
                // summarize:think  a thinking model without a reasoning parser: a <think> block opens the answer
                message: {
                  role: "assistant",
                  content: `${args[0] === "think" ? "<think>\nWhat matters here?\n</think>\n\n" : ""}SUMMARY OF ${transcript}`,
                },
                finish_reason: "stop",
              },
            ],
            usage: {
              prompt_tokens: 100,
              completion_tokens: 20,
              total_tokens: 120,
              prompt_tokens_details: { cached_tokens: 40 },
              completion_tokens_details: { reasoning_tokens: 5 },
            },
          }),
        );
      if (args[0] === "turnfail")
        // summarize:turnfail  the summary is written, then the turn is refused
        return sendBody(res, 400, "application/json", JSON.stringify({ error: { message: "turn refused" } }));
      // summarize:turnheld  the turn's stream holds after its first text until released
      const pause = args[0] === "turnheld" ? { pauseAfter: 2 } : {};
      return streamFrames(res, frames(textChunks(model, [`seen: ${transcript}`])), hold, pause);
    }
    case "error": {
      // error:SHAPE:STATUS  a provider's error body; `echokey` quotes the key it was sent, `maskedkey`
      // quotes it as OpenAI does (its first 8 characters, stars, its last 4)
      const status = Number(args[1] ?? 400);
      if (args[0] === "maskedkey") {
        const key = (authorization ?? "").replace(/^Bearer /, "");
        const masked = `${key.slice(0, 8)}${"*".repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`;
        return sendBody(
          res,
          status,
          "application/json",
          JSON.stringify({
            error: {
              message: `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`,
              type: "invalid_request_error",
              code: "invalid_api_key",
            },
          }),
        );
      }
      // error:streamkey:N  an in-band `event: error` (not JSON) quoting the key after N characters
      if (args[0] === "streamkey") {
        const key = (authorization ?? "").replace(/^Bearer /, "");
        return sendBody(res, 200, "text/event-stream", `event: error\ndata: ${"x".repeat(status)}${key} refused\n\n`);
      }
      if (args[0] === "echokey")
        return sendBody(
          res,
          status,
          "application/json",
          JSON.stringify({
            error: { message: `Incorrect API key provided: ${(authorization ?? "").replace(/^Bearer /, "")}.` },
          }),
        );
      const shape = ERROR_BODIES[args[0] ?? ""];
      if (shape === undefined) return sendBody(res, 500, "text/plain", `unknown error shape '${args[0] ?? ""}'`);
      const error = shape(status);
      return sendBody(res, status, error.type, error.body);
    }
    default:
      return sendBody(res, 404, "application/json", JSON.stringify({ error: `unknown mock chat scenario '${kind}'` }));
  }
}
