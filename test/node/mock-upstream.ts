// A model server on loopback for the end-to-end tests: it replays recorded fixtures and scripted
// streams over real HTTP, records what it received, and can hold a stream open until a test
// releases it (no sleeps needed to catch a run mid-stream). The scenario is chosen by `model`:
// everything after a `#` is a tag that keeps concurrent tests apart.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import { serveChat } from "./mock-chat";
import { serveOracle } from "./oracle";
import { upstreamResponse } from "./upstream-response";

type Json = Record<string, unknown>;

interface Recorded {
  path: string;
  authorization: string | null;
  contentLength: string | null;
  body: Json;
}

const FIXTURES = join(import.meta.dirname, "..", "fixtures");

const requests = new Map<string, Recorded[]>();
const closedEarly = new Map<string, number>();
const gates = new Map<string, { release: () => void; promise: Promise<void> }>();
const attempts = new Map<string, number>();

function gate(model: string) {
  let entry = gates.get(model);
  if (entry === undefined) {
    let release: () => void = () => undefined;
    const promise = new Promise<void>((resolve) => (release = resolve));
    entry = { release, promise };
    gates.set(model, entry);
  }
  return entry;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function lastUserText(input: unknown): string {
  if (typeof input === "string") return input;
  if (!Array.isArray(input)) return "";
  for (let i = input.length - 1; i >= 0; i--) {
    const item = input[i] as Json;
    if (item.role !== "user") continue;
    if (typeof item.content === "string") return item.content;
    if (Array.isArray(item.content))
      return (item.content as Json[]).map((part) => (typeof part.text === "string" ? part.text : "")).join("");
  }
  return "";
}

let counter = 0;
const id = (prefix: string) => `${prefix}_mock${(++counter).toString(16).padStart(12, "0")}`;

const baseResponse = (model: string, status: string): Json =>
  upstreamResponse({ id: "resp_upstream_mock", createdAt: 1_700_000_000, model, status, store: false });

/** A complete, grammatical Responses stream replying `pieces` as one message. */
export function textEvents(model: string, pieces: string[], final: "completed" | "incomplete" = "completed"): Json[] {
  const msgId = id("msg");
  const text = pieces.join("");
  const part = { type: "output_text", annotations: [], logprobs: [], text: "" };
  const events: Json[] = [
    { type: "response.created", response: baseResponse(model, "in_progress") },
    { type: "response.in_progress", response: baseResponse(model, "in_progress") },
    {
      type: "response.output_item.added",
      output_index: 0,
      item: { id: msgId, type: "message", status: "in_progress", content: [], role: "assistant" },
    },
    { type: "response.content_part.added", item_id: msgId, output_index: 0, content_index: 0, part },
    ...pieces.map((delta) => ({
      type: "response.output_text.delta",
      item_id: msgId,
      output_index: 0,
      content_index: 0,
      delta,
      logprobs: [],
    })),
    { type: "response.output_text.done", item_id: msgId, output_index: 0, content_index: 0, text, logprobs: [] },
    { type: "response.content_part.done", item_id: msgId, output_index: 0, content_index: 0, part: { ...part, text } },
  ];
  const status = final === "completed" ? "completed" : "incomplete";
  const item = { id: msgId, type: "message", status, content: [{ ...part, text }], role: "assistant" };
  events.push({ type: "response.output_item.done", output_index: 0, item });
  const usage = {
    input_tokens: 10,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: pieces.length,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 10 + pieces.length,
  };
  events.push({
    type: `response.${status}`,
    response: {
      ...baseResponse(model, status),
      output: [item],
      usage,
      completed_at: final === "completed" ? 1_700_000_001 : null,
      incomplete_details: final === "completed" ? null : { reason: "max_output_tokens" },
    },
  });
  return events.map((event, index) => ({ ...event, sequence_number: index }));
}

function functionCallEvents(model: string, name: string, args: string): Json[] {
  const fcId = id("fc");
  const callId = id("call");
  const item = { id: fcId, type: "function_call", status: "in_progress", arguments: "", call_id: callId, name };
  const done = { ...item, status: "completed", arguments: args };
  const events: Json[] = [
    { type: "response.created", response: baseResponse(model, "in_progress") },
    { type: "response.in_progress", response: baseResponse(model, "in_progress") },
    { type: "response.output_item.added", output_index: 0, item },
    { type: "response.function_call_arguments.delta", item_id: fcId, output_index: 0, delta: args.slice(0, 5) },
    { type: "response.function_call_arguments.delta", item_id: fcId, output_index: 0, delta: args.slice(5) },
    { type: "response.function_call_arguments.done", item_id: fcId, output_index: 0, arguments: args },
    { type: "response.output_item.done", output_index: 0, item: done },
    {
      type: "response.completed",
      response: { ...baseResponse(model, "completed"), output: [done], completed_at: 1_700_000_001 },
    },
  ];
  return events.map((event, index) => ({ ...event, sequence_number: index }));
}

/**
 * A reasoning model as OpenAI serves one statelessly: its reasoning item carries `encrypted_content`
 * only when `include` asks for it, and with `store: false` a reasoning item sent back without it is
 * looked up by id, which fails (404 "Item with id ... not found"). Calls `name`, or answers text once
 * the input ends with a tool output.
 */
function thinkingEvents(res: ServerResponse, model: string, name: string, body: Json) {
  const input = Array.isArray(body.input) ? (body.input as Json[]) : [];
  const orphan = input.find((item) => item.type === "reasoning" && typeof item.encrypted_content !== "string");
  if (body.store === false && orphan !== undefined) {
    res.writeHead(404, { "content-type": "application/json" });
    const message = `Item with id '${String(orphan.id)}' not found. Items are not persisted when \`store\` is set to false. Try again with \`store\` set to true, or remove this item from your input.`;
    return res.end(JSON.stringify({ error: { message, type: "invalid_request_error", param: "input", code: null } }));
  }
  if (input.at(-1)?.type === "function_call_output") return streamEvents(res, textEvents(model, ["done"]));
  const include = Array.isArray(body.include) ? body.include : [];
  const asked = (body.reasoning as Json | undefined)?.summary;
  const summary = typeof asked === "string" ? [{ type: "summary_text", text: "Looking up the weather." }] : [];
  const reasoning: Json = { id: id("rs"), type: "reasoning", summary };
  if (include.includes("reasoning.encrypted_content")) reasoning.encrypted_content = `enc:${String(reasoning.id)}`;
  const call = functionCallEvents(model, name, '{"city":"Paris"}');
  const shifted = call.slice(2, -1).map((event) => ({ ...event, output_index: 1 }));
  const completed = call.at(-1) as { response: Json & { output: Json[] } };
  const events: Json[] = [
    ...call.slice(0, 2),
    { type: "response.output_item.added", output_index: 0, item: reasoning },
    { type: "response.output_item.done", output_index: 0, item: reasoning },
    ...shifted,
    { ...completed, response: { ...completed.response, output: [reasoning, ...completed.response.output] } },
  ];
  return streamEvents(
    res,
    events.map((event, index) => ({ ...event, sequence_number: index })),
  );
}

/**
 * A reasoning model as vLLM serves one over /responses: its reasoning item carries the raw text as
 * `reasoning_text` content and no `encrypted_content`, and a chain sends it back so. As vLLM
 * (`responses/utils.py`), a reasoning input item with `encrypted_content` is refused.
 */
function vllmThinking(res: ServerResponse, model: string, body: Json) {
  const input = Array.isArray(body.input) ? (body.input as Json[]) : [];
  if (input.some((item) => item.type === "reasoning" && Boolean(item.encrypted_content))) {
    res.writeHead(400, { "content-type": "application/json" });
    const error = { object: "error", message: "Encrypted content is not supported.", type: "BadRequestError" };
    return res.end(JSON.stringify({ ...error, param: null, code: 400 }));
  }
  return streamEvents(res, vllmThinkingEvents(model));
}

function vllmThinkingEvents(model: string): Json[] {
  const reasoning: Json = { id: id("rs"), type: "reasoning", summary: [] };
  const done = { ...reasoning, content: [{ type: "reasoning_text", text: "Thinking it over." }] };
  const answer = textEvents(model, ["answer"]);
  const shifted = answer.slice(2, -1).map((event) => ({ ...event, output_index: 1 }));
  const completed = answer.at(-1) as { response: Json & { output: Json[] } };
  const events: Json[] = [
    ...answer.slice(0, 2),
    { type: "response.output_item.added", output_index: 0, item: reasoning },
    { type: "response.output_item.done", output_index: 0, item: done },
    ...shifted,
    { ...completed, response: { ...completed.response, output: [done, ...completed.response.output] } },
  ];
  return events.map((event, index) => ({ ...event, sequence_number: index }));
}

function fixtureEvents(name: string): Json[][] {
  const lines = readFileSync(join(FIXTURES, "responses", name), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "");
  const runs: Json[][] = [];
  for (const line of lines) {
    const event = JSON.parse(line) as Json;
    if (event.type === "response.created" || runs.length === 0) runs.push([]);
    runs.at(-1)?.push(event);
  }
  return runs;
}

/** Resolves when `res` can take more data, or is gone. */
const drainedOrClosed = (res: ServerResponse) =>
  new Promise<void>((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });

const frame = (event: Json) => `event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`;

function sendError(res: ServerResponse, status: number, extra: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...extra });
  res.end(
    JSON.stringify({
      error: {
        message: `mock upstream error ${status}`,
        type: status === 429 ? "rate_limit_exceeded" : "invalid_request_error",
        param: null,
        code: `mock_${status}`,
      },
    }),
  );
}

