// Translates a Chat Completions chunk stream into the Responses event grammar (items strictly one
// after another, one terminal event). Used by the protocol's translator and by completion.ts.

import { newId } from "../../responses/ids";
import type { JsonObject, OutputItem, ResponseError, ResponseObject, StreamEvent } from "../../responses/types";
import { responseError } from "../../responses/types";
import { isPlainObject } from "../../responses/validation";
import type { SseMessage } from "../../sse";
import type { EventTranslator, TranslationContext } from "../protocol";
import { GATEWAY_REASONING_MARK, type ReasoningSeal } from "../reasoning-seal";
import { CLIENT_TOOLS, isClientToolType } from "./client-tools";
import {
  argumentsComplete,
  customInput,
  named,
  newCallId,
  parsedArguments,
  ToolCallAssembler,
  type CallItem,
  type ToolCall,
} from "./tool-calls";
import { ThinkTagSplitter, type ThinkSplit } from "./think-tags";
import { ChatToolSet, type ChatTool } from "./tool-set";
import { usageFromChat, withCompactionUsage, type ResponseUsage } from "./usage";
import { contentText, mapLogprobs, nonEmpty, objectOr, reasoningText, upstreamErrorOf, type Logprob } from "./wire";

type ItemStatus = "completed" | "incomplete";

/** A delta without tool calls (most of them): no array made for it. */
const NO_CALLS: readonly unknown[] = [];

const MALFORMED: ResponseError = responseError(
  "server_error",
  "The upstream model server sent a stream chunk that is not a JSON object.",
);

const INCOMPLETE_REASONS: Readonly<Record<string, string>> = {
  length: "max_output_tokens",
  // Mistral's "the context window is full": the answer was cut off as by max_tokens.
  model_length: "max_output_tokens",
  content_filter: "content_filter",
};

/**
 * Finish reasons by which a server says it stopped the answer on a failure of its own: Mistral's
 * and vLLM's `error`, vLLM's `abort`, DeepSeek's `insufficient_system_resource`. The answer is a
 * fragment, not a completed response.
 */
const FAILED_REASONS: ReadonlySet<string> = new Set(["error", "abort", "insufficient_system_resource"]);

/** Tiers a chunk's `service_tier` may report that a Response can name (Groq's `on_demand` is not one). */
const SERVED_TIERS: ReadonlySet<string> = new Set(["default", "flex", "scale", "priority"]);

interface ReasoningState {
  kind: "reasoning";
  id: string;
  index: number;
  text: string;
}

/**
 * Whether the request asks for reasoning summaries (`reasoning.summary`, or its deprecated name
 * `generate_summary`: `auto`, `concise`, `detailed`). Clients read a reasoning model's thinking
 * from `summary` then (the AI SDK, Codex CLI), as OpenAI fills it and never `content`; a chat
 * server's raw reasoning is the only text there is, so it goes there whole.
 */
function asksForSummary(body: JsonObject): boolean {
  const reasoning = objectOr(body.reasoning);
  return typeof (reasoning?.summary ?? reasoning?.generate_summary) === "string";
}

interface PartState {
  type: "output_text" | "refusal";
  text: string;
  logprobs: Logprob[];
}

interface MessageState {
  kind: "message";
  id: string;
  index: number;
  /** Finished content parts; the open one (if any) sits at index `parts.length`. */
  parts: JsonObject[];
  part: PartState | undefined;
}

