// The pure reducer: folds Responses stream events into the Response snapshot, enforcing the event
// grammar the `openai` SDK's stream helper enforces. Used by the normalizer (live snapshot, grammar
// checks) and by tests (a log's fold must equal its stored snapshot).

import { ITEM_TARGETS, STATUS_EVENTS, WITHOUT_ITEM_ID, isKnownEventType } from "./event-types";
import type { JsonObject, OutputItem, ResponseObject, StreamEvent } from "./types";
import { LIFECYCLE_EVENTS, textOf } from "./types";

/** An event that would make the SDK's stream helper throw. */
export class GrammarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GrammarError";
  }
}

type Part = JsonObject & { type: string };

const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function asIndex(event: StreamEvent, field: string): number {
  const value = event[field];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0)
    throw new GrammarError(`${event.type} has no valid ${field}`);
  return value;
}

function asString(event: StreamEvent, field: string): string {
  const value = event[field];
  if (typeof value !== "string") throw new GrammarError(`${event.type} has no string ${field}`);
  return value;
}

/** Items whose platform id may be absent (the SDK's rule). */
const OPTIONAL_ID_TYPES = new Set(["function_call", "custom_tool_call"]);
const CALL_ID_TYPES = new Set(["function_call", "custom_tool_call", "shell_call", "shell_call_output"]);

export function checkItemIdentity(item: unknown, eventType: string): asserts item is OutputItem {
  if (!isObject(item) || typeof item.type !== "string") throw new GrammarError(`${eventType} has no item type`);
  if (item.id === undefined ? !OPTIONAL_ID_TYPES.has(item.type) : typeof item.id !== "string" || item.id === "")
    throw new GrammarError(`${eventType} item of type '${item.type}' has no id`);
  if (CALL_ID_TYPES.has(item.type) && typeof item.call_id !== "string")
    throw new GrammarError(`${eventType} item of type '${item.type}' has no call_id`);
}

/** Names a `.done` event within its item: its type and the part it finishes, if any. */
export function doneKey(event: StreamEvent): string {
  const part = event.content_index ?? event.summary_index ?? event.command_index;
  return typeof part === "number" ? `${event.type}:${part}` : event.type;
}

export class ResponseFold {
  #snapshot: ResponseObject | undefined;
  /** Copy what events carry into the snapshot; false when the caller hands events over for good. */
  readonly #copy: <T>(value: T) => T;

  /** @param owned the caller never touches an event again once applied: no copies are needed. */
  constructor(options: { owned?: boolean } = {}) {
    this.#copy = options.owned === true ? (value) => value : (value) => structuredClone(value);
  }
  /** Output indexes whose item was added and not yet done, each with the `.done` events it had (`doneKey`). */
  readonly #open = new Map<number, Set<string>>();

  get snapshot(): ResponseObject | undefined {
    return this.#snapshot;
  }

  /** Indexes of items that were added but never finished. */
  get openItems(): ReadonlySet<number> {
    return new Set(this.#open.keys());
  }

  /** The `.done` events (by `doneKey`) an item still open at `index` already had: its parts already finished. */
  finishedParts(index: number): ReadonlySet<string> {
    return this.#open.get(index) ?? new Set();
  }

  /** Applies one event; throws `GrammarError` (leaving the snapshot unchanged) when it breaks the grammar. */
  apply(event: StreamEvent): void {
    const type = event.type;
    if (!isKnownEventType(type)) throw new GrammarError(`unknown event type '${type}'`);
    if (this.#snapshot === undefined) {
      if (type !== "response.created") throw new GrammarError(`expected 'response.created' first, got '${type}'`);
      this.#snapshot = this.#lifecycleSnapshot(event);
      return;
    }
    if (LIFECYCLE_EVENTS.has(type)) {
      const next = this.#lifecycleSnapshot(event);
      if (next.id !== this.#snapshot.id) throw new GrammarError("lifecycle response identity changed");
      if (!Array.isArray(event.response && (event.response as JsonObject).output) || next.output.length === 0)
        next.output = this.#snapshot.output;
      this.#snapshot = next;
      return;
    }
    const target = ITEM_TARGETS[type];
    if (type === "response.output_item.added") return this.#addItem(event);
    if (type === "response.output_item.done") return this.#finishItem(event);
    if (target === null || target === undefined) return; // error, keepalive, audio: nothing to fold
    const index = asIndex(event, "output_index");
    const item = this.#item(index, type);
    if (typeof item.id === "string" && !WITHOUT_ITEM_ID.has(type) && event.item_id !== item.id)
      throw new GrammarError(`${type} expected item_id '${item.id}', got '${String(event.item_id)}'`);
    const expected =
      target === "*"
        ? isObject(event.part) && event.part.type === "reasoning_text"
          ? "reasoning"
          : "message"
        : target;
    if (item.type !== expected) throw new GrammarError(`${type} targets a '${item.type}' item, expected '${expected}'`);
    this.#applyToItem(event, item);
    if (type.endsWith(".done")) this.#open.get(index)?.add(doneKey(event));
  }

  #lifecycleSnapshot(event: StreamEvent): ResponseObject {
    const response = event.response;
    if (!isObject(response) || typeof response.id !== "string")
      throw new GrammarError(`${event.type} has no response object`);
    const next = this.#copy(response) as ResponseObject;
    if (!Array.isArray(next.output)) next.output = [];
    return next;
  }

  #item(index: number, type: string): OutputItem {
    const item = this.#snapshot?.output[index];
    if (item === undefined) throw new GrammarError(`${type} refers to missing output at index ${index}`);
    return item;
  }