async function streamEvents(
  res: ServerResponse,
  events: Json[],
  options: {
    pauseAfter?: number;
    gateKey?: string;
    paceMs?: number;
    hangAfter?: number;
    cutAfter?: number;
    endAfter?: number;
  } = {},
) {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
  for (let index = 0; index < events.length; index++) {
    if (res.destroyed) return;
    if (options.cutAfter === index) {
      // Flush what was written, then drop the connection without a terminal event.
      await new Promise((resolve) => res.write("", resolve));
      return void res.socket?.destroy();
    }
    if (options.hangAfter === index) return; // leave the connection open, silent
    if (options.endAfter === index) return void res.end(); // a clean end without a terminal event
    if (options.pauseAfter === index && options.gateKey) await heldOpen(res, gate(options.gateKey).promise);
    if (options.paceMs) await sleep(options.paceMs);
    res.write(frame(events[index] as Json));
  }
  res.end();
}

/**
 * Waits for `released` while sending an SSE comment every second, as real servers do while a model
 * thinks: a held stream is not silent, so the gateway's idle timeout never ends it, however long a
 * test (on a loaded machine) takes to release it.
 */
async function heldOpen(res: ServerResponse, released: Promise<unknown>): Promise<void> {
  const ping = setInterval(() => {
    if (!res.destroyed) res.write(": held\n\n");
  }, 1000);
  try {
    await released;
  } finally {
    clearInterval(ping);
  }
}

