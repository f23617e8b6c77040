// The chat functions a request offers and the exact way back from each function name: namespaced
// tools flattened to `<namespace>__<name>`, names a chat server would refuse (over 64 characters, or
// outside [a-zA-Z0-9_-]) mapped to a short unique name, client tools and the tool search function.
// Built from the request's tools and the tools its context loaded (tool_search_output,
// additional_tools); used by the request builder, the messages and the stream translator alike.

import type { InputItem, JsonObject } from "../../responses/types";
import { isPlainObject } from "../../responses/validation";
import { CLIENT_TOOLS, isClientToolType, type ClientToolType } from "./client-tools";

export type ToolKind = "function" | "custom" | "tool_search" | ClientToolType;

export interface ChatTool {
  /** The function name the chat server sees. */
  wireName: string;
  kind: ToolKind;
  /** The Responses name (for client tools and tool search: the tool type). */
  name: string;
  namespace?: string;
  /** The chat `tools[]` entry. */
  definition: JsonObject;
  /** The Responses tool it comes from (custom tools keep their grammar here). */
  source: JsonObject;
}

/** Chat function names: OpenAI's limit, which vLLM, Groq and others share. */
const MAX_NAME_LENGTH = 64;
const VALID_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const HASH_DIGITS = 8;

/** FNV-1a (32 bits): a short, stable tag for a name that has to be shortened. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(HASH_DIGITS, "0");
}

/** `crm` + `find` -> `crm__find`; a namespace that already ends in `__` (`mcp__github__`) is not doubled. */
const joined = (name: string, namespace: string | undefined): string =>
  namespace === undefined ? name : namespace.endsWith("__") ? `${namespace}${name}` : `${namespace}__${name}`;

/** A name every chat server accepts, unique to (namespace, name, attempt). */
function shortened(full: string, attempt: number): string {
  const tag = fnv1a(attempt === 0 ? full : `${full}#${attempt}`);
  return `${full.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, MAX_NAME_LENGTH - HASH_DIGITS - 1)}_${tag}`;
}

/** The wire name a (namespace, name) pair gets when nothing else claims it. */
export function defaultWireName(name: string, namespace?: string): string {
  const full = joined(name, namespace);
  return VALID_NAME.test(full) ? full : shortened(full, 0);
}

const stringOr = (value: unknown, fallback: string): string => (typeof value === "string" ? value : fallback);

/** A Lark grammar has no JSON Schema form: the model is told it; a regex becomes the input's `pattern`. */
function customParameters(tool: JsonObject): { description: string | undefined; parameters: JsonObject } {
  const format = isPlainObject(tool.format) ? tool.format : {};
  const input: JsonObject = { type: "string" };
  let description = typeof tool.description === "string" ? tool.description : undefined;
  if (format.type === "grammar" && typeof format.definition === "string") {
    if (format.syntax === "regex") input.pattern = format.definition;
    else
      description = `${description === undefined ? "" : `${description}\n\n`}The input must match this ${stringOr(format.syntax, "lark")} grammar:\n${format.definition}`;
  }
  return {
    description,
    parameters: { type: "object", properties: { input }, required: ["input"], additionalProperties: false },
  };
}

function functionDefinition(name: string, description: unknown, parameters: unknown, strict?: unknown): JsonObject {
  const fn: JsonObject = { name };
  if (typeof description === "string") fn.description = description;
  fn.parameters = isPlainObject(parameters) ? parameters : { type: "object", properties: {} };
  // `strict` goes out only when the client set it: most non-OpenAI servers ignore or reject it.
  if (typeof strict === "boolean") fn.strict = strict;
  return { type: "function", function: fn };
}

/** The parameters of a client-executed tool search when the client gave none (Codex gives its own). */
const SEARCH_PARAMETERS: JsonObject = {
  type: "object",
  properties: { query: { type: "string", description: "What the tools you need should do." } },
  required: ["query"],
};

export class ChatToolSet {
  readonly #byWire = new Map<string, ChatTool>();
  readonly #byIdentity = new Map<string, ChatTool>();

