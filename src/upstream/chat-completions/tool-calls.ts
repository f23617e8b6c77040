// Reassembles streamed `tool_calls[]` fragments into whole calls: which call a fragment belongs to
// (by index, by id, or neither), and its id, name and arguments. Used by the stream translator.

import type { JsonObject } from "../../responses/types";
import { isPlainObject } from "../../responses/validation";
import type { ChatTool } from "./tool-set";
import { nonEmpty, objectOr } from "./wire";

export interface ToolCall {
  /** The upstream's id (the first non-empty one seen). */
  id: string | undefined;
  name: string;
  args: string;
  finished: boolean;
  /** The output item, once the translator has started it (`index` is -1 until it is added). */
  item: CallItem | undefined;
  /** `args.length` at the last completeness check, and its result (parsing is not repeated). */
  checked: number;
  complete: boolean;
}

/**
 * How a call's item is streamed: `arguments` live as they come (function calls); `input` added at
 * once, its input decoded at the end (custom tools); `whole`, added complete at the end, since its
 * fields come from the parsed arguments (tool search and client tool calls).
 */
export type CallStreaming = "arguments" | "input" | "whole";

export interface CallItem {
  id: string;
  index: number;
  callId: string;
  streaming: CallStreaming;
  /** Characters of `args` already sent as deltas. */
  sent: number;
  /** The offered tool the call resolved to (undefined: a name nobody offered, kept as a function call). */
  tool: ChatTool | undefined;
}

export class ToolCallAssembler {
  /** Calls not finished yet, in order of first appearance. */
  readonly pending: ToolCall[] = [];
  readonly #byIndex = new Map<number, ToolCall>();
  readonly #byId = new Map<string, ToolCall>();
  #last: ToolCall | undefined;
  readonly #onAnomaly: (message: string) => void;

  /** @param onAnomaly told of each fragment dropped as a resend of arguments already whole */
  constructor(onAnomaly: (message: string) => void = () => undefined) {
    this.#onAnomaly = onAnomaly;
  }

  /**
   * Applies one fragment and returns its call, or undefined when the call was already finished (a
   * late fragment can only be whitespace after complete JSON: see the translator's #advance).
   * Empty ids and names on continuation fragments (DashScope, Mistral) never overwrite real ones.
   */
  accept(fragment: JsonObject): ToolCall | undefined {
    const call = this.#callFor(fragment);
    this.#last = call;
    const id = nonEmpty(fragment.id);
    if (call.id === undefined && id !== undefined) {
      call.id = id;
      this.#byId.set(id, call);
    }
    if (call.finished) return undefined;
    const fn = objectOr(fragment.function) ?? {};
    if (call.name === "") call.name = nonEmpty(fn.name) ?? "";
    const args =
      typeof fn.arguments === "string" ? fn.arguments : isPlainObject(fn.arguments) ? JSON.stringify(fn.arguments) : "";
    if (isResend(call, args))
      this.#onAnomaly(
        `dropped a resend of tool call ${call.id ?? call.name}'s whole arguments after they were complete`,
      );
    else call.args += args;
    return call;
  }

  finish(call: ToolCall): void {
    call.finished = true;
    this.pending.splice(this.pending.indexOf(call), 1);
  }

  /**
   * By `index` when present (a known index with a different non-empty id is a server reusing the
   * index for a new call, as older Ollama does). Without `index`, a new id starts a call and
   * anything else continues the last call.
   */
  #callFor(fragment: JsonObject): ToolCall {
    const id = nonEmpty(fragment.id);
    if (typeof fragment.index === "number") {
      const known = this.#byIndex.get(fragment.index);
      if (known !== undefined && (id === undefined || known.id === undefined || known.id === id)) return known;
      const call = this.#newCall();
      this.#byIndex.set(fragment.index, call);
      return call;
    }
    if (id !== undefined) return this.#byId.get(id) ?? this.#newCall();
    return this.#last ?? this.#newCall();
  }

  #newCall(): ToolCall {
    const call: ToolCall = {
      id: undefined,
      name: "",
      args: "",
      finished: false,
      item: undefined,
      checked: -1,
      complete: false,
    };
    this.pending.push(call);
    return call;
  }
}

/** Whether the arguments already parse as a JSON object or array (such a value cannot grow). */
export function argumentsComplete(call: ToolCall): boolean {
  if (call.checked === call.args.length) return call.complete;
  call.checked = call.args.length;
  try {
    const parsed: unknown = JSON.parse(call.args);
    call.complete = typeof parsed === "object" && parsed !== null;
  } catch {
    call.complete = false;
  }
  return call.complete;
}

/**
 * Whether a fragment repeats arguments that are already a whole JSON value (some servers and proxies
 * send a call's arguments whole again after streaming them). Appended, they would make `{...}{...}`,
 * which no client parses; a whole value cannot grow, so dropping such a fragment never loses
 * anything. Arguments streamed cumulatively from a partial first fragment (`{"a"`, `{"a":1}`) are
 * not told apart from ordinary fragments, and still concatenate.
 */
function isResend(call: ToolCall, fragment: string): boolean {
  if (fragment.trim() === "" || !argumentsComplete(call)) return false;
  try {
    return JSON.stringify(JSON.parse(fragment)) === JSON.stringify(JSON.parse(call.args));
  } catch {
    return false;
  }
}

const CALL_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A tool call id in OpenAI's style (`call_` + 24 alphanumerics) for calls the upstream left unnamed. */
export function newCallId(): string {
  let id = "call_";
  for (const byte of crypto.getRandomValues(new Uint8Array(24))) id += CALL_ID_ALPHABET[byte % CALL_ID_ALPHABET.length];
  return id;
}

/** Custom tools were lowered to a function of `{input}`; anything else is passed on as the raw text. */
export function customInput(args: string): string {
  try {
    const parsed: unknown = JSON.parse(args);
    if (isPlainObject(parsed) && typeof parsed.input === "string") return parsed.input;
  } catch {
    // not the JSON we asked for: the model's raw text is the best input there is
  }
  return args;
}

/** A call's Responses name and namespace: those of the tool it resolved to, else the name as called. */
export function named(call: ToolCall, tool: ChatTool | undefined): { name: string; namespace?: string } {
  if (tool === undefined) return { name: call.name };
  return tool.namespace === undefined ? { name: tool.name } : { name: tool.name, namespace: tool.namespace };
}

/** The arguments as JSON when they parse (a tool search's `arguments` is a value), else the raw text. */
export function parsedArguments(args: string): unknown {
  try {
    return JSON.parse(args === "" ? "{}" : args) as unknown;
  } catch {
    return args;
  }
}