async function serveResponses(res: ServerResponse, body: Json) {
  const model = typeof body.model === "string" ? body.model : "";
  const [scenario = "", tag] = model.split("#");
  const [kind = "", ...args] = scenario.split(":");
  void tag;
  switch (kind) {
    case "echo": {
      const input = body.input as unknown[];
      const text = `echo(${Array.isArray(input) ? input.length : 1}): ${lastUserText(body.input)}`;
      return streamEvents(res, textEvents(model, text.match(/.{1,8}/gs) ?? [text]));
    }
    case "text": {
      const count = Number(args[0] ?? 5);
      return streamEvents(
        res,
        textEvents(
          model,
          Array.from({ length: count }, (_, i) => `w${i} `),
        ),
      );
    }
    case "big": {
      // big:N  one message of N characters in 64 KiB deltas
      const size = Number(args[0] ?? 1_000_000);
      const piece = "x".repeat(65_536);
      const pieces = Array.from({ length: Math.ceil(size / piece.length) }, (_, i) =>
        piece.slice(0, Math.min(piece.length, size - i * piece.length)),
      );
      return streamEvents(res, textEvents(model, pieces));
    }
    case "noise": {
      // noise:N  one message of N random base64 characters (they do not compress), in 64 KiB deltas
      const size = Number(args[0] ?? 1_000_000);
      const text = randomBytes(Math.ceil((size * 3) / 4) + 3)
        .toString("base64")
        .slice(0, size);
      return streamEvents(res, textEvents(model, text.match(/[\s\S]{1,65536}/g) ?? []));
    }
    case "incomplete":
      return streamEvents(res, textEvents(model, ["cut ", "short"], "incomplete"));
    case "gate": {
      // gate:K:N[:SIZE]  N deltas (of SIZE characters); pauses before event K until POST /__mock/release?model=...
      const count = Number(args[1] ?? 10);
      const size = args[2] === undefined ? 0 : Number(args[2]);
      return streamEvents(
        res,
        textEvents(
          model,
          Array.from({ length: count }, (_, i) => (size > 0 ? `${i % 10}`.repeat(size) : `w${i} `)),
        ),
        { pauseAfter: Number(args[0] ?? 3), gateKey: model },
      );
    }
    case "paced":
      return streamEvents(
        res,
        textEvents(
          model,
          Array.from({ length: Number(args[1] ?? 10) }, (_, i) => `w${i} `),
        ),
        { paceMs: Number(args[0] ?? 5) },
      );
    case "hang-after":
      return streamEvents(res, textEvents(model, ["a", "b", "c", "d"]), { hangAfter: Number(args[0] ?? 3) });
    case "end-after":
      return streamEvents(res, textEvents(model, ["a", "b", "c", "d"]), { endAfter: Number(args[0] ?? 3) });
    case "cut-after":
      return streamEvents(res, textEvents(model, ["a", "b", "c", "d"]), { cutAfter: Number(args[0] ?? 3) });
    case "error-after": {
      // error-after:N[:failed]  N events, then OpenAI's nested `error` event mid-item, then the body
      // ends (or, with `failed`, `response.failed` without its output first).
      const events = textEvents(model, ["a", "b", "c", "d"]).slice(0, Number(args[0] ?? 3));
      const error = { type: "server_error", code: "server_error", message: "The model crashed.", param: null };
      events.push({ type: "error", error });
      if (args[1] === "failed")
        events.push({ type: "response.failed", response: { ...baseResponse(model, "failed"), error } });
      return streamEvents(res, events);
    }
    case "hang-headers":
      return; // never answers; the client gives up
    case "stall-error-body":
      // stall-error-body:CODE  an error whose headers and first bytes come, then nothing, never ending
      res.writeHead(Number(args[0] ?? 400), { "content-type": "application/json" });
      res.write('{"error":{"message":"The request was');
      return;
    case "status":
      return sendError(res, Number(args[0] ?? 500), args[1] ? { "retry-after": args[1] } : {});
    case "no-retry":
      // no-retry:CODE  an error with `x-should-retry: false`, as OpenAI sends for some errors
      return sendError(res, Number(args[0] ?? 500), { "x-should-retry": "false" });
    case "unknown-event": {
      // A stream with an event type no client knows, which the gateway drops (and logs).
      const events = textEvents(model, ["a", "b"]);
      events.splice(2, 0, { type: "response.mock_unknown" });
      return streamEvents(res, events);
    }
    case "echo-key": {
      // A careless upstream: a 401 whose message repeats the whole key it was sent.
      const authorization = requests.get(model)?.at(-1)?.authorization ?? "";
      res.writeHead(401, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          error: {
            message: `Incorrect API key provided: ${authorization.replace(/^Bearer /, "")}`,
            type: "invalid_request_error",
            param: null,
            code: "invalid_api_key",
          },
        }),
      );
      return;
    }
    case "echo-key-escaped": {
      // As echo-key, but the key is written with JSON escapes (`\u0073`...): only parsing shows it.
      const key = (requests.get(model)?.at(-1)?.authorization ?? "").replace(/^Bearer /, "");
      const escaped = [...key].map((char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`).join("");
      res.writeHead(401, { "content-type": "application/json" });
      res.end(
        `{"error":{"message":"Bad key ${escaped}","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
      );
      return;
    }
    case "echo-key-stream": {
      // A stream that fails quoting the key it was sent: in an `error` event, then in `response.failed`.
      const key = (requests.get(model)?.at(-1)?.authorization ?? "").replace(/^Bearer /, "");
      const events = textEvents(model, ["a"]).slice(0, 5);
      events.push({ type: "error", code: "invalid_api_key", message: `The key ${key} expired mid-stream.` });
      events.push({
        type: "response.failed",
        response: {
          ...baseResponse(model, "failed"),
          error: { code: "server_error", message: `Quota exceeded for ${key}.` },
        },
      });
      return streamEvents(res, events);
    }
    case "flaky": {
      // flaky:N  fails with 503 N times, then answers
      const seen = (attempts.get(model) ?? 0) + 1;
      attempts.set(model, seen);
      if (seen <= Number(args[0] ?? 1)) return sendError(res, 503);
      return streamEvents(res, textEvents(model, ["recovered"]));
    }
    case "flaky-429": {
      // flaky-429:N:S  answers 429 with `retry-after: S` N times, then streams
      const seen = (attempts.get(model) ?? 0) + 1;
      attempts.set(model, seen);
      if (seen <= Number(args[0] ?? 1)) return sendError(res, 429, { "retry-after": args[1] ?? "1" });
      return streamEvents(res, textEvents(model, ["after ", "the wait"]));
    }
    case "cloudflare": {
      // cloudflare:STATUS  what a deployed Worker's fetch answers when the origin failed (530: DNS)
      const status = Number(args[0] ?? 530);
      res.writeHead(status, { "content-type": "text/plain; charset=UTF-8" });
      return void res.end(status === 530 ? "error code: 1016" : `error code: ${status}`);
    }
    case "no-route":
      // A chat-only server asked for /responses: Ollama's plain-text 404.
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      return void res.end("404 page not found");
    case "flaky-429-ms": {
      // flaky-429-ms:N:MS  answers 429 with `retry-after-ms: MS` N times, then streams
      const seen = (attempts.get(model) ?? 0) + 1;
      attempts.set(model, seen);
      if (seen <= Number(args[0] ?? 1)) return sendError(res, 429, { "retry-after-ms": args[1] ?? "100" });
      return streamEvents(res, textEvents(model, ["after ", "the wait"]));
    }
    case "grammar": {
      // Two deltas, then a delta for an output index that was never added: the grammar breaks.
      // `grammar:first`: that delta is the first event, before any the gateway starts the response for.
      const events = textEvents(model, ["w0 ", "w1 ", "w2 "]);
      if (args[0] === "first") return streamEvents(res, [{ ...(events[4] as Json), output_index: 0 }]);
      events.splice(6, 0, { ...(events[5] as Json), output_index: 7, delta: "stray" });
      return streamEvents(res, events);
    }
    case "malformed-sse": {
      // One delta, a delta with invalid UTF-8 in its data line, then what is not SSE at all (a
      // comment, unknown fields, an HTML error page); then the body ends without a terminal event.
      const events = textEvents(model, ["a", "b"]);
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (const event of events.slice(0, 5)) res.write(frame(event));
      const delta = { ...(events[5] as Json), delta: "<INVALID>" };
      const [before = "", after = ""] = frame(delta).split("<INVALID>");
      res.write(Buffer.concat([Buffer.from(before), Buffer.from([0x62, 0xff, 0xfe]), Buffer.from(after)]));
      res.write(": a comment\nnonsense field\nretry: soon\nid\n\n");
      res.end("<html><body><h1>502 Bad Gateway</h1></body></html>\n");
      return;
    }
    case "flood": {
      // flood:BYTES  one delta, then BYTES of SSE comment lines (a runaway body), then the rest
      const events = textEvents(model, ["a", "b"]);
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (const event of events.slice(0, 5)) res.write(frame(event));
      const line = `: ${"x".repeat(1021)}\n`;
      const chunk = line.repeat(1024);
      for (let sent = 0; sent < Number(args[0] ?? 0) && !res.destroyed; sent += chunk.length)
        if (!res.write(chunk)) await drainedOrClosed(res);
      for (const event of events.slice(5)) res.write(frame(event));
      res.end();
      return;
    }
    case "huge-event": {
      // huge-event:BYTES  one delta, then a delta event of BYTES characters
      const events = textEvents(model, ["a", "x".repeat(Number(args[0] ?? 0))]);
      return streamEvents(res, events);
    }
    case "unterminated": {
      // unterminated:lf|none  a complete stream whose last event lacks its blank line: the body
      // ends with a single `\n` (lf) or right after the data (none), as some servers end theirs.
      const events = textEvents(model, ["a", "b"]);
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (const event of events.slice(0, -1)) res.write(frame(event));
      res.end(frame(events.at(-1) as Json).slice(0, args[0] === "none" ? -2 : -1));
      return;
    }
    case "html":
      // A proxy's sign-in page, or a base URL that names the web site rather than its API.
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end("<!doctype html><html><body>Please sign in</body></html>");
      return;
    case "malformed":
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(frame(textEvents(model, ["x"])[0] as Json));
      res.end("event: response.in_progress\ndata: {not json\n\n");
      return;
    case "json": {
      const events = textEvents(model, ["plain ", "json"]);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify((events.at(-1) as Json).response));
      return;
    }
    case "json-error": {
      // json-error[:string]  a 200 whose JSON body is an error, as a server answers a stream it will
      // not run (`{"error":{...}}`, or Ollama's `{"error":"..."}`)
      const message = "model 'missing' not found, try pulling it first";
      const error = args[0] === "string" ? message : { message, type: "not_found_error", param: null, code: null };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ error }));
      return;
    }
    case "function":
      return streamEvents(res, functionCallEvents(model, args[0] ?? "get_weather", '{"city":"Paris"}'));
    case "think":
      return thinkingEvents(res, model, args[0] ?? "get_weather", body);
    case "vllm-think":
      return vllmThinking(res, model, body);
    case "no-compact": {
      // no-compact[:STATUS]  a server without /responses/compact (see serveUtility): a JSON answer to
      // a stream:false call (the gateway's summary call), else an echo of the input's last user text;
      // no-compact:echo-key refuses the summary call quoting the key
      const input = Array.isArray(body.input) ? (body.input as Json[]) : [];
      // As Ollama (openai/responses.go) and vLLM refuse an item type they do not know; both ignore `context_management`.
      if (input.some((item) => item.type === "compaction_trigger")) {
        res.writeHead(400, { "content-type": "application/json" });
        const message = 'unknown input item type: "compaction_trigger"';
        return res.end(JSON.stringify({ error: { message, type: "invalid_request_error" } }));
      }
      if (body.stream !== false) {
        const text = `echo(${input.length}): ${lastUserText(body.input)}`;
        return streamEvents(res, textEvents(model, text.match(/.{1,8}/gs) ?? [text]));
      }
      if (args[0] === "echo-key") {
        // A summary call refused with 200 and an error body that repeats the key it was sent.
        const key = (requests.get(model)?.at(-1)?.authorization ?? "").replace(/^Bearer /, "");
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ error: { message: `The key ${key} may not summarize.` } }));
      }
      const events = textEvents(model, [`SUMMARY of ${input.length} items`]);
      const usage = {
        input_tokens: 30,
        input_tokens_details: { cached_tokens: 10 },
        output_tokens: 7,
        output_tokens_details: { reasoning_tokens: 2 },
        total_tokens: 37,
      };
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ ...(events.at(-1) as { response: Json }).response, usage }));
    }
    case "fixture": {
      const runs = fixtureEvents(args[0] ?? "");
      return streamEvents(res, runs[Number(args[1] ?? 0)] ?? []);
    }
    default:
      return sendError(res, 404);
  }
}

