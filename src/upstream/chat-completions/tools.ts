// The request's tools and tool choice for a Chat Completions server: the 400 for any tool (or
// forced choice) it cannot serve, naming its index and type (a web search is left out instead), and
// the lowering of the rest to chat `tools` / `tool_choice`. Used by `validate`, the messages check
// and the request builder.

import { invalidRequest } from "../../errors";
import type { JsonObject } from "../../responses/types";
import { checkEnum, invalidType, isPlainObject, missing } from "../../responses/validation";
import { isClientToolType } from "./client-tools";
import { toolRefusal, toolSupport } from "./support";
import type { ChatTool, ChatToolSet, ToolKind } from "./tool-set";

const unsupported = (param: string, type: string) =>
  invalidRequest(toolRefusal(param, type), param, "unsupported_value");

const typeOf = (value: unknown): string => (isPlainObject(value) ? String(value.type) : typeof value);

/** Environments the gateway cannot provide to a `shell` tool: hosted containers. */
const HOSTED_ENVIRONMENTS: ReadonlySet<string> = new Set(["container_auto", "container_reference"]);

/** Throws a 400 for a tool (at `param`, e.g. `tools[3]`) that a chat server cannot be offered. */
export function checkTool(tool: unknown, param: string): void {
  const type = typeOf(tool);
  const handling = toolSupport(type)?.handling;
  // A web search is left out (the tool set never offers it): the model answers without one.
  if (isPlainObject(tool) && handling === "omitted") return;
  if (!isPlainObject(tool) || handling !== "translated") throw unsupported(param, type);
  if (
    (type === "function" || type === "custom" || type === "namespace") &&
    (typeof tool.name !== "string" || tool.name === "")
  )
    throw missing(`${param}.name`);
  if (type === "namespace") {
    if (!Array.isArray(tool.tools) || tool.tools.length === 0) throw missing(`${param}.tools`);
    tool.tools.forEach((member, index) => {
      const memberType = typeOf(member);
      if (memberType !== "function" && memberType !== "custom")
        throw invalidRequest(
          `Invalid '${param}.tools[${index}]': a namespace holds 'function' and 'custom' tools, not '${memberType}'.`,
          `${param}.tools[${index}]`,
          "invalid_value",
        );
      checkTool(member, `${param}.tools[${index}]`);
    });
  }
  if (type === "shell" && isPlainObject(tool.environment) && HOSTED_ENVIRONMENTS.has(String(tool.environment.type)))
    throw invalidRequest(
      `Invalid '${param}.environment': a '${String(tool.environment.type)}' environment is a container OpenAI hosts; with this model server (Chat Completions) the shell runs on the client: use {"type":"local"}.`,
      `${param}.environment`,
      "unsupported_value",
    );
}

/** Throws a 400 for any tool, or forced tool choice, that the chat server could not serve. */
export function checkTools(body: JsonObject, tools: ChatToolSet): void {
  if (Array.isArray(body.tools)) body.tools.forEach((tool, index) => checkTool(tool, `tools[${index}]`));
  const { choice, allowed } = lowerChoice(body.tool_choice, tools);
  if (choice !== "required" || offered(tools, allowed).length > 0) return;
  // A forced call with nothing to call: the chat request would go without tools and the model would
  // answer in text, as if no call had been asked for. OpenAI's Responses API answers the last 400.
  if (Array.isArray(body.tools) && body.tools.length > 0 && tools.tools.length === 0)
    throw invalidRequest(
      "Invalid 'tool_choice': 'required' forces a tool call, but none of 'tools' can be offered to this model server: it speaks the Chat Completions protocol, and a web search is left out, as nobody can run it for it.",
      "tool_choice",
      "unsupported_value",
    );
  if (allowed !== undefined && tools.tools.length > 0)
    throw invalidRequest(
      "Invalid 'tool_choice.tools': mode 'required' forces a tool call, but the allowed tools list none.",
      "tool_choice.tools",
      "invalid_value",
    );
  throw invalidRequest(
    "Tool choice 'required' must be specified with 'tools' parameter.",
    "tool_choice",
    "invalid_value",
  );
}

