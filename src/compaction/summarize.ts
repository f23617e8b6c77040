// Asks the upstream model to summarize a context for compaction: over Chat Completions the context
// as chat messages, over a Responses server without `/responses/compact` the context as its input
// (responses-summary.ts), then the request for a handoff summary; the answer's text and token
// usage. Used by the compact route and by create-time compaction (`context_management`).

import { ApiError } from "../errors";
import { UnusableAnswer } from "../observe/failed-by";
import { CONTEXT_LENGTH_EXCEEDED } from "../upstream/errors";
import type { InputItem, JsonObject } from "../responses/types";
import { isPlainObject } from "../responses/validation";
import { decodeSse } from "../sse";
import { toMessages } from "../upstream/chat-completions/messages";
import { withoutThinkBlock } from "../upstream/chat-completions/think-tags";
import { ChatToolSet } from "../upstream/chat-completions/tool-set";
import { usageFromChat, type ResponseUsage } from "../upstream/chat-completions/usage";
import { contentText } from "../upstream/chat-completions/wire";
import { callUpstream, readBoundedText, redact, type CallOptions, type UpstreamTarget } from "../upstream/client";
import { hostOf } from "../upstream/errors";
import { responsesSummaryAnswer, responsesSummaryBody } from "./responses-summary";

const SUMMARY_INSTRUCTIONS = `You are compacting a long conversation so that it can continue in a smaller context.
Write a handoff summary that another model, seeing only the user's messages and your summary, can continue from
without losing anything it needs: the user's goals and constraints, decisions made, facts and results learned
(including the latest tool results), files, names and values in play, what was done, what is in progress and
what remains to be done. Be complete and specific; leave out pleasantries. Write only the summary.`;

const SUMMARY_REQUEST = "Write the handoff summary of the conversation above now.";

/** The request when the oldest part of the history had to be left out: the model should not invent it. */
const TRIMMED_SUMMARY_REQUEST = `${SUMMARY_REQUEST} Its oldest part did not fit in your context and was left out.`;

/**
 * Most summary calls one compaction makes. A context the server refuses as too long (compaction is
 * most needed then) is asked for again with the older half of its history left out, so five calls
 * reach a sixteenth of it.
 */
const MAX_SUMMARY_CALLS = 5;

/** Largest summary answer read (a runaway body is cut, not held). */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

export interface Summary {
  text: string;
  usage: ResponseUsage;
  model: string;
}

export interface SummarizeRequest {
  target: UpstreamTarget;
  /** The model as the client named it (the target may rewrite it). */
  model: string;
  /** Tools of the request, so calls of history keep the names the model saw them under. */
  body: JsonObject;
  input: InputItem[];
  options: CallOptions;
  /** `UPSTREAM_IDLE_TIMEOUT_MS`: the longest wait for the answer's next bytes once its headers came. */
  idleTimeoutMs: number;
}

/** The 504 of an answer that stopped coming: the headers arrived, then nothing for `ms`. */
const stalled = (host: string, ms: number): ApiError =>
  new UnusableAnswer(
    "upstream_idle",
    `The upstream model server at ${host} stopped sending its summary for more than ${Math.round(ms / 1000)} seconds (UPSTREAM_IDLE_TIMEOUT_MS).`,
    { status: 504, code: "upstream_timeout" },
  );

/**
 * `response` with its body bounded by `ms` between chunks, as a streamed answer is: a server that sent
 * its headers and then stalls would otherwise hold the compaction (and its caller) for as long as it does.
 */
