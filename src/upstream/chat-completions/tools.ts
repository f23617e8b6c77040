// Function and custom tools lowered to Chat Completions `tools` / `tool_choice`, and the 400 for
// hosted tools a chat server cannot run. Used by `validate`, the request builder and the translator.

import { invalidRequest } from "../../errors";
import type { JsonObject } from "../../responses/types";
import { isPlainObject, missing } from "../../responses/validation";

/** The only tool types a `/chat/completions` server can call: code the client runs itself. */
const CALLABLE_TYPES: ReadonlySet<string> = new Set(["function", "custom"]);

/** A custom tool takes free text; on a chat server it becomes a function of one string argument. */
export const CUSTOM_TOOL_PARAMETERS: JsonObject = {
  type: "object",
  properties: { input: { type: "string" } },
  required: ["input"],
  additionalProperties: false,
};

const toolsOf = (body: JsonObject): JsonObject[] => (Array.isArray(body.tools) ? body.tools.filter(isPlainObject) : []);

function unsupported(type: string, param: string) {
  return invalidRequest(
    `Tool type '${type}' is not supported by this model server: it speaks the Chat Completions protocol, which can only call 'function' and 'custom' tools.`,
    param,
    "unsupported_value",
  );
}

/** Throws a 400 for any tool, or forced tool choice, that the chat server could not run. */
export function checkTools(body: JsonObject): void {
  toolsOf(body).forEach((tool, index) => {
    const type = String(tool.type);
    if (!CALLABLE_TYPES.has(type)) throw unsupported(type, `tools[${index}]`);
    if (typeof tool.name !== "string" || tool.name === "") throw missing(`tools[${index}].name`);
  });
  const choice = body.tool_choice;
  if (!isPlainObject(choice)) return;
  const type = String(choice.type);
  if (type === "allowed_tools") {
    const allowed = Array.isArray(choice.tools) ? choice.tools : [];
    allowed.forEach((tool, index) => {
      const toolType = isPlainObject(tool) ? String(tool.type) : typeof tool;
      if (!CALLABLE_TYPES.has(toolType)) throw unsupported(toolType, `tool_choice.tools[${index}]`);
    });
  } else if (!CALLABLE_TYPES.has(type)) {
    throw unsupported(type, "tool_choice");
  } else if (typeof choice.name !== "string") {
    throw missing("tool_choice.name");
  }
}

/** Names of the request's custom tools: their calls come back as `custom_tool_call` items. */
export const customToolNames = (body: JsonObject): ReadonlySet<string> =>
  new Set(
    toolsOf(body).flatMap((tool) => (tool.type === "custom" && typeof tool.name === "string" ? [tool.name] : [])),
  );

/** Drops absent and null fields, so a server that rejects `null` never sees one. */
export const compact = (object: JsonObject): JsonObject =>
  Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined && value !== null));

function lowerTool(tool: JsonObject): JsonObject {
  if (tool.type === "custom")
    return {
      type: "function",
      function: compact({ name: tool.name, description: tool.description, parameters: CUSTOM_TOOL_PARAMETERS }),
    };
  // `strict` goes out only when the client set it: most non-OpenAI servers ignore or reject it.
  return {
    type: "function",
    function: compact({
      name: tool.name,
      description: tool.description,
      parameters: tool.parameters,
      strict: tool.strict,
    }),
  };
}

/**
 * `tools`, `tool_choice` and `parallel_tool_calls` for the chat body (absent when there are no tools:
 * OpenAI rejects `tool_choice` and `parallel_tool_calls` without `tools`). `allowed_tools` has no
 * portable chat form (only OpenAI knows `{type:"allowed_tools"}`), so it is lowered to what every
 * server understands: only the allowed tools are sent, and its `mode` becomes the string choice.
 */
export function chatTools(body: JsonObject): JsonObject {
  let tools = toolsOf(body);
  let choice: unknown = body.tool_choice;
  if (isPlainObject(choice)) {
    if (choice.type === "allowed_tools") {
      const allowed = new Set(
        (Array.isArray(choice.tools) ? choice.tools : []).flatMap((tool) => (isPlainObject(tool) ? [tool.name] : [])),
      );
      tools = tools.filter((tool) => allowed.has(tool.name));
      choice = choice.mode === "required" ? "required" : "auto";
    } else {
      choice = { type: "function", function: { name: choice.name } };
    }
  }
  if (tools.length === 0) return {};
  return compact({
    tools: tools.map(lowerTool),
    tool_choice: choice,
    parallel_tool_calls: typeof body.parallel_tool_calls === "boolean" ? body.parallel_tool_calls : undefined,
  });
}