export class ChatStreamTranslator implements EventTranslator {
  readonly #base: ResponseObject;
  /** The request's chat functions, to map each called name back to its tool. */
  readonly #tools: ChatToolSet;
  #model: string | undefined;
  #events: StreamEvent[] = [];
  #started = false;
  #ended = false;
  #finishReason: string | undefined;
  #usage: ResponseUsage | null = null;
  /** The tier the server says it served the answer at (OpenAI's chat API does), if any. */
  #servedTier: string | undefined;
  /** Every item added so far, in output order (final values once done). */
  readonly #output: OutputItem[] = [];
  /** The open reasoning or message item. Never open at the same time as a tool call. */
  #text: ReasoningState | MessageState | undefined;
  /** Tool calls being reassembled; only the first pending one can be live. */
  readonly #calls: ToolCallAssembler;
  /**
   * `parallel_tool_calls: false`: the one call the answer may make (OpenAI's answers hold zero or one).
   * Servers that ignore the flag (Ollama) may send more; those after the first are dropped, or a
   * client that answers one call would leave the others unanswered in the chain.
   */
  readonly #oneCall: boolean;
  #firstCall: ToolCall | undefined;
  /** Every call_id handed out so far (the SDK rejects two items with one call_id). */
  readonly #callIds = new Set<string>();
  /**
   * Text, refusal and reasoning deltas that came while a tool call's arguments were not yet a whole
   * JSON value (a stray "\n" between fragments): sent, in order, once every pending call can end,
   * so that they neither cut the call short nor are lost.
   */
  #held: { kind: "reasoning" | PartState["type"]; text: string; logprobs: Logprob[] }[] = [];
  /** Splits a leading `<think>` block off `content` (models served without a reasoning parser). */
  readonly #think: ThinkTagSplitter;
  /** Logprobs of content the splitter holds back (a maybe-tag), for the answer it may turn out to be. */
  #thinkLogprobs: Logprob[] = [];

  /** Each reasoning item's `encrypted_content`, from its text. */
  readonly #sealReasoning: ReasoningSeal;
  /** Reasoning text goes in `summary` (one `summary_text` part), not in `content`. */
  readonly #summary: boolean;

  /** The compaction item the gateway made for this response, until the output opens with it. */
  #compaction: TranslationContext["compaction"];
  readonly #compactionUsage: JsonObject | undefined;

  constructor(context: TranslationContext) {
    this.#base = context.base;
    this.#compaction = context.compaction;
    this.#compactionUsage = context.compaction?.usage;
    this.#tools = ChatToolSet.from(context.request.body, context.input ?? context.request.input);
    this.#oneCall = context.request.body.parallel_tool_calls === false;
    this.#think = new ThinkTagSplitter({ open: context.templateOpensThink === true });
    this.#sealReasoning = context.sealReasoning ?? (() => GATEWAY_REASONING_MARK);
    this.#summary = asksForSummary(context.request.body);
    this.#calls = new ToolCallAssembler(context.onAnomaly);
  }

  push(message: SseMessage): StreamEvent[] {
    if (this.#ended) return [];
    const data = message.data.trim();
    if (data === "") return [];
    if (data === "[DONE]") return this.end();
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      // Quoted whole: the normalizer takes the key out of it, then cuts it short.
      chunk = message.event === "error" ? { error: { message: data } } : undefined;
    }
    if (!isPlainObject(chunk)) {
      this.#fail(MALFORMED);
      return this.#drain();
    }
    return this.pushChunk(chunk, message.event);
  }