/** `/responses/input_tokens` counts the input items (10 tokens each); `/responses/compact` keeps
 *  the user messages and adds one compaction item. Both answer JSON, as OpenAI does; a
 *  `status:CODE` model answers that error, a `no-route` one Ollama's plain-text 404 (a server
 *  that serves `/responses` but not these), a `no-compact[:405|:200]` one lacks compact only, an
 *  `lm-studio` one answers both with LM Studio's 200 error, a `vllm-405` one both with vLLM's 405. */
function serveUtility(res: ServerResponse, path: string, body: Json) {
  const [kind = "", code] = (typeof body.model === "string" ? body.model : "").split("#")[0]?.split(":") ?? [];
  if (kind === "status") return sendError(res, Number(code ?? 500));
  if (kind === "no-route") {
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    return res.end("404 page not found");
  }
  if (kind === "vllm-405")
    return res.writeHead(405, { "content-type": "application/json" }).end('{"detail":"Method Not Allowed"}');
  if (kind === "lm-studio") {
    // LM Studio answers an endpoint it lacks (both of these) with 200 and an error (lmstudio-bug-tracker#618).
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify({ error: `Unexpected endpoint or method. (POST ${path})` }));
  }
  if (kind === "no-compact" && path.endsWith("/compact")) {
    // As vLLM (405: it has GET /responses/{id}), LM Studio (200 with an error) or Ollama (404).
    if (code === "405")
      return res.writeHead(405, { "content-type": "application/json" }).end('{"detail":"Method Not Allowed"}');
    if (code === "200")
      return res
        .writeHead(200, { "content-type": "application/json" })
        .end('{"error":"Unexpected endpoint or method. (POST /v1/responses/compact)"}');
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    return res.end("404 page not found");
  }
  if (kind === "html") {
    // A proxy's sign-in page, or a base URL that names the web site rather than its API.
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    return res.end("<!doctype html><html><body>Please sign in</body></html>");
  }
  if (kind === "cut") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end('{"object":"response.input_tok');
  }
  const input = Array.isArray(body.input) ? (body.input as Json[]) : [{ role: "user", content: body.input }];
  res.writeHead(200, { "content-type": "application/json" });
  if (path.endsWith("/input_tokens"))
    return res.end(JSON.stringify({ object: "response.input_tokens", input_tokens: input.length * 10 }));
  // Shaped as OpenAI's: kept messages as full items (id, status, content parts), usage with its details.
  const kept = input
    .filter((item) => item.role === "user")
    .map((item) => ({
      id: id("msg"),
      type: "message",
      status: "completed",
      role: "user",
      content: typeof item.content === "string" ? [{ type: "input_text", text: item.content }] : item.content,
    }));
  const compaction = { type: "compaction", id: id("cmp"), encrypted_content: `mock:${input.length}` };
  const usage = {
    input_tokens: input.length * 10,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 5,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input.length * 10 + 5,
  };
  res.end(
    JSON.stringify({
      id: id("resp"),
      object: "response.compaction",
      created_at: 1_700_000_000,
      output: [...kept, compaction],
      usage,
    }),
  );
}

