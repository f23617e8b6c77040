// A model server that costs almost nothing: serves `POST /v1/responses` and `POST /v1/chat/completions`
// (SSE or JSON) from pre-serialized frames, shaped per request by knobs. Used by bench/run.ts as the
// upstream of every target; run alone with `node bench/mock-upstream.ts --port=8790`.
//
// Knobs ride in the model string, so they pass through any gateway: `bench:events=100,pace=20,ttft=300,size=8`
// (or `x-bench-events`, `x-bench-pace`, ... headers on direct calls). `events` = text deltas, `pace` = ms
// between deltas (0 = as fast as the socket takes them), `ttft` = ms before the first byte, `size` =
// characters per delta, `chunk` = bytes per socket write at full speed.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { randomBytes } from "node:crypto";
import { upstreamResponse } from "../test/node/upstream-response.ts";

export interface Knobs {
  events: number;
  pace: number;
  ttft: number;
  size: number;
  chunk: number;
}

const DEFAULT_KNOBS: Knobs = { events: 100, pace: 0, ttft: 0, size: 8, chunk: 4096 };
/** Bounds keep a typo from making the mock allocate gigabytes or sleep for hours. */
const MAX_EVENTS = 100_000;
const MAX_DELAY_MS = 60_000;
const MAX_SIZE = 65_536;

/** Parses `bench:events=100,pace=20` (unknown keys ignored, bad values fall back to defaults). */
export function parseKnobs(model: string, headers: IncomingMessage["headers"] = {}): Knobs {
  const knobs = { ...DEFAULT_KNOBS };
  const spec = model.startsWith("bench:") ? model.slice("bench:".length) : "";
  const pairs: [string, string][] = spec
    .split(",")
    .filter((pair) => pair.includes("="))
    .map((pair) => pair.split("=", 2) as [string, string]);
  for (const key of Object.keys(DEFAULT_KNOBS)) {
    const header = headers[`x-bench-${key}`];
    if (typeof header === "string") pairs.push([key, header]);
  }
  const limits: Record<keyof Knobs, number> = {
    events: MAX_EVENTS,
    pace: MAX_DELAY_MS,
    ttft: MAX_DELAY_MS,
    size: MAX_SIZE,
    chunk: 1 << 20,
  };
  for (const [key, raw] of pairs) {
    if (!(key in knobs)) continue;
    const value = Number(raw);
    const name = key as keyof Knobs;
    if (Number.isInteger(value) && value >= 0 && value <= limits[name]) knobs[name] = value;
  }
  knobs.size = Math.max(1, knobs.size);
  knobs.chunk = Math.max(1, knobs.chunk);
  return knobs;
}

/** Placeholder swapped for a fresh id per request (same length as a real `resp_` id). */
const ID_SLOT = `resp_${"0".repeat(48)}`;
const LOREM = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore. ";

function deltaText(index: number, size: number): string {
  let text = "";
  let at = (index * size) % LOREM.length;
  while (text.length < size) {
    const take = Math.min(size - text.length, LOREM.length - at);
    text += LOREM.slice(at, at + take);
    at = 0;
  }
  return text;
}

/** A pre-serialized reply: per-request work is splicing an id into a few frames and writing buffers. */
interface Prepared {
  /** Frames before the deltas, split around ID_SLOT. */
  head: string[];
  /** One buffer per delta frame (paced mode). */
  deltas: Buffer[];
  /** Delta frames grouped into writes of about `chunk` bytes (full-speed mode). */
  groups: Buffer[];
  /** Frames after the deltas, split around ID_SLOT. */
  tail: string[];
  /** The non-streaming JSON body, split around ID_SLOT. */
  json: string[];
}

function group(frames: Buffer[], chunk: number): Buffer[] {
  const groups: Buffer[] = [];
  let pending: Buffer[] = [];
  let bytes = 0;
  for (const frame of frames) {
    if (bytes > 0 && bytes + frame.length > chunk) {
      groups.push(Buffer.concat(pending));
      pending = [];
      bytes = 0;
    }
    pending.push(frame);
    bytes += frame.length;
  }
  if (pending.length > 0) groups.push(Buffer.concat(pending));
  return groups;
}

const sse = (type: string, body: object): string => `event: ${type}\ndata: ${JSON.stringify(body)}\n\n`;