  /** The request's tools, then those its context loaded, in order (a tool loaded twice counts once). */
  static from(body: JsonObject, input: readonly InputItem[] = []): ChatToolSet {
    const set = new ChatToolSet();
    for (const tool of Array.isArray(body.tools) ? body.tools : []) set.add(tool);
    for (const item of input)
      if (item.type === "tool_search_output" || item.type === "additional_tools")
        for (const tool of Array.isArray(item.tools) ? item.tools : []) set.add(tool);
    return set;
  }

  get tools(): ChatTool[] {
    return [...this.#byWire.values()];
  }

  get size(): number {
    return this.#byWire.size;
  }

  /** The tool a chat function name stands for (undefined: the model named a function nobody offered). */
  resolve(wireName: string): ChatTool | undefined {
    return this.#byWire.get(wireName);
  }

  /** The tool of this kind, name and namespace, if offered. */
  find(kind: ToolKind, name: string, namespace?: string): ChatTool | undefined {
    return this.#byIdentity.get(identity(kind, name, namespace));
  }

  /** All offered tools named `name` of these kinds, in any namespace. */
  named(name: string, kinds: readonly ToolKind[]): ChatTool[] {
    return this.tools.filter((tool) => tool.name === name && kinds.includes(tool.kind));
  }

  /** The wire name of a call in history (the offered tool's, else the name it would get). */
  wireNameOf(kind: ToolKind, name: string, namespace?: string): string {
    return this.find(kind, name, namespace)?.wireName ?? defaultWireName(name, namespace);
  }

  /** The tool search function, when the client runs tool search itself. */
  get searchTool(): ChatTool | undefined {
    return this.tools.find((tool) => tool.kind === "tool_search");
  }

  add(tool: unknown): void {
    if (!isPlainObject(tool)) return;
    const type = tool.type;
    if (type === "function" && typeof tool.name === "string")
      this.#add("function", tool.name, undefined, tool, (wire) =>
        functionDefinition(wire, tool.description, tool.parameters, tool.strict),
      );
    else if (type === "custom" && typeof tool.name === "string") this.#addCustom(tool, undefined);
    else if (type === "namespace" && typeof tool.name === "string") {
      const namespace = tool.name;
      for (const member of Array.isArray(tool.tools) ? tool.tools : []) {
        if (!isPlainObject(member) || typeof member.name !== "string") continue;
        if (member.type === "custom") this.#addCustom(member, namespace);
        else
          this.#add("function", member.name, namespace, member, (wire) =>
            functionDefinition(wire, member.description, member.parameters, member.strict),
          );
      }
    } else if (type === "tool_search" && tool.execution === "client")
      this.#add("tool_search", "tool_search", undefined, tool, (wire) =>
        functionDefinition(
          wire,
          tool.description ?? "Searches for tools that can help, and makes them available.",
          isPlainObject(tool.parameters) ? tool.parameters : SEARCH_PARAMETERS,
        ),
      );
    else if (isClientToolType(type)) {
      const client = CLIENT_TOOLS[type];
      this.#add(type, type, undefined, tool, (wire) => functionDefinition(wire, client.description, client.parameters));
    }
  }

  #addCustom(tool: JsonObject, namespace: string | undefined): void {
    const { description, parameters } = customParameters(tool);
    this.#add("custom", tool.name as string, namespace, tool, (wire) =>
      functionDefinition(wire, description, parameters),
    );
  }

  #add(
    kind: ToolKind,
    name: string,
    namespace: string | undefined,
    source: JsonObject,
    define: (wireName: string) => JsonObject,
  ): void {
    const key = identity(kind, name, namespace);
    if (this.#byIdentity.has(key)) return;
    const full = joined(name, namespace);
    let wireName = VALID_NAME.test(full) ? full : shortened(full, 0);
    for (let attempt = 1; this.#byWire.has(wireName); attempt++) wireName = shortened(full, attempt);
    const tool: ChatTool = { wireName, kind, name, source, definition: define(wireName) };
    if (namespace !== undefined) tool.namespace = namespace;
    this.#byWire.set(wireName, tool);
    this.#byIdentity.set(key, tool);
  }
}

/** Function and custom tools share one name space per namespace, as on OpenAI. */
const identity = (kind: ToolKind, name: string, namespace: string | undefined): string =>
  `${kind === "custom" ? "function" : kind}\u0000${namespace ?? ""}\u0000${name}`;
