// The `responses` protocol: an OpenAI-compatible `/responses` upstream. The gateway owns state, so
// the upstream is called statelessly (store:false, no background, chain expanded into `input`) and
// its events pass through untouched apart from what the normalizer owns.

import type { CreateRequest } from "../responses/create-request";
import { eventsFromResponse } from "../responses/synthesize";
import { TERMINAL_EVENTS, type InputItem, type JsonObject, type StreamEvent } from "../responses/types";
import { ENCRYPTED_REASONING, isPlainObject } from "../responses/validation";
import type { SseMessage } from "../sse";
import { ItemPlacement } from "./item-placement";
import { ItemRepair } from "./item-repair";
import type { EventTranslator, TranslationContext, UpstreamProtocol } from "./protocol";
import { CompactionFirst, compactionFirst } from "./responses-compaction";

/**
 * Fields that carry state the gateway keeps itself, or ask for what it does itself (a background run
 * and its options, a `generate: false` warm-up); never sent upstream.
 */
const GATEWAY_OWNED_FIELDS = [
  "background",
  "background_options",
  "generate",
  "previous_response_id",
  "conversation",
  "stream",
  "store",
  "input",
];

/**
 * vLLM's `/v1/responses` wraps its `reasoning_text` parts in events of its own names; they are
 * OpenAI's content-part events by another name (same fields), and the SDK knows only OpenAI's.
 */
const RENAMED_EVENTS: ReadonlyMap<string, string> = new Map([
  ["response.reasoning_part.added", "response.content_part.added"],
  ["response.reasoning_part.done", "response.content_part.done"],
]);

class ResponsesTranslator implements EventTranslator {
  /** Function names by item id: `function_call_arguments.done` must name its function (OpenAI and Azure leave it out). */
  readonly #functionNames = new Map<string, string>();
  /**
   * Reasoning summary parts by `output_index:summary_index`: `sent` by the upstream, or `opened` by
   * the gateway for a server that streams summary text without announcing its part (Ollama), then
   * `closed` by it after the text's `done`.
   */
  readonly #summaryParts = new Map<string, "sent" | "opened" | "closed">();
  /** Told of each repair (the normalizer logs each kind once a response). */
  readonly #report: (message: string) => void;
  /** Output and content indexes for a server that sends none (llama.cpp). */
  readonly #placement: ItemPlacement;
  /** Items kept apart for a server that streams them under one id, off by an index (SGLang with gpt-oss). */
  readonly #repair: ItemRepair;

  constructor(context: TranslationContext) {
    this.#report = context.onAnomaly ?? (() => undefined);
    this.#placement = new ItemPlacement(this.#report);
    this.#repair = new ItemRepair(this.#report);
  }

  push(message: SseMessage): StreamEvent[] {
    if (message.data === "[DONE]" || message.data === "") return [];
    const event: unknown = JSON.parse(message.data);
    if (!isPlainObject(event)) return [];
    // Some servers put the type only in the SSE `event:` field.
    if (typeof event.type !== "string" && message.event) event.type = message.event;
    if (typeof event.type !== "string") return [];
    let type = event.type;
    const renamed = RENAMED_EVENTS.get(type);
    if (renamed !== undefined) {
      this.#report(`renamed '${type}' to '${renamed}'`);
      event.type = type = renamed;
    }
    this.#fillFunctionName(event);
    this.#listTextPart(event);
    this.#listItems(event);
    // Lifecycle events, errors and keepalives name no item: only item events are placed.
    if (!type.startsWith("response.output_item.") && !("item_id" in event))
      return this.#withSummaryParts(event as StreamEvent);
    // Loops, not flatMap: flatMap's array machinery was about a quarter of this method's CPU (every delta passes here).
    const out: StreamEvent[] = [];
    for (const placed of this.#placement.place(event as StreamEvent))
      for (const repaired of this.#repair.repair(placed))
        for (const finished of this.#withSummaryParts(repaired)) out.push(finished);
    return out;
  }

  /** The items an event carries (its own, or its response's output), listed as OpenAI lists them. */
  #listItems(event: JsonObject): void {
    const { type, item, response } = event;
    if (type === "response.output_item.added" || type === "response.output_item.done") {
      if (isPlainObject(item) && listItem(item, type === "response.output_item.added" ? "in_progress" : "completed"))
        this.#report("listed an item with a null status or encrypted_content as OpenAI lists it");
      return;
    }
    if (!TERMINAL_EVENTS.has(String(type)) || !isPlainObject(response) || !Array.isArray(response.output)) return;
    const ended = response.status === "completed" ? "completed" : "incomplete";
    const listed = response.output.map((entry) => isPlainObject(entry) && listItem(entry, ended));
    if (listed.includes(true))
      this.#report("listed an item with a null status or encrypted_content as OpenAI lists it");
  }

  /**
   * A summary's text streamed without its part (Ollama sends `reasoning_summary_text.delta` and
   * `.done` only): the part is announced before its first delta and finished after its text, as
   * OpenAI does, or the SDK's stream helper throws at the first delta.
   */
  #withSummaryParts(event: StreamEvent): StreamEvent[] {
    // Every event passes here: text deltas, the bulk of a stream, leave before any key is built.
    if (!event.type.startsWith("response.reasoning_summary_")) return [event];
    const key = `${String(event.output_index)}:${String(event.summary_index)}`;
    const state = this.#summaryParts.get(key);
    const at = { item_id: event.item_id, output_index: event.output_index, summary_index: event.summary_index };
    switch (event.type) {
      case "response.reasoning_summary_part.added":
        this.#summaryParts.set(key, "sent");
        return [event];
      case "response.reasoning_summary_part.done":
        // The gateway already finished a part it opened: a late one from the upstream would finish it twice.
        return state === "closed" ? [] : [event];
      case "response.reasoning_summary_text.delta": {
        if (state !== undefined) return [event];
        this.#report("opened a reasoning summary part the upstream streamed text into without adding it");
        this.#summaryParts.set(key, "opened");
        const part = { type: "summary_text", text: "" };
        return [{ type: "response.reasoning_summary_part.added", sequence_number: 0, ...at, part }, event];
      }
      case "response.reasoning_summary_text.done": {
        if (state !== "opened") return [event];
        this.#summaryParts.set(key, "closed");
        const part = { type: "summary_text", text: typeof event.text === "string" ? event.text : "" };
        return [event, { type: "response.reasoning_summary_part.done", sequence_number: 0, ...at, part }];
      }
      default:
        return [event];
    }
  }

  /**
   * An `output_text` part as OpenAI lists it, with `annotations` and `logprobs`: llama.cpp adds its part
   * as `{type, text}` alone, which the Open Responses schema (annotations required) and the SDK's types refuse.
   */
  #listTextPart(event: JsonObject): void {
    if (event.type !== "response.content_part.added" && event.type !== "response.content_part.done") return;
    const part = event.part;
    if (!isPlainObject(part) || part.type !== "output_text") return;
    if (Array.isArray(part.annotations) && Array.isArray(part.logprobs)) return;
    this.#report("listed an output_text part that came without annotations or logprobs");
    if (!Array.isArray(part.annotations)) part.annotations = [];
    if (!Array.isArray(part.logprobs)) part.logprobs = [];
  }