function idleBounded(response: Response, ms: number, host: string): Response {
  if (response.body === null) return response;
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(stalled(host, ms)), ms);
      });
      try {
        const { done, value } = await Promise.race([reader.read(), idle]);
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (error) {
        reader.cancel(error).catch(() => undefined);
        throw error;
      } finally {
        clearTimeout(timer);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(body, { status: response.status, headers: response.headers });
}

const tooLarge = (): ApiError =>
  new UnusableAnswer("upstream_stream", "The upstream model server's summary was too large.");

async function readText(response: Response): Promise<string> {
  const { text, cut } = await readBoundedText(response, MAX_ANSWER_BYTES);
  if (cut) throw tooLarge();
  return text;
}

/** The text and usage of a chat completion body, or of a chunk stream a server sent instead. */
async function answerOf(response: Response): Promise<{ text: string; usage: JsonObject | undefined }> {
  if (!(response.headers.get("content-type") ?? "").includes("text/event-stream")) {
    const body: unknown = JSON.parse(await readText(response));
    const choice: unknown = isPlainObject(body) && Array.isArray(body.choices) ? body.choices[0] : undefined;
    const message = isPlainObject(choice) && isPlainObject(choice.message) ? choice.message : {};
    return {
      text: contentText(message.content),
      usage: isPlainObject(body) && isPlainObject(body.usage) ? body.usage : undefined,
    };
  }
  let text = "";
  let usage: JsonObject | undefined;
  for await (const message of decodeSse(response.body as ReadableStream<Uint8Array>)) {
    if (message.data.trim() === "[DONE]") break;
    const chunk: unknown = JSON.parse(message.data);
    if (!isPlainObject(chunk)) continue;
    if (isPlainObject(chunk.usage)) usage = chunk.usage;
    const choice: unknown = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
    if (isPlainObject(choice) && isPlainObject(choice.delta)) text += contentText(choice.delta.content);
    // Bounded as a JSON answer is: a server streaming without end would otherwise be held whole
    // (leaving the loop cancels the stream).
    if (text.length > MAX_ANSWER_BYTES) throw tooLarge();
  }
  return { text, usage };
}

const isInstruction = (item: InputItem): boolean =>
  (item.type ?? "message") === "message" && (item.role === "system" || item.role === "developer");

/**
 * `input` with the older half of its history (by size) left out, or null when nothing more can go.
 * The system and developer messages that open it stay (they become the summary call's system
 * message), and so does the newest item; a tool output whose call was left out goes too, as a chat
 * server refuses an answer to no call.
 */
export function withoutOlderHalf(input: InputItem[]): InputItem[] | null {
  let start = 0;
  while (start < input.length && isInstruction(input[start] as InputItem)) start++;
  const history = input.slice(start);
  const sizes = history.map((item) => JSON.stringify(item).length);
  const half = sizes.reduce((sum, size) => sum + size, 0) / 2;
  let cut = 0;
  for (let dropped = 0; cut < history.length - 1 && dropped < half; cut++) dropped += sizes[cut] as number;
  if (cut === 0) return null;
  const kept = history.slice(cut);
  const calls = new Set(kept.filter((item) => !String(item.type).endsWith("_output")).map((item) => item.call_id));
  const answered = kept.filter((item) => !String(item.type).endsWith("_output") || calls.has(item.call_id));
  return answered.length === 0 ? null : [...input.slice(0, start), ...answered];
}

const isContextOverflow = (error: unknown): boolean =>
  error instanceof ApiError && error.status === 400 && error.code === CONTEXT_LENGTH_EXCEEDED;

/**
 * The upstream model's handoff summary of `request.input`. A server that refuses the context as longer
 * than its own is asked again with the older half of the history left out (and told so), up to
 * MAX_SUMMARY_CALLS calls: the summary covers the newest part, and the compacted context still holds
 * every user message (expand.ts).
 */
export async function summarize(request: SummarizeRequest): Promise<Summary> {
  let input = request.input;
  for (let call = 1; ; call++) {
    try {
      return await summarizeOnce(request, input, input !== request.input);
    } catch (error) {
      const shorter = isContextOverflow(error) && call < MAX_SUMMARY_CALLS ? withoutOlderHalf(input) : null;
      if (shorter === null) throw error;
      input = shorter;
    }
  }
}

async function summarizeOnce(request: SummarizeRequest, input: InputItem[], trimmed: boolean): Promise<Summary> {
  const ask = trimmed ? TRIMMED_SUMMARY_REQUEST : SUMMARY_REQUEST;
  const overChat = request.target.protocol.name === "chat_completions";
  const body = overChat
    ? chatSummaryBody(request, input, ask)
    : responsesSummaryBody(request.model, SUMMARY_INSTRUCTIONS, input, ask);
  const response = idleBounded(
    await callUpstream(request.target, body, { ...request.options, accept: "application/json" }),
    request.idleTimeoutMs,
    hostOf(request.target.baseUrl),
  );
  let answer: { text: string; usage: ResponseUsage };
  try {
    if (overChat) {
      const chat = await answerOf(response);
      answer = { text: chat.text, usage: usageFromChat(chat.usage ?? {}) };
    } else {
      answer = await responsesSummaryAnswer(response, {
        read: readText,
        maxChars: MAX_ANSWER_BYTES,
        tooLarge,
        redact: (text) => redact(text, request.target.apiKey),
      });
    }
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new UnusableAnswer("upstream_stream", "The upstream model server's summary could not be read.");
  }
  // A thinking model served without a reasoning parser opens its answer with a <think> block: the
  // summary is what follows it (the block would be sealed into every later turn's context).
  answer.text = withoutThinkBlock(answer.text, { open: request.target.templateOpensThink === true });
  if (answer.text.trim() === "")
    throw new UnusableAnswer(
      "upstream_stream",
      "The upstream model server answered the compaction request with no summary.",
    );
  return { text: answer.text.trim(), usage: answer.usage, model: request.target.model ?? request.model };
}

/** The chat body of the summary call. */
function chatSummaryBody(request: SummarizeRequest, input: InputItem[], ask: string): JsonObject {
  const tools = ChatToolSet.from(request.body, input);
  return {
    model: request.model,
    // The instructions join the system and developer messages that open the context (Codex CLI's) as
    // one system message: many chat templates refuse a second one (see toMessages).
    messages: [...toMessages(SUMMARY_INSTRUCTIONS, input, tools), { role: "user", content: ask }],
    stream: false,
  };
}