// ---- keys: the mock checks keys as a real server does. A bearer key containing `refused`, or one
// revoked with POST /__mock/revoke?key=, gets a 401 on every /v1 path. GET /v1/models lists models,
// or answers what the key asks for: the status a `sk-models-<status>-…` key names, `sk-models-none`
// a 404 (a server without a list), `sk-models-garbage` a 200 that is not JSON, `sk-models-refused`
// a 401 that quotes the key (`sk-models-refused-escaped` quotes it with its letters as JSON `\u` escapes). Its calls are counted per key (GET /__mock/key-checks?key=).
// A `sk-models-chatonly-…` key gets a 404 from /models and from /v1/responses, as a chat-only server's.

const revokedKeys = new Set<string>();
const keyChecks = new Map<string, number>();

const bearerKey = (req: IncomingMessage): string => (req.headers.authorization ?? "").replace(/^Bearer /, "");
const refusesKey = (key: string): boolean => key.includes("refused") || revokedKeys.has(key);

function serveModels(key: string, res: ServerResponse) {
  keyChecks.set(key, (keyChecks.get(key) ?? 0) + 1);
  const status = /^sk-models-(\d{3})-/.exec(key)?.[1];
  if (status !== undefined) return sendError(res, Number(status));
  if (key === "sk-models-none" || key.startsWith("sk-models-chatonly-")) return sendError(res, 404);
  if (key === "sk-models-garbage") return res.writeHead(200, { "content-type": "text/html" }).end("<html></html>");
  if (key === "sk-models-refused-escaped") {
    const escaped = key.replace(/[a-z]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
    res.writeHead(401, { "content-type": "application/json" });
    return res.end(
      `{"error":{"message":"Incorrect API key provided: ${escaped}","type":"invalid_request_error","code":"invalid_api_key"}}`,
    );
  }
  if (key === "sk-models-refused") {
    res.writeHead(401, { "content-type": "application/json" });
    return res.end(
      JSON.stringify({
        error: {
          message: `Incorrect API key provided: ${key}`,
          type: "invalid_request_error",
          param: null,
          code: "invalid_api_key",
        },
      }),
    );
  }
  if (refusesKey(key)) return sendError(res, 401);
  res.writeHead(200, { "content-type": "application/json" });
  res.end(
    JSON.stringify({
      object: "list",
      data: [
        { id: "mock-large", object: "model", created: 1_700_000_000, owned_by: "mock" },
        { id: "mock-small", object: "model", created: 1_700_000_001, owned_by: "mock" },
        // Taken over by the `chat:*` route of the test routing table: not the default upstream's to serve.
        { id: "chat:shadowed", object: "model", created: 1_700_000_002, owned_by: "mock" },
        { object: "model", owned_by: "an entry without an id is skipped" },
      ],
    }),
  );
}

// ---- webhook receivers: POST /__hooks/<scenario>/<tag> records the raw request and answers per
// its scenario: `ok` (200), `fail:N` (500 the first N times, then 200), `status:CODE` (always CODE),
// `redirect` (302 to `<this url>-moved`), `hold-fail:N` (the first N held until released, then 500),
// `retry-after:S` (429 with `Retry-After: S`), `retry-at:S` (503 with `Retry-After` the HTTP date S seconds on).

interface HookRequest {
  headers: Record<string, string>;
  body: string;
  at: number;
}

const hooks = new Map<string, HookRequest[]>();

function receiveHook(url: URL, req: IncomingMessage, res: ServerResponse) {
  const name = decodeURIComponent(url.pathname.slice("/__hooks/".length));
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk: string) => (body += chunk));
  req.on("end", () => {
    const list = hooks.get(name) ?? [];
    list.push({ headers: req.headers as Record<string, string>, body, at: Date.now() });
    hooks.set(name, list);
    const [kind = "ok", arg = "1"] = (name.split("/")[0] ?? "").split(":");
    const answer = (status: number, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "text/plain", ...headers });
      res.end(String(status));
    };
    if (kind === "fail") return answer(list.length <= Number(arg) ? 500 : 200);
    if (kind === "status") return answer(Number(arg));
    if (kind === "redirect") return answer(302, { location: `${url.pathname}-moved` });
    if (kind === "retry-after") return answer(429, { "retry-after": arg });
    if (kind === "retry-at")
      return answer(503, { "retry-after": new Date(Date.now() + Number(arg) * 1000).toUTCString() });
    if (kind === "hold-fail" && list.length <= Number(arg)) return void gate(name).promise.then(() => answer(500));
    answer(200);
  });
}