  #fillFunctionName(event: JsonObject): void {
    const item = event.item;
    if (event.type === "response.output_item.added" && isPlainObject(item) && item.type === "function_call")
      if (typeof item.id === "string" && typeof item.name === "string") this.#functionNames.set(item.id, item.name);
    if (event.type !== "response.function_call_arguments.done" || typeof event.name === "string") return;
    const name = typeof event.item_id === "string" ? this.#functionNames.get(event.item_id) : undefined;
    if (name !== undefined) event.name = name;
  }

  finish(): StreamEvent[] {
    return [];
  }
}

export const responsesProtocol: UpstreamProtocol = {
  name: "responses",
  path: "/responses",

  validate(): void {},

  buildBody(request: CreateRequest, input: InputItem[]): JsonObject {
    const body: JsonObject = { ...request.body };
    for (const field of GATEWAY_OWNED_FIELDS) delete body[field];
    body.input = input;
    body.store = false;
    body.stream = true;
    // Stateless reasoning models only survive a chain if their encrypted reasoning comes back.
    if (request.store && !request.include.includes(ENCRYPTED_REASONING))
      body.include = [...request.include, ENCRYPTED_REASONING];
    return body;
  },

  createTranslator(context: TranslationContext): EventTranslator {
    const translator = new ResponsesTranslator(context);
    return context.compaction === undefined ? translator : compactionFirst(translator, context.compaction);
  },

  eventsFromBody(body: unknown, context: TranslationContext): StreamEvent[] {
    const events = eventsOfBody(body, context);
    return context.compaction === undefined ? events : new CompactionFirst(context.compaction).apply(events);
  },
};

/**
 * An item as OpenAI lists it: vLLM and SGLang serialize every field of their pydantic items, so a
 * reasoning item comes with `encrypted_content: null` (the Open Responses schema: a string, or left
 * out) and `status: null` (the SDK's types: one of three statuses), and SGLang's calls with `status:
 * null`. The null status becomes the item's as it stands (`ended` once it is done); a null
 * `encrypted_content` is left out, as OpenAI leaves it out unless asked for. True if it changed.
 */
function listItem(item: JsonObject, ended: "in_progress" | "completed" | "incomplete"): boolean {
  let changed = false;
  if ("status" in item && item.status === null) {
    item.status = ended;
    changed = true;
  }
  if ("encrypted_content" in item && item.encrypted_content === null) {
    delete item.encrypted_content;
    changed = true;
  }
  return changed;
}

/** The events of a JSON answer: the Response's, or an `error` for a 200 whose body is one. */
function eventsOfBody(body: unknown, context: TranslationContext): StreamEvent[] {
  if (!isPlainObject(body)) return [];
  if (Array.isArray(body.output)) {
    const ended = body.status === "completed" ? "completed" : "incomplete";
    if (body.output.map((item) => isPlainObject(item) && listItem(item, ended)).includes(true))
      context.onAnomaly?.("listed an item with a null status or encrypted_content as OpenAI lists it");
    return eventsFromResponse({ ...context.base, ...body });
  }
  // A 200 whose JSON body is an error (`{"error":{...}}`, or Ollama's `{"error":"..."}`): the
  // response fails with the server's words, not as a stream that ended early.
  const error = isPlainObject(body.error)
    ? body.error
    : typeof body.error === "string"
      ? { message: body.error }
      : null;
  if (error === null) return [];
  context.onAnomaly?.("the upstream answered 200 with an error body instead of a stream");
  return [{ type: "error", sequence_number: 0, error }];
}