function prepareResponses(model: string, store: boolean, knobs: Knobs): Prepared {
  const createdAt = Math.floor(Date.now() / 1000);
  const itemId = `msg_${randomBytes(24).toString("hex")}`;
  const base = upstreamResponse({ id: ID_SLOT, createdAt, model, status: "in_progress", store });
  const texts = Array.from({ length: knobs.events }, (_, i) => deltaText(i, knobs.size));
  const fullText = texts.join("");
  const part = { type: "output_text", annotations: [], logprobs: [], text: fullText };
  const item = { id: itemId, type: "message", status: "completed", content: [part], role: "assistant" };
  const completed = {
    ...base,
    status: "completed",
    completed_at: createdAt,
    service_tier: "default",
    output: [item],
    usage: {
      input_tokens: 8,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: knobs.events,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 8 + knobs.events,
    },
  };
  let seq = 0;
  const at = { item_id: itemId, output_index: 0, content_index: 0 };
  const head =
    sse("response.created", { type: "response.created", sequence_number: seq++, response: base }) +
    sse("response.in_progress", { type: "response.in_progress", sequence_number: seq++, response: base }) +
    sse("response.output_item.added", {
      type: "response.output_item.added",
      sequence_number: seq++,
      output_index: 0,
      item: { id: itemId, type: "message", status: "in_progress", content: [], role: "assistant" },
    }) +
    sse("response.content_part.added", {
      type: "response.content_part.added",
      sequence_number: seq++,
      ...at,
      part: { type: "output_text", annotations: [], logprobs: [], text: "" },
    });
  const deltas = texts.map((delta) =>
    Buffer.from(
      sse("response.output_text.delta", {
        type: "response.output_text.delta",
        sequence_number: seq++,
        ...at,
        delta,
        logprobs: [],
        obfuscation: "bEnCh",
      }),
    ),
  );
  const tail =
    sse("response.output_text.done", {
      type: "response.output_text.done",
      sequence_number: seq++,
      ...at,
      text: fullText,
      logprobs: [],
    }) +
    sse("response.content_part.done", { type: "response.content_part.done", sequence_number: seq++, ...at, part }) +
    sse("response.output_item.done", {
      type: "response.output_item.done",
      sequence_number: seq++,
      output_index: 0,
      item,
    }) +
    sse("response.completed", { type: "response.completed", sequence_number: seq++, response: completed });
  return {
    head: head.split(ID_SLOT),
    deltas,
    groups: group(deltas, knobs.chunk),
    tail: tail.split(ID_SLOT),
    json: JSON.stringify(completed).split(ID_SLOT),
  };
}