/** The offered tool a choice entry (`{type:"function", name, namespace?}`, `{type:"shell"}`...) names. */
function chosen(entry: JsonObject, tools: ChatToolSet, param: string): ChatTool[] {
  const type = String(entry.type);
  const namespace = typeof entry.namespace === "string" ? entry.namespace : undefined;
  const pick = (kinds: ToolKind[], name: string): ChatTool[] => {
    const exact = namespace === undefined ? undefined : tools.find(kinds[0] as ToolKind, name, namespace);
    const found = exact === undefined ? tools.named(name, kinds) : [exact];
    const unnamespaced = found.filter((tool) => tool.namespace === undefined);
    return unnamespaced.length > 0 ? unnamespaced : found;
  };
  let found: ChatTool[];
  if (type === "function" || type === "custom") {
    if (typeof entry.name !== "string") throw missing(`${param}.name`);
    // Function and custom tools share one name space: either choice type finds either kind.
    found = pick(type === "custom" ? ["custom", "function"] : ["function", "custom"], entry.name);
  } else if (type === "namespace") {
    found = tools.tools.filter((tool) => tool.namespace === entry.name);
  } else if (type === "tool_search" || isClientToolType(type)) {
    found = tools.tools.filter((tool) => tool.kind === type);
  } else if (toolSupport(type)?.handling === "omitted") {
    // The refusal note of a left-out tool describes leaving it out: this says why choosing it fails.
    throw invalidRequest(
      `Invalid '${param}': it chooses a '${type}' tool, which is left out for this model server: it speaks the Chat Completions protocol, and nobody can run a web search for it.`,
      param,
      "unsupported_value",
    );
  } else {
    throw unsupported(param, type);
  }
  if (found.length === 0)
    throw invalidRequest(
      `Invalid '${param}': it names a '${type}' tool${typeof entry.name === "string" ? ` '${entry.name}'` : ""} that is not in 'tools'.`,
      param,
      "invalid_value",
    );
  return found;
}

const ALLOWED_MODES: readonly string[] = ["none", "auto", "required"];

interface LoweredChoice {
  choice: unknown;
  /** Wire names of the allowed tools (`allowed_tools`); undefined: all. */
  allowed?: ReadonlySet<string>;
}

/**
 * `allowed_tools` has no portable chat form (only OpenAI knows `{type:"allowed_tools"}`), so it is
 * lowered to what every server understands: only the allowed tools are sent, and its `mode`
 * becomes the string choice. A forced tool becomes chat's `{type:"function", function:{name}}`.
 */
function lowerChoice(choice: unknown, tools: ChatToolSet): LoweredChoice {
  if (!isPlainObject(choice)) return { choice };
  if (choice.type === "allowed_tools") {
    // OpenAI's modes, and Open Responses' `none` (its `mode` is optional: `auto`). Any other value
    // was sent as `auto`, so a typo of `required` made a forced call optional.
    const mode = choice.mode ?? "auto";
    if (typeof mode !== "string") throw invalidType("tool_choice.mode", "a string", mode);
    checkEnum("tool_choice.mode", mode, ALLOWED_MODES);
    const entries = Array.isArray(choice.tools) ? choice.tools : [];
    const allowed = new Set<string>();
    entries.forEach((entry, index) => {
      const param = `tool_choice.tools[${index}]`;
      if (!isPlainObject(entry)) throw unsupported(param, typeOf(entry));
      for (const tool of chosen(entry, tools, param)) allowed.add(tool.wireName);
    });
    return { choice: mode, allowed };
  }
  const [tool] = chosen(choice, tools, "tool_choice");
  return { choice: { type: "function", function: { name: (tool as ChatTool).wireName } } };
}

/** The tools the chat request offers: all, or the ones `allowed_tools` allows. */
const offered = (tools: ChatToolSet, allowed: ReadonlySet<string> | undefined): ChatTool[] =>
  tools.tools.filter((tool) => allowed === undefined || allowed.has(tool.wireName));

/** Drops absent and null fields, so a server that rejects `null` never sees one. */
export const compact = (object: JsonObject): JsonObject =>
  Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined && value !== null));

/**
 * `tools`, `tool_choice` and `parallel_tool_calls` for the chat body (absent when there are no tools:
 * OpenAI rejects `tool_choice` and `parallel_tool_calls` without `tools`).
 */
export function chatTools(body: JsonObject, tools: ChatToolSet): JsonObject {
  const { choice, allowed } = lowerChoice(body.tool_choice, tools);
  const sent = offered(tools, allowed);
  if (sent.length === 0) return {};
  return compact({
    tools: sent.map((tool) => tool.definition),
    tool_choice: choice,
    parallel_tool_calls: typeof body.parallel_tool_calls === "boolean" ? body.parallel_tool_calls : undefined,
  });
}
