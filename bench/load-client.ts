// The load generator: N concurrent streams of M requests against one base URL, measured from outside
// (time to first event, total time, events) and checked (contiguous sequence numbers from 0, a terminal
// event, the expected count and text). Used by bench/run.ts for every cell of every scenario.

import { Agent, request } from "undici";

/** What a reply looks like on the wire, so the client knows how to read and check it. */
export type WireMode = "responses-sse" | "responses-json" | "chat-sse" | "chat-json";

export interface Expectation {
  /** Text deltas the upstream sends (each of `size` characters). */
  deltas: number;
  size: number;
  /** Exact number of SSE data frames, when the target passes the stream through unchanged. */
  frames?: number;
}

export interface LoadSpec {
  /** Base URL ending in `/v1`. */
  baseUrl: string;
  path: "/responses" | "/chat/completions";
  headers: Record<string, string>;
  body: string;
  mode: WireMode;
  expect: Expectation;
  concurrency: number;
  /** Requests to send at least (unless `maxSeconds` passes first). */
  requests: number;
  /** Keep sending past `requests` until this many seconds have passed (enough CPU ticks to measure). */
  minSeconds: number;
  /** No new request starts after this many seconds. */
  maxSeconds: number;
  /** Spread the first request of each stream over this many ms (0 = all at once). */
  rampMs: number;
  /** Per-request cap. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface RequestResult {
  ok: boolean;
  status: number;
  /** First failed check or transport error. */
  error?: string;
  /** From sending the request to the first SSE `data:` frame (JSON: to the response headers). */
  ttfeMs: number;
  totalMs: number;
  /** SSE data frames received (JSON: 1). */
  events: number;
  responseId?: string;
}

export interface LoadResult {
  results: RequestResult[];
  /** From the first request sent to the last one finished. */
  wallMs: number;
}

/** Splits a byte stream into SSE frames incrementally: each byte is scanned once, whatever the chunking. */
export class FrameSplitter {
  readonly #decoder = new TextDecoder();
  #buffer = "";
  #scanFrom = 0;
  #pendingCr = false;

