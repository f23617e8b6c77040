// The `tools` of a Response as OpenAI echoes them: function tools filled in (`description: null`,
// `parameters: null`, `strict` as OpenAI resolves it), custom tools with their default text format,
// namespaces with their members filled the same way. Used by response-object.ts.

import type { JsonObject } from "./types";

const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Nesting followed when checking a schema; deeper schemas are rare and are treated as not strict. */
const MAX_SCHEMA_DEPTH = 32;

/**
 * Whether a parameters schema can be used in strict mode: every object closes its properties
 * (`additionalProperties: false`) and requires all of them. OpenAI resolves an omitted `strict`
 * this way ("strict validation when the schema is compatible, non-strict otherwise").
 */
export function strictCompatible(schema: unknown, depth = 0): boolean {
  if (depth > MAX_SCHEMA_DEPTH) return false;
  if (Array.isArray(schema)) return schema.every((entry) => strictCompatible(entry, depth + 1));
  if (!isObject(schema)) return true;
  const properties = isObject(schema.properties) ? schema.properties : undefined;
  const isObjectSchema = schema.type === "object" || properties !== undefined;
  if (isObjectSchema) {
    if (schema.additionalProperties !== false) return false;
    const required = Array.isArray(schema.required) ? schema.required : [];
    if (properties !== undefined && !Object.keys(properties).every((key) => required.includes(key))) return false;
  }
  return Object.entries(schema).every(
    ([key, value]) => key === "required" || key === "enum" || key === "const" || strictCompatible(value, depth + 1),
  );
}

function echoFunction(tool: JsonObject): JsonObject {
  const { type, description, name, parameters, strict, ...rest } = tool;
  return {
    type,
    description: description ?? null,
    name,
    parameters: parameters ?? null,
    strict: typeof strict === "boolean" ? strict : parameters == null || strictCompatible(parameters),
    ...rest,
  };
}

function echoCustom(tool: JsonObject): JsonObject {
  return isObject(tool.format) ? tool : { ...tool, format: { type: "text" } };
}

function echoTool(tool: unknown): unknown {
  if (!isObject(tool)) return tool;
  switch (tool.type) {
    case "function":
      return echoFunction(tool);
    case "custom":
      return echoCustom(tool);
    case "namespace":
      return { ...tool, tools: Array.isArray(tool.tools) ? tool.tools.map(echoTool) : tool.tools };
    case "tool_search":
      return { type: tool.type, execution: "server", description: null, parameters: null, ...tool };
    default:
      return tool;
  }
}

/** The request's `tools` (or an upstream's echo of them) as OpenAI echoes them; `[]` when absent. */
export function echoTools(tools: unknown): unknown[] {
  return Array.isArray(tools) ? tools.map(echoTool) : [];
}