function prepareChat(model: string, knobs: Knobs): Prepared {
  const created = Math.floor(Date.now() / 1000);
  // Every chunk repeats the id, so a chat reply keeps the one minted here instead of a per-request id.
  const id = `chatcmpl-${randomBytes(12).toString("hex")}`;
  const chunk = (choices: object[], extra: object = {}): string =>
    `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, system_fingerprint: null, choices, ...extra })}\n\n`;
  const texts = Array.from({ length: knobs.events }, (_, i) => deltaText(i, knobs.size));
  const usage = {
    prompt_tokens: 8,
    completion_tokens: knobs.events,
    total_tokens: 8 + knobs.events,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
  const head = chunk([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]);
  const deltas = texts.map((content) =>
    Buffer.from(chunk([{ index: 0, delta: { content }, logprobs: null, finish_reason: null }])),
  );
  const tail =
    chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }]) + chunk([], { usage }) + "data: [DONE]\n\n";
  const json = {
    id,
    object: "chat.completion",
    created,
    model,
    system_fingerprint: null,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: texts.join(""), refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: "stop",
      },
    ],
    usage,
  };
  return {
    head: head.split(ID_SLOT),
    deltas,
    groups: group(deltas, knobs.chunk),
    tail: tail.split(ID_SLOT),
    json: JSON.stringify(json).split(ID_SLOT),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once the socket wants more (or is gone); the mock never buffers unboundedly. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

async function write(res: ServerResponse, data: string | Buffer): Promise<void> {
  if (!res.write(data)) await drained(res);
}

export interface MockStats {
  requests: Record<string, number>;
  /** The last request body seen per path: shows what a gateway sends upstream. */
  lastBody: Record<string, unknown>;
}

export interface MockUpstream {
  server: Server;
  port: number;
  stats: MockStats;
  close(): Promise<void>;
}

/** Prepared replies by path, model and store flag; bench runs use a handful of shapes. */
const PREPARED_CACHE_LIMIT = 256;

export interface MockOptions {
  /**
   * A reply prepared afresh for each request, so each has its own item id, as a real server's do: a
   * client that keeps its history (store:false, Codex, a WebSocket chain) would otherwise send the
   * same message id twice and be refused as a duplicate. The benchmarks reuse prepared replies.
   */
  uniqueItemIds?: boolean;
}

export async function startMockUpstream(
  port = 0,
  host = "127.0.0.1",
  options: MockOptions = {},
): Promise<MockUpstream> {
  const cache = new Map<string, Prepared>();
  const stats: MockStats = { requests: {}, lastBody: {} };
  let counter = 0;

  const prepared = (path: string, model: string, store: boolean, knobs: Knobs): Prepared => {
    const key = `${path}|${model}|${store}|${knobs.events},${knobs.size},${knobs.chunk}`;
    let entry = options.uniqueItemIds === true ? undefined : cache.get(key);
    if (entry === undefined) {
      if (cache.size >= PREPARED_CACHE_LIMIT) cache.clear();
      entry = path === "/v1/chat/completions" ? prepareChat(model, knobs) : prepareResponses(model, store, knobs);
      cache.set(key, entry);
    }
    return entry;
  };

  const serve = async (req: IncomingMessage, res: ServerResponse, raw: string): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    stats.requests[path] = (stats.requests[path] ?? 0) + 1;
    if (req.method === "GET" && path === "/stats") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(stats));
      return;
    }
    if (req.method !== "POST" || (path !== "/v1/responses" && path !== "/v1/chat/completions")) {
      const error = {
        message: `Invalid URL (${req.method} ${path})`,
        type: "invalid_request_error",
        param: null,
        code: null,
      };
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error }));
      return;
    }
    let body: { model?: unknown; stream?: unknown; store?: unknown };
    try {
      body = JSON.parse(raw) as typeof body;
    } catch {
      const error = {
        message: "We could not parse the JSON body of your request.",
        type: "invalid_request_error",
        param: null,
        code: null,
      };
      res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error }));
      return;
    }
    stats.lastBody[path] = body;
    const model = typeof body.model === "string" ? body.model : "bench";
    const knobs = parseKnobs(model, req.headers);
    const reply = prepared(path, model, body.store !== false, knobs);
    const id = `resp_${(++counter).toString(16).padStart(48, "0")}`;
    const requestId = `req_bench_${counter}`;
    let closed = false;
    res.on("close", () => (closed = true));

    if (knobs.ttft > 0) await sleep(knobs.ttft);
    if (body.stream !== true) {
      // A non-streaming call takes as long as the stream would have.
      if (knobs.pace > 0) await sleep(knobs.pace * knobs.events);
      if (closed) return;
      res.writeHead(200, { "content-type": "application/json", "x-request-id": requestId }).end(reply.json.join(id));
      return;
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-request-id": requestId,
    });
    await write(res, reply.head.join(id));
    if (knobs.pace > 0) {
      const start = performance.now();
      for (let i = 0; i < reply.deltas.length && !closed; i++) {
        const due = start + (i + 1) * knobs.pace - performance.now();
        if (due > 0) await sleep(due);
        await write(res, reply.deltas[i]!);
      }
    } else {
      for (let i = 0; i < reply.groups.length && !closed; i++) {
        await write(res, reply.groups[i]!);
        // Let concurrent streams interleave instead of one stream hogging the loop.
        if (i % 8 === 7) await new Promise((resolve) => setImmediate(resolve));
      }
    }
    if (!closed) res.end(reply.tail.join(id));
  };

  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      serve(req, res, Buffer.concat(chunks).toString("utf8")).catch((error: unknown) => {
        console.error("mock upstream:", error);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
  });
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const bound = typeof address === "object" && address !== null ? address.port : port;
  return {
    server,
    port: bound,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// Standalone: print the port as one JSON line (bench/run.ts reads it); stop on SIGTERM/SIGINT, and with
// `--exit-with-parent` also when stdin closes (the parent died).
if (import.meta.main) {
  const arg = process.argv.find((a) => a.startsWith("--port="));
  const mock = await startMockUpstream(arg ? Number(arg.slice("--port=".length)) : 0);
  process.stdout.write(`${JSON.stringify({ port: mock.port })}\n`);
  const stop = (): void => void mock.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  if (process.argv.includes("--exit-with-parent")) process.stdin.on("end", stop).resume();
}