  #addItem(event: StreamEvent): void {
    const snapshot = this.#snapshot as ResponseObject;
    const index = asIndex(event, "output_index");
    if (index !== snapshot.output.length)
      throw new GrammarError(`output_item.added at index ${index}, expected ${snapshot.output.length}`);
    checkItemIdentity(event.item, event.type);
    snapshot.output.push(this.#copy(event.item));
    this.#open.set(index, new Set());
  }

  #finishItem(event: StreamEvent): void {
    const index = asIndex(event, "output_index");
    const previous = this.#item(index, event.type);
    checkItemIdentity(event.item, event.type);
    const item = event.item;
    if (item.type !== previous.type || (previous.id !== undefined && item.id !== previous.id))
      throw new GrammarError(`output_item.done changed the identity of output ${index}`);
    (this.#snapshot as ResponseObject).output[index] = this.#copy(item);
    this.#open.delete(index);
  }

  #applyToItem(event: StreamEvent, item: OutputItem): void {
    const type = event.type;
    switch (type) {
      case "response.content_part.added": {
        const part = event.part;
        if (!isObject(part) || typeof part.type !== "string") throw new GrammarError(`${type} has no part`);
        const content = (item.content ??= []) as Part[];
        if (asIndex(event, "content_index") !== content.length)
          throw new GrammarError(`${type} does not append at content_index ${content.length}`);
        content.push(this.#copy(part) as Part);
        return;
      }
      case "response.content_part.done": {
        const part = event.part;
        if (!isObject(part)) throw new GrammarError(`${type} has no part`);
        const content = this.#content(item, event);
        content[asIndex(event, "content_index")] = this.#copy(part) as Part;
        return;
      }
      case "response.output_text.delta":
        this.#part(item, event, "output_text").text += asString(event, "delta");
        return;
      case "response.output_text.done":
        this.#part(item, event, "output_text").text = asString(event, "text");
        return;
      case "response.output_text.annotation.added": {
        const part = this.#part(item, event, "output_text");
        const annotations = (part.annotations ??= []) as unknown[];
        annotations[asIndex(event, "annotation_index")] = event.annotation;
        return;
      }
      case "response.refusal.delta":
        this.#part(item, event, "refusal").refusal += asString(event, "delta");
        return;
      case "response.refusal.done":
        this.#part(item, event, "refusal").refusal = asString(event, "refusal");
        return;
      case "response.function_call_arguments.delta":
      case "response.mcp_call_arguments.delta":
        item.arguments = textOf(item.arguments) + asString(event, "delta");
        return;
      case "response.function_call_arguments.done":
      case "response.mcp_call_arguments.done":
        item.arguments = asString(event, "arguments");
        return;
      case "response.custom_tool_call_input.delta":
        item.input = textOf(item.input) + asString(event, "delta");
        return;
      case "response.custom_tool_call_input.done":
        item.input = asString(event, "input");
        return;
      case "response.reasoning_text.delta":
        this.#part(item, event, "reasoning_text").text += asString(event, "delta");
        return;
      case "response.reasoning_text.done":
        this.#part(item, event, "reasoning_text").text = asString(event, "text");
        return;
      case "response.reasoning_summary_part.added": {
        const summary = (item.summary ??= []) as Part[];
        if (asIndex(event, "summary_index") !== summary.length)
          throw new GrammarError(`${type} does not append at summary_index ${summary.length}`);
        if (!isObject(event.part)) throw new GrammarError(`${type} has no part`);
        summary.push(this.#copy(event.part) as Part);
        return;
      }
      case "response.reasoning_summary_part.done":
        this.#summary(item, event);
        (item.summary as Part[])[asIndex(event, "summary_index")] = this.#copy(event.part) as Part;
        return;
      case "response.reasoning_summary_text.delta":
        this.#summary(item, event).text += asString(event, "delta");
        return;
      case "response.reasoning_summary_text.done":
        this.#summary(item, event).text = asString(event, "text");
        return;
      case "response.shell_call_command.added":
      case "response.shell_call_command.done": {
        const commands = this.#commands(item, event, type.endsWith(".added"));
        commands[asIndex(event, "command_index")] = asString(event, "command");
        return;
      }
      case "response.shell_call_command.delta":
        this.#commands(item, event, false)[asIndex(event, "command_index")] += asString(event, "delta");
        return;
      case "response.shell_call_output_content.delta": {
        const delta = isObject(event.delta) ? event.delta : {};
        const content = this.#shellOutput(item, event);
        content.stdout = textOf(content.stdout) + textOf(delta.stdout);
        content.stderr = textOf(content.stderr) + textOf(delta.stderr);
        return;
      }
      case "response.shell_call_output_content.done": {
        const sent: unknown = Array.isArray(event.output) ? event.output[0] : undefined;
        if (!isObject(sent)) throw new GrammarError(`${type} has no output`);
        this.#shellOutput(item, event);
        (item.output as JsonObject[])[asIndex(event, "command_index")] = this.#copy(sent);
        return;
      }
      case "response.code_interpreter_call_code.delta":
        item.code = textOf(item.code) + asString(event, "delta");
        return;
      case "response.code_interpreter_call_code.done":
        item.code = asString(event, "code");
        return;
      default: {
        const status = STATUS_EVENTS[type];
        if (status !== undefined) item.status = status;
      }
    }
  }

  #content(item: OutputItem, event: StreamEvent): Part[] {
    const content = item.content;
    const index = asIndex(event, "content_index");
    if (!Array.isArray(content) || content[index] === undefined)
      throw new GrammarError(`${event.type} refers to missing content at index ${index}`);
    return content as Part[];
  }