  /** Calls `onFrame` with the text of every complete frame (lines joined by `\n`, without the blank line). */
  feed(chunk: Uint8Array, onFrame: (frame: string) => void): void {
    let text = this.#decoder.decode(chunk, { stream: true });
    if (this.#pendingCr) text = text.startsWith("\n") ? text.slice(1) : text;
    this.#pendingCr = text.endsWith("\r");
    if (text.includes("\r")) text = text.replace(/\r\n?/g, "\n");
    this.#buffer += text;
    let start = 0;
    let end = this.#buffer.indexOf("\n\n", this.#scanFrom);
    while (end !== -1) {
      onFrame(this.#buffer.slice(start, end));
      start = end + 2;
      end = this.#buffer.indexOf("\n\n", start);
    }
    if (start > 0) this.#buffer = this.#buffer.slice(start);
    this.#scanFrom = Math.max(0, this.#buffer.length - 1);
  }

  /** Whatever is left after the body ended (a last frame without its blank line). */
  rest(): string {
    return this.#buffer + this.#decoder.decode();
  }
}

interface Frame {
  event: string | undefined;
  data: string | undefined;
}

function parseFrame(frame: string): Frame {
  let event: string | undefined;
  let data: string | undefined;
  for (const line of frame.split("\n")) {
    if (line.startsWith("data:")) {
      const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
      data = data === undefined ? value : `${data}\n${value}`;
    } else if (line.startsWith("event:")) {
      event = line.slice(line.charCodeAt(6) === 32 ? 7 : 6);
    }
  }
  return { event, data };
}

const TERMINAL = new Set(["response.completed", "response.incomplete", "response.failed"]);

interface ResponsesEvent {
  type?: string;
  sequence_number?: number;
  delta?: string;
  response?: { id?: string; status?: string; output?: OutputItem[]; usage?: unknown };
  error?: unknown;
}
interface OutputItem {
  type?: string;
  content?: { type?: string; text?: string }[];
}

/** Concatenated `output_text` of a Response's output (what the SDK calls `output_text`). */
export function outputText(output: OutputItem[] | undefined): string {
  let text = "";
  for (const item of output ?? []) {
    if (item.type !== "message") continue;
    for (const part of item.content ?? []) if (part.type === "output_text") text += part.text ?? "";
  }
  return text;
}

/** Checks one Responses stream event by event; `finish` names the first thing that was wrong. */
class ResponsesStreamCheck {
  events = 0;
  responseId: string | undefined;
  #error: string | undefined;
  #deltas = 0;
  #text: string[] = [];
  #terminal: ResponsesEvent | undefined;
  readonly #expect: Expectation;

  constructor(expect: Expectation) {
    this.#expect = expect;
  }

  #fail(message: string): void {
    this.#error ??= message;
  }

  push(frame: Frame): void {
    if (frame.data === undefined) return;
    const index = this.events++;
    let event: ResponsesEvent;
    try {
      event = JSON.parse(frame.data) as ResponsesEvent;
    } catch {
      return this.#fail(`event ${index} is not JSON`);
    }
    if (this.#terminal !== undefined) this.#fail(`event after the terminal one (${event.type})`);
    if (event.sequence_number !== index) {
      this.#fail(`event ${index} has sequence_number ${event.sequence_number} (expected ${index})`);
    }
    if (frame.event !== undefined && frame.event !== event.type) {
      this.#fail(`event name ${frame.event} differs from data.type ${event.type}`);
    }
    if (index === 0 && event.type !== "response.created") this.#fail(`first event is ${event.type}`);
    if (event.response?.id !== undefined) {
      this.responseId ??= event.response.id;
      if (event.response.id !== this.responseId) this.#fail("response id changed during the stream");
    }
    switch (event.type) {
      case "response.output_text.delta":
        if (event.delta) {
          this.#deltas++;
          this.#text.push(event.delta);
        }
        break;
      case "error":
        this.#fail(`error event: ${JSON.stringify(event.error ?? event).slice(0, 200)}`);
        break;
      default:
        if (event.type !== undefined && TERMINAL.has(event.type)) this.#terminal = event;
    }
  }

  finish(): string | undefined {
    if (this.#error !== undefined) return this.#error;
    const terminal = this.#terminal;
    if (terminal === undefined) return `no terminal event after ${this.events} events`;
    if (terminal.type !== "response.completed") return `terminal event is ${terminal.type}`;
    const { deltas, size, frames } = this.#expect;
    if (this.#deltas !== deltas) return `${this.#deltas} text deltas (expected ${deltas})`;
    const text = this.#text.join("");
    if (text.length !== deltas * size) return `${text.length} characters of text (expected ${deltas * size})`;
    if (outputText(terminal.response?.output) !== text) return "response.completed output differs from the deltas";
    if (terminal.response?.usage == null) return "response.completed has no usage";
    if (frames !== undefined && this.events !== frames) return `${this.events} events (expected ${frames})`;
    return undefined;
  }
}

interface ChatChunk {
  choices?: { delta?: { content?: string | null } }[];
  usage?: unknown;
}

/** Checks one Chat Completions stream: chunks, text, a usage chunk and `[DONE]`. */
class ChatStreamCheck {
  events = 0;
  responseId: string | undefined;
  #error: string | undefined;
  #deltas = 0;
  #chars = 0;
  #usage = false;
  #done = false;
  readonly #expect: Expectation;

  constructor(expect: Expectation) {
    this.#expect = expect;
  }

  push(frame: Frame): void {
    if (frame.data === undefined) return;
    if (frame.data === "[DONE]") {
      this.#done = true;
      return;
    }
    this.events++;
    if (this.#done) this.#error ??= "chunk after [DONE]";
    try {
      const chunk = JSON.parse(frame.data) as ChatChunk & { id?: string };
      this.responseId ??= chunk.id;
      const content = chunk.choices?.[0]?.delta?.content;
      if (content) {
        this.#deltas++;
        this.#chars += content.length;
      }
      if (chunk.usage != null) this.#usage = true;
    } catch {
      this.#error ??= `chunk ${this.events - 1} is not JSON`;
    }
  }

  finish(): string | undefined {
    if (this.#error !== undefined) return this.#error;
    if (!this.#done) return `no [DONE] after ${this.events} chunks`;
    const { deltas, size, frames } = this.#expect;
    if (this.#deltas !== deltas) return `${this.#deltas} content chunks (expected ${deltas})`;
    if (this.#chars !== deltas * size) return `${this.#chars} characters of text (expected ${deltas * size})`;
    if (!this.#usage) return "no usage chunk";
    if (frames !== undefined && this.events !== frames) return `${this.events} chunks (expected ${frames})`;
    return undefined;
  }
}

function checkJson(mode: WireMode, text: string, expect: Expectation): { error?: string; id?: string } {
  let body: { id?: string; status?: string; output?: OutputItem[]; choices?: { message?: { content?: string } }[] };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return { error: "body is not JSON" };
  }
  const chars = expect.deltas * expect.size;
  if (mode === "chat-json") {
    const content = body.choices?.[0]?.message?.content ?? "";
    return content.length === chars ? { id: body.id } : { error: `${content.length} characters (expected ${chars})` };
  }
  if (body.status !== "completed") return { error: `status ${body.status}`, id: body.id };
  const length = outputText(body.output).length;
  return length === chars ? { id: body.id } : { error: `${length} characters (expected ${chars})`, id: body.id };
}

const ERROR_BODY_CHARS = 300;

async function once(spec: LoadSpec, dispatcher: Agent): Promise<RequestResult> {
  const started = performance.now();
  let ttfe = Number.NaN;
  const signal = spec.signal
    ? AbortSignal.any([spec.signal, AbortSignal.timeout(spec.timeoutMs)])
    : AbortSignal.timeout(spec.timeoutMs);
  const fail = (status: number, error: string, events = 0): RequestResult => ({
    ok: false,
    status,
    error,
    ttfeMs: ttfe,
    totalMs: performance.now() - started,
    events,
  });
  let status = 0;
  const check = spec.mode === "chat-sse" ? new ChatStreamCheck(spec.expect) : new ResponsesStreamCheck(spec.expect);
  try {
    const res = await request(spec.baseUrl + spec.path, {
      method: "POST",
      headers: { "content-type": "application/json", ...spec.headers },
      body: spec.body,
      dispatcher,
      signal,
    });
    status = res.statusCode;
    if (status !== 200) {
      const text = await res.body.text();
      return fail(status, `HTTP ${status}: ${text.slice(0, ERROR_BODY_CHARS)}`);
    }
    if (spec.mode === "responses-json" || spec.mode === "chat-json") {
      ttfe = performance.now() - started;
      const checked = checkJson(spec.mode, await res.body.text(), spec.expect);
      const totalMs = performance.now() - started;
      const result: RequestResult = { ok: checked.error === undefined, status, ttfeMs: ttfe, totalMs, events: 1 };
      if (checked.error !== undefined) result.error = checked.error;
      if (checked.id !== undefined) result.responseId = checked.id;
      return result;
    }
    const splitter = new FrameSplitter();
    const onFrame = (text: string): void => {
      const frame = parseFrame(text);
      if (frame.data !== undefined && Number.isNaN(ttfe)) ttfe = performance.now() - started;
      check.push(frame);
    };
    for await (const chunk of res.body) splitter.feed(chunk as Buffer, onFrame);
    const rest = splitter.rest().trim();
    if (rest !== "") onFrame(rest);
    const error = check.finish();
    const result: RequestResult = {
      ok: error === undefined,
      status,
      ttfeMs: ttfe,
      totalMs: performance.now() - started,
      events: check.events,
    };
    if (error !== undefined) result.error = error;
    if (check.responseId !== undefined) result.responseId = check.responseId;
    return result;
  } catch (error) {
    const name = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return fail(status, name.slice(0, ERROR_BODY_CHARS), check.events);
  }
}

/** A keep-alive pool sized for the concurrency, so no request waits for a socket. */
export function newAgent(concurrency: number): Agent {
  return new Agent({ connections: concurrency + 4, keepAliveTimeout: 30_000, pipelining: 1 });
}

export async function runLoad(spec: LoadSpec, dispatcher: Agent = newAgent(spec.concurrency)): Promise<LoadResult> {
  const results: RequestResult[] = [];
  let next = 0;
  const start = performance.now();
  const deadline = start + spec.maxSeconds * 1000;
  const minimum = start + spec.minSeconds * 1000;
  const more = (): boolean => {
    const now = performance.now();
    return (next < spec.requests || now < minimum) && now < deadline && !spec.signal?.aborted;
  };
  const worker = async (index: number): Promise<void> => {
    const delay = spec.concurrency > 1 ? (spec.rampMs * index) / spec.concurrency : 0;
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    while (more()) {
      next++;
      results.push(await once(spec, dispatcher));
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, (_, i) => worker(i)));
  return { results, wallMs: performance.now() - start };
}

export interface StoredCheck {
  checked: number;
  completed: number;
  /** First few failures, for the report. */
  failures: string[];
}

/** `GET /responses/{id}` for every stored response: it must exist, be `completed` and carry the whole text. */
export async function checkStored(
  baseUrl: string,
  headers: Record<string, string>,
  ids: string[],
  expectChars: number,
  concurrency = 8,
): Promise<StoredCheck> {
  const dispatcher = newAgent(concurrency);
  const outcome: StoredCheck = { checked: 0, completed: 0, failures: [] };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next++]!;
      outcome.checked++;
      try {
        const res = await request(`${baseUrl}/responses/${encodeURIComponent(id)}`, {
          headers,
          dispatcher,
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.body.text();
        const body = (res.statusCode === 200 ? JSON.parse(text) : {}) as { status?: string; output?: OutputItem[] };
        const chars = outputText(body.output).length;
        if (res.statusCode === 200 && body.status === "completed" && chars === expectChars) outcome.completed++;
        else if (outcome.failures.length < 3) {
          outcome.failures.push(
            `${id}: HTTP ${res.statusCode} status ${body.status} ${chars} chars ${text.slice(0, 120)}`,
          );
        }
      } catch (error) {
        if (outcome.failures.length < 3) outcome.failures.push(`${id}: ${String(error)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await dispatcher.close();
  return outcome;
}