  /** Translates one parsed chunk (`event` is the SSE event name, if any). */
  pushChunk(chunk: JsonObject, event?: string): StreamEvent[] {
    if (this.#ended) return [];
    this.#model ??= nonEmpty(chunk.model);
    // Usage may come on the finish chunk, on a later `choices: []` chunk, or twice (Groq also
    // nests it in `x_groq`): the last one seen wins, and a chunk without usage keeps it.
    const usage = objectOr(chunk.usage) ?? objectOr(objectOr(chunk.x_groq)?.usage);
    if (usage !== undefined) this.#usage = usageFromChat(usage, chunk.timings);
    const tier = nonEmpty(chunk.service_tier);
    if (tier !== undefined && SERVED_TIERS.has(tier)) this.#servedTier = tier;
    const error = upstreamErrorOf(chunk, event);
    if (error !== undefined) {
      this.#fail(error);
      return this.#drain();
    }
    // The response opens with the server's first chunk (its role, often alone), not its first output:
    // a model that thinks silently first otherwise kept the client without the response's id (to
    // cancel, resume or chain from it) for as long, where OpenAI sends `response.created` at once.
    this.#open();
    for (const value of Array.isArray(chunk.choices) ? chunk.choices : []) {
      const choice = objectOr(value);
      // `n` is never sent, so only choice 0 exists; anything else is ignored.
      if (choice === undefined || (typeof choice.index === "number" && choice.index !== 0)) continue;
      const delta = objectOr(choice.delta) ?? objectOr(choice.message);
      if (delta !== undefined) this.#delta(delta, objectOr(choice.logprobs));
      // Some servers repeat the finish reason or follow it with `finish_reason: null`: keep the last real one.
      this.#finishReason = nonEmpty(choice.finish_reason) ?? this.#finishReason;
    }
    return this.#drain();
  }

  /** The upstream said `[DONE]`: the terminal event, now that late usage chunks are in. */
  end(): StreamEvent[] {
    if (this.#ended) return [];
    this.#content(this.#think.flush(), []);
    if (this.#finishReason !== undefined && FAILED_REASONS.has(this.#finishReason)) {
      this.#fail(
        responseError(
          "server_error",
          `The upstream model server stopped the answer before its end (finish_reason '${this.#finishReason}').`,
        ),
      );
      return this.#drain();
    }
    const reason = this.#finishReason === undefined ? undefined : INCOMPLETE_REASONS[this.#finishReason];
    const status: ItemStatus = reason === undefined ? "completed" : "incomplete";
    this.#closeAll(status);
    this.#emit({
      type: `response.${status}`,
      response: this.#snapshot(status, {
        completed_at: reason === undefined ? Math.floor(Date.now() / 1000) : null,
        incomplete_details: reason === undefined ? null : { reason },
      }),
    });
    this.#ended = true;
    return this.#drain();
  }

  /**
   * The body ended without `[DONE]`. With a finish reason the answer is whole (some servers never
   * send `[DONE]`); without one it was cut off, and nothing is returned so the normalizer fails it.
   */
  finish(): StreamEvent[] {
    if (this.#ended || this.#finishReason === undefined) return [];
    return this.end();
  }

  #delta(delta: JsonObject, logprobs: JsonObject | undefined): void {
    const reasoning = reasoningText(delta);
    if (reasoning !== "") {
      this.#content(this.#think.flush(), []);
      this.#textDelta("reasoning", reasoning, []);
    }
    const text = contentText(delta.content);
    if (text !== "") this.#content(this.#think.push(text), logprobs === undefined ? [] : mapLogprobs(logprobs.content));
    const refusal = nonEmpty(delta.refusal);
    if (refusal !== undefined) this.#textDelta("refusal", refusal, []);
    const calls = Array.isArray(delta.tool_calls) ? delta.tool_calls : NO_CALLS;
    if (calls.length > 0 || delta.function_call !== undefined) this.#content(this.#think.flush(), []);
    for (const call of calls) {
      const fields = objectOr(call);
      if (fields !== undefined) this.#toolCallDelta(fields);
    }
    // The legacy single `function_call` (pre-`tools` servers) is one call at index 0.
    const legacy = objectOr(delta.function_call);
    if (legacy !== undefined) this.#toolCallDelta({ index: 0, function: legacy });
    if (this.#held.length > 0 && !this.#callsOpen()) this.#release();
  }

  /**
   * Content as split by the think-tag splitter. Logprobs stay with answer text only while no think
   * block was found (a chunk split between reasoning and answer cannot split its tokens).
   */
  #content(split: ThinkSplit, logprobs: Logprob[]): void {
    if (split.reasoning !== "") this.#textDelta("reasoning", split.reasoning, []);
    if (split.answer === "") {
      if (split.reasoning === "") this.#thinkLogprobs.push(...logprobs);
      return;
    }
    // The event takes the array it is given (the fold owns it): a fresh one, never `logprobs` itself.
    let answerLogprobs: Logprob[];
    if (this.#think.thought) answerLogprobs = [];
    else if (this.#thinkLogprobs.length === 0) answerLogprobs = logprobs.slice();
    else answerLogprobs = this.#thinkLogprobs.concat(logprobs);
    if (this.#thinkLogprobs.length > 0) this.#thinkLogprobs = [];
    this.#textDelta("output_text", split.answer, answerLogprobs);
  }

  /** A text, refusal or reasoning delta: sent, or held while a tool call's arguments are unfinished. */
  #textDelta(kind: "reasoning" | PartState["type"], text: string, logprobs: Logprob[]): void {
    if (this.#held.length > 0 || this.#callsOpen()) {
      this.#held.push({ kind, text, logprobs });
      return;
    }
    if (kind === "reasoning") this.#reasoningDelta(text);
    else this.#partDelta(kind, text, logprobs);
  }

  /** Whether a pending tool call's arguments are not yet a whole JSON value (text now would cut it). */
  #callsOpen(): boolean {
    const pending = this.#calls.pending;
    return pending.length > 0 && pending.some((call) => !argumentsComplete(call));
  }

  /** Sends the held deltas, in order (each closes the calls before it, as text after a call does). */
  #release(): void {
    const held = this.#held;
    this.#held = [];
    for (const { kind, text, logprobs } of held) {
      if (kind === "reasoning") this.#reasoningDelta(text);
      else this.#partDelta(kind, text, logprobs);
    }
  }

  // --- reasoning and message items ---------------------------------------------------------------

  #reasoningDelta(delta: string): void {
    let state = this.#text;
    if (state?.kind !== "reasoning") {
      this.#closeAll("completed");
      const id = newId("rs");
      // The bare mark from the start (the seal, if asked for, comes with `done`): an item a failure
      // or cancellation leaves open keeps it, so a later turn still tells it from a model's own.
      const encrypted_content = GATEWAY_REASONING_MARK;
      const started: OutputItem = this.#summary
        ? { id, type: "reasoning", summary: [], encrypted_content, status: "in_progress" }
        : { id, type: "reasoning", summary: [], content: [], encrypted_content, status: "in_progress" };
      const index = this.#add(started);
      state = { kind: "reasoning", id, index, text: "" };
      this.#text = state;
      if (this.#summary)
        this.#emit({
          type: "response.reasoning_summary_part.added",
          ...this.#summaryAt(state),
          part: { type: "summary_text", text: "" },
        });
      else
        this.#emit({
          type: "response.content_part.added",
          ...this.#at(state, 0),
          part: { type: "reasoning_text", text: "" },
        });
    }
    state.text += delta;
    const { id: item_id, index: output_index } = state;
    // Deltas are most of a stream: each is built in its final shape, as `#emit` would shape it.
    if (this.#summary)
      this.#queue({
        type: "response.reasoning_summary_text.delta",
        sequence_number: 0,
        item_id,
        output_index,
        summary_index: 0,
        delta,
      });
    else
      this.#queue({
        type: "response.reasoning_text.delta",
        sequence_number: 0,
        item_id,
        output_index,
        content_index: 0,
        delta,
      });
  }

  #partDelta(type: PartState["type"], delta: string, logprobs: Logprob[]): void {
    let message = this.#text;
    if (message?.kind !== "message") {
      this.#closeAll("completed");
      const id = newId("msg");
      const index = this.#add({ id, type: "message", status: "in_progress", content: [], role: "assistant" });
      message = { kind: "message", id, index, parts: [], part: undefined };
      this.#text = message;
    }
    let part = message.part;
    if (part?.type !== type) {
      this.#closePart(message);
      part = { type, text: "", logprobs: [] };
      message.part = part;
      const empty = type === "output_text" ? { type, annotations: [], logprobs: [], text: "" } : { type, refusal: "" };
      this.#emit({ type: "response.content_part.added", ...this.#at(message, message.parts.length), part: empty });
    }
    part.text += delta;
    const { id: item_id, index: output_index } = message;
    const content_index = message.parts.length;
    // Deltas are most of a stream: each is built in its final shape, as `#emit` would shape it.
    if (type === "refusal") {
      this.#queue({ type: "response.refusal.delta", sequence_number: 0, item_id, output_index, content_index, delta });
      return;
    }
    if (logprobs.length > 0) part.logprobs.push(...logprobs);
    this.#queue({
      type: "response.output_text.delta",
      sequence_number: 0,
      item_id,
      output_index,
      content_index,
      delta,
      logprobs,
    });
  }

  #closePart(message: MessageState): void {
    const part = message.part;
    if (part === undefined) return;
    const at = this.#at(message, message.parts.length);
    let final: JsonObject;
    if (part.type === "output_text") {
      final = { type: "output_text", annotations: [], logprobs: part.logprobs, text: part.text };
      this.#emit({ type: "response.output_text.done", ...at, text: part.text, logprobs: [...part.logprobs] });
    } else {
      final = { type: "refusal", refusal: part.text };
      this.#emit({ type: "response.refusal.done", ...at, refusal: part.text });
    }
    this.#emit({ type: "response.content_part.done", ...at, part: structuredClone(final) });
    message.parts.push(final);
    message.part = undefined;
  }

  #closeText(status: ItemStatus): void {
    const state = this.#text;
    if (state === undefined) return;
    this.#text = undefined;
    if (state.kind === "reasoning") {
      this.#closeReasoning(state, status);
      return;
    }
    this.#closePart(state);
    this.#done(state.index, { id: state.id, type: "message", status, content: state.parts, role: "assistant" });
  }

  /** Ends a reasoning item: its text in its one part (summary or content), written once. */
  #closeReasoning(state: ReasoningState, status: ItemStatus): void {
    // The gateway's mark (or the text sealed) lets a later turn tell the item from a model's own.
    const encrypted = this.#sealReasoning(state.text);
    if (this.#summary) {
      const part = { type: "summary_text", text: state.text };
      const at = this.#summaryAt(state);
      this.#emit({ type: "response.reasoning_summary_text.done", ...at, text: state.text });
      this.#emit({
        type: "response.reasoning_summary_part.done",
        ...at,
        part: { ...part },
        ...(status === "incomplete" ? { status } : {}),
      });
      this.#done(state.index, {
        id: state.id,
        type: "reasoning",
        summary: [part],
        encrypted_content: encrypted,
        status,
      });
      return;
    }
    const part = { type: "reasoning_text", text: state.text };
    this.#emit({ type: "response.reasoning_text.done", ...this.#at(state, 0), text: state.text });
    this.#emit({ type: "response.content_part.done", ...this.#at(state, 0), part: { ...part } });
    this.#done(state.index, {
      id: state.id,
      type: "reasoning",
      summary: [],
      content: [part],
      encrypted_content: encrypted,
      status,
    });
  }

  // --- tool calls ---------------------------------------------------------------------------------

  #toolCallDelta(fragment: JsonObject): void {
    const call = this.#calls.accept(fragment);
    if (call === undefined) return;
    if (this.#oneCall && (this.#firstCall ??= call) !== call) {
      // Finished unseen: its later fragments are ignored, and text after it is not held for it.
      this.#calls.finish(call);
      return;
    }
    this.#closeText("completed");
    this.#advance(call);
  }

  /**
   * Tool-call deltas may interleave by `index`, but the Responses grammar wants each function_call
   * item added, streamed and done before the next is added. So the first pending call streams
   * live and fragments of any other call are buffered. When another call speaks and the live
   * call's arguments already parse as a complete JSON object, the live call is over (a complete
   * JSON value cannot grow), so it is finished and the next call goes live with its buffer flushed
   * as one delta. This keeps sequential parallel calls (OpenAI, Groq, vLLM) fully live; calls that
   * truly interleave stay buffered until the stream ends.
   */
  #advance(changed: ToolCall): void {
    for (;;) {
      const live = this.#calls.pending[0];
      if (live === undefined) return;
      if (live.item === undefined && !this.#startCall(live, false)) return;
      if (live === changed) {
        this.#sendArguments(live);
        return;
      }
      if (!argumentsComplete(live)) return;
      this.#finishCall(live, "completed");
    }
  }

  /** Starts the call's item (once its name is known, or when `force`d at the end) and flushes its buffer. */
  #startCall(call: ToolCall, force: boolean): boolean {
    if (call.name === "" && !force) return false;
    // The SDK rejects two items with one call_id; a server that repeats ids gets fresh ones.
    const callId = call.id !== undefined && !this.#callIds.has(call.id) ? call.id : newCallId();
    this.#callIds.add(callId);
    const tool = this.#tools.resolve(call.name);
    const kind = tool?.kind ?? "function";
    const streaming = kind === "function" ? "arguments" : kind === "custom" ? "input" : "whole";
    const prefix =
      kind === "function"
        ? "fc"
        : kind === "custom"
          ? "ctc"
          : kind === "tool_search"
            ? "tsc"
            : CLIENT_TOOLS[kind].idPrefix;
    const item: CallItem = { id: newId(prefix), index: -1, callId, streaming, sent: 0, tool };
    call.item = item;
    if (streaming === "arguments")
      item.index = this.#add({
        id: item.id,
        type: "function_call",
        status: "in_progress",
        arguments: "",
        call_id: callId,
        ...named(call, tool),
      });
    else if (streaming === "input")
      item.index = this.#add({
        id: item.id,
        type: "custom_tool_call",
        call_id: callId,
        ...named(call, tool),
        input: "",
      });
    this.#sendArguments(call);
    return true;
  }

  /** Streams what the live function call received since its last delta (other calls are sent at the end). */
  #sendArguments(call: ToolCall): void {
    const item = call.item;
    if (item === undefined || item.streaming !== "arguments" || item.sent === call.args.length) return;
    const delta = call.args.slice(item.sent);
    item.sent = call.args.length;
    this.#queue({
      type: "response.function_call_arguments.delta",
      sequence_number: 0,
      item_id: item.id,
      output_index: item.index,
      delta,
    });
  }

  #finishCall(call: ToolCall, status: ItemStatus): void {
    if (call.item === undefined) this.#startCall(call, true);
    const item = call.item as CallItem;
    this.#calls.finish(call);
    if (item.streaming === "whole") {
      this.#finishWhole(call, item, status);
      return;
    }
    const at = { item_id: item.id, output_index: item.index };
    if (item.streaming === "input") {
      const input = customInput(call.args);
      if (input !== "") this.#emit({ type: "response.custom_tool_call_input.delta", ...at, delta: input });
      this.#emit({ type: "response.custom_tool_call_input.done", ...at, input });
      this.#done(item.index, {
        id: item.id,
        type: "custom_tool_call",
        call_id: item.callId,
        ...named(call, item.tool),
        input,
      });
      return;
    }
    this.#sendArguments(call);
    // A call without arguments is a call with no parameters: clients JSON.parse what they get.
    let args = call.args;
    if (args === "") {
      args = "{}";
      this.#emit({ type: "response.function_call_arguments.delta", ...at, delta: args });
    }
    const names = named(call, item.tool);
    this.#emit({ type: "response.function_call_arguments.done", ...at, name: names.name, arguments: args });
    this.#done(item.index, {
      id: item.id,
      type: "function_call",
      status,
      arguments: args,
      call_id: item.callId,
      ...names,
    });
  }

  /** A tool search or client tool call: its item is built from the parsed arguments, added and done at once. */
  #finishWhole(call: ToolCall, item: CallItem, status: ItemStatus): void {
    const tool = item.tool as ChatTool;
    const args = parsedArguments(call.args);
    let final: OutputItem;
    if (isClientToolType(tool.kind)) {
      final = CLIENT_TOOLS[tool.kind].item(isPlainObject(args) ? args : {}, {
        id: item.id,
        callId: item.callId,
      }) as OutputItem;
      if (status === "incomplete" && final.type !== "apply_patch_call") final.status = "incomplete";
    } else {
      final = {
        id: item.id,
        type: "tool_search_call",
        call_id: item.callId,
        execution: "client",
        arguments: args,
        status,
      };
    }
    item.index = this.#add({ ...final, status: "in_progress" });
    this.#done(item.index, final);
  }

  // --- output and lifecycle -----------------------------------------------------------------------

  #closeAll(status: ItemStatus): void {
    this.#closeText(status);
    for (let call = this.#calls.pending[0]; call !== undefined; call = this.#calls.pending[0])
      this.#finishCall(call, status);
    if (this.#held.length === 0) return;
    // The stream ended with deltas held behind calls whose arguments never completed: they follow them.
    this.#release();
    this.#closeText(status);
  }

  #fail(error: ResponseError): void {
    this.#content(this.#think.flush(), []);
    this.#closeAll("incomplete");
    const { type, code, message, param } = error;
    this.#emit({ type: "error", code, message, param, error: { type, code, message, param } });
    this.#emit({ type: "response.failed", response: this.#snapshot("failed", { error: { ...error } }) });
    this.#ended = true;
  }

  #add(item: OutputItem): number {
    this.#open();
    const index = this.#output.length;
    this.#output.push(item);
    this.#emit({ type: "response.output_item.added", output_index: index, item: structuredClone(item) });
    return index;
  }

  #done(index: number, item: OutputItem): void {
    this.#output[index] = item;
    this.#emit({ type: "response.output_item.done", output_index: index, item: structuredClone(item) });
  }

  #at(state: ReasoningState | MessageState, contentIndex: number) {
    return { item_id: state.id, output_index: state.index, content_index: contentIndex };
  }

  /** A reasoning item's one summary part. */
  #summaryAt(state: ReasoningState) {
    return { item_id: state.id, output_index: state.index, summary_index: 0 };
  }

  #snapshot(status: string, fields: JsonObject): ResponseObject {
    return {
      ...structuredClone(this.#base),
      model: this.#model ?? this.#base.model,
      status: status as ResponseObject["status"],
      output: structuredClone(this.#output),
      usage: status === "in_progress" ? null : withCompactionUsage(this.#usage, this.#compactionUsage),
      // As OpenAI's: the requested tier while running, the one used once ended. The request's tier is
      // never sent to a chat server, so one that reports none served its only, standard tier.
      ...(status === "in_progress" ? {} : { service_tier: this.#servedTier ?? "default" }),
      ...fields,
    };
  }

  /** Queues an event (`sequence_number` is a placeholder the normalizer replaces), opening the response first. */
  #emit(event: StreamEvent): void {
    this.#open();
    const { type, ...fields } = event;
    this.#events.push({ type, sequence_number: 0, ...fields });
  }

  /** Queues an event already in its final shape (`type`, then the placeholder `sequence_number`, then its fields). */
  #queue(event: StreamEvent): void {
    this.#open();
    this.#events.push(event);
  }

  /** Opens the response (created, in_progress), then its output with the gateway's compaction item, if any. */
  #open(): void {
    if (this.#started) return;
    this.#started = true;
    const opening = this.#snapshot("in_progress", { output: [] });
    this.#events.push({ type: "response.created", sequence_number: 0, response: opening });
    this.#events.push({ type: "response.in_progress", sequence_number: 0, response: structuredClone(opening) });
    const compaction = this.#compaction;
    if (compaction === undefined) return;
    this.#compaction = undefined;
    // As OpenAI streams one: added, compacting, done.
    const index = this.#add(compaction.item);
    this.#emit({ type: "response.compaction.compacting", item_id: compaction.item.id, output_index: index });
    this.#done(index, compaction.item);
  }

  #drain(): StreamEvent[] {
    const events = this.#events;
    this.#events = [];
    return events;
  }
}