  #part(item: OutputItem, event: StreamEvent, partType: string): Part & { text: string; refusal: string } {
    const part = this.#content(item, event)[asIndex(event, "content_index")] as Part & {
      text: string;
      refusal: string;
    };
    if (part.type !== partType)
      throw new GrammarError(`${event.type} expected a '${partType}' part, got '${part.type}'`);
    return part;
  }

  /** A shell call's `action.commands`, holding the event's `command_index` (an `added` may append it). */
  #commands(item: OutputItem, event: StreamEvent, append: boolean): string[] {
    const action = isObject(item.action) ? item.action : (item.action = {});
    const commands = (action.commands ??= []) as string[];
    const index = asIndex(event, "command_index");
    if (!Array.isArray(commands) || index > commands.length || (index === commands.length && !append))
      throw new GrammarError(`${event.type} refers to missing command at index ${index}`);
    return commands;
  }

  /**
   * A shell call output's entry for the event's command, entries before it made empty (as the SDK
   * makes them): up to its call's commands when the call is in the output, else one past the last.
   */
  #shellOutput(item: OutputItem, event: StreamEvent): JsonObject {
    const output = (item.output ??= []) as JsonObject[];
    if (!Array.isArray(output)) throw new GrammarError(`${event.type} targets an item whose output is not a list`);
    const index = asIndex(event, "command_index");
    const call = this.#snapshot?.output.find((other) => other.type === "shell_call" && other.call_id === item.call_id);
    const commands = isObject(call?.action) && Array.isArray(call.action.commands) ? call.action.commands.length : 0;
    if (index >= Math.max(commands, output.length + 1))
      throw new GrammarError(`${event.type} refers to missing command at index ${index}`);
    while (output.length <= index) output.push({ stdout: "", stderr: "", outcome: { type: "exit", exit_code: 0 } });
    return output[index] as JsonObject;
  }

  #summary(item: OutputItem, event: StreamEvent): Part & { text: string } {
    const summary = item.summary;
    const index = asIndex(event, "summary_index");
    if (!Array.isArray(summary) || summary[index] === undefined)
      throw new GrammarError(`${event.type} refers to missing summary at index ${index}`);
    return summary[index] as Part & { text: string };
  }
}

/** Folds a whole log; the result is what `GET /v1/responses/{id}` must return for it. */
export function foldEvents(events: Iterable<StreamEvent>): ResponseObject | undefined {
  const fold = new ResponseFold();
  for (const event of events) fold.apply(event);
  return fold.snapshot;
}