function control(url: URL, res: ServerResponse) {
  const model = url.searchParams.get("model") ?? "";
  res.setHeader("content-type", "application/json");
  switch (url.pathname) {
    case "/__mock/requests":
      return res.end(JSON.stringify(requests.get(model) ?? []));
    case "/__mock/closed":
      return res.end(JSON.stringify({ closed: closedEarly.get(model) ?? 0 }));
    case "/__mock/hooks":
      return res.end(JSON.stringify(hooks.get(url.searchParams.get("name") ?? "") ?? []));
    case "/__mock/release":
      gate(model).release();
      return res.end("{}");
    case "/__mock/key-checks":
      return res.end(JSON.stringify({ checks: keyChecks.get(url.searchParams.get("key") ?? "") ?? 0 }));
    case "/__mock/revoke":
      revokedKeys.add(url.searchParams.get("key") ?? "");
      return res.end("{}");
    default:
      res.statusCode = 404;
      return res.end("{}");
  }
}

export async function startMockUpstream(): Promise<{ port: number; server: Server }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://mock");
    if (url.pathname.startsWith("/__mock/")) return control(url, res);
    if (url.pathname.startsWith("/__hooks/")) return receiveHook(url, req, res);
    if (url.pathname.startsWith("/__oracle/")) return serveOracle(url, req, res);
    if (req.method === "GET" && /^(\/alt)?\/v1\/models$/.test(url.pathname)) return serveModels(bearerKey(req), res);
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (raw += chunk));
    req.on("end", () => {
      let body: Json;
      try {
        body = JSON.parse(raw) as Json;
      } catch {
        return sendError(res, 400);
      }
      const model = typeof body.model === "string" ? body.model : "";
      const list = requests.get(model) ?? [];
      list.push({
        path: url.pathname,
        authorization: req.headers.authorization ?? null,
        contentLength: req.headers["content-length"] ?? null,
        body,
      });
      requests.set(model, list);
      res.on("close", () => {
        if (!res.writableFinished) closedEarly.set(model, (closedEarly.get(model) ?? 0) + 1);
      });
      if (refusesKey(bearerKey(req))) return sendError(res, 401);
      if (bearerKey(req).startsWith("sk-models-chatonly-") && url.pathname === "/v1/responses")
        return sendError(res, 404);
      // As OpenAI: a request without a model is refused (after the key was checked).
      if (model === "") return sendError(res, 400);
      // `/alt/v1/...` is a second upstream (a route's base URL) served by the same handlers.
      const path = url.pathname.replace(/^\/alt(?=\/v1\/)/, "");
      const hold = () => gate(model).promise;
      if (path === "/v1/chat/completions")
        return void serveChat(res, body, req.headers.authorization ?? null, hold).catch(() => res.destroy());
      if (path === "/v1/responses/input_tokens" || path === "/v1/responses/compact")
        return serveUtility(res, path, body);
      if (path !== "/v1/responses") return sendError(res, 404);
      serveResponses(res, body).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { port: typeof address === "object" && address !== null ? address.port : 0, server };
}
