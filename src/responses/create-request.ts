// Validates a `POST /v1/responses` body (OpenAPI `CreateResponse`) before anything is written.
// Known fields are type-checked with OpenAI's wording; unknown fields are kept and forwarded.

import { invalidRequest } from "../errors";
import { validateBackgroundOptions } from "./background-options";
import type { InputItem, JsonObject } from "./types";
import {
  checkEnum,
  checkInclude,
  checkMaxLength,
  checkRange,
  checkMaxCharacters,
  invalidType,
  isPlainObject,
  missing,
  optional,
  requiredString,
  stringTooLong,
} from "./validation";

/** OpenAI's metadata limits: 16 pairs, 64-character keys, 512-character values. */
export const METADATA_MAX_KEYS = 16;
export const METADATA_MAX_KEY_LENGTH = 64;
export const METADATA_MAX_VALUE_LENGTH = 512;

/**
 * Items a request whose input is written may carry in `input` (OpenAI documents no number; this
 * bounds the rows of one request). A request that writes no items has no count of its own: Codex
 * resends its whole history each turn with `store: false`, past 2,048 items in a long session, and
 * the body's size and JSON-values limits already bound its work.
 */
export const INPUT_MAX_ITEMS = 2048;

export interface CreateRequest {
  /** The body as the client sent it, for forwarding unknown and pass-through fields. */
  body: JsonObject;
  model: string;
  /** `input` as a list of items (a string becomes one user message). */
  input: InputItem[];
  instructions: string | null;
  stream: boolean;
  store: boolean;
  background: boolean;
  /**
   * `generate: false`: the response is created and completed with no output and no model call, an id
   * to chain from (the WebSocket event's field, taken over HTTP too; src/upstream/warm-up.ts).
   */
  generate: boolean;
  previousResponseId: string | null;
  conversationId: string | null;
  metadata: Record<string, string>;
  include: string[];
}

export function validateMetadata(value: unknown, param = "metadata"): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) throw invalidType(param, "an object", value);
  const entries = Object.entries(value);
  if (entries.length > METADATA_MAX_KEYS)
    throw invalidRequest(
      `Invalid '${param}': too many properties. Expected an object with at most ${METADATA_MAX_KEYS} properties, but got an object with ${entries.length} properties instead.`,
      param,
      "object_above_max_properties",
    );
  for (const [key, item] of entries) {
    checkMaxCharacters(param, key, METADATA_MAX_KEY_LENGTH);
    if (typeof item !== "string") throw invalidType(`${param}.${key}`, "a string", item);
    checkMaxCharacters(`${param}.${key}`, item, METADATA_MAX_VALUE_LENGTH);
  }
  return value as Record<string, string>;
}

/**
 * `text` and `reasoning` (OpenAPI `ResponseTextParam`, `Reasoning`): their fields' types, and the
 * `name` and `schema` a `json_schema` format requires. Values are not checked against OpenAI's enums
 * (new ones appear), only what every upstream and the echoed Response need.
 */
function validateText(text: Record<string, unknown>): void {
  optional(text, "verbosity", "string", true, "text.verbosity");
  const format = optional<Record<string, unknown>>(text, "format", "object", true, "text.format");
  if (format === undefined) return;
  const type = requiredString(format.type, "text.format.type");
  if (type !== "json_schema") return;
  requiredString(format.name, "text.format.name");
  if (format.schema === undefined) throw missing("text.format.schema");
  optional(format, "schema", "object", false, "text.format.schema");
  optional(format, "description", "string", true, "text.format.description");
  optional(format, "strict", "boolean", true, "text.format.strict");
}

function validateReasoning(reasoning: Record<string, unknown>): void {
  for (const field of ["effort", "summary", "generate_summary", "context", "mode"])
    optional(reasoning, field, "string", true, `reasoning.${field}`);
}

/**
 * The fields a create shares with `POST /v1/responses/input_tokens` and `/compact`: `text`,
 * `reasoning`, `truncation`, `parallel_tool_calls`, `tools` and `tool_choice`.
 */
export function validateModelConfiguration(body: Record<string, unknown>): void {
  optional(body, "parallel_tool_calls", "boolean");
  const text = optional<Record<string, unknown>>(body, "text", "object");
  if (text !== undefined) validateText(text);
  const reasoning = optional<Record<string, unknown>>(body, "reasoning", "object");
  if (reasoning !== undefined) validateReasoning(reasoning);
  checkEnum("truncation", optional<string>(body, "truncation", "string"), ["auto", "disabled"]);

  const tools = optional<unknown[]>(body, "tools", "array");
  tools?.forEach((tool, index) => {
    if (!isPlainObject(tool)) throw invalidType(`tools[${index}]`, "an object", tool);
    requiredString(tool.type, `tools[${index}].type`);
  });
  const toolChoice = body.tool_choice;
  if (toolChoice !== undefined && toolChoice !== null) {
    if (typeof toolChoice === "string") checkEnum("tool_choice", toolChoice, ["none", "auto", "required"]);
    else if (isPlainObject(toolChoice)) requiredString(toolChoice.type, "tool_choice.type");
    else throw invalidType("tool_choice", "one of a string or an object", toolChoice);
  }
}

const MESSAGE_ROLES = ["user", "assistant", "system", "developer"] as const;
const TEXT_PARTS: ReadonlySet<string> = new Set(["input_text", "output_text"]);

/** Validates one input item; `param` names it in errors (`input[3]`, `items[0]`). */
export function validateInputItem(item: unknown, param: string): InputItem {
  if (!isPlainObject(item)) throw invalidType(param, "an object", item);
  // An item reference may leave its type out (OpenAPI `ItemReferenceParam`): `{"id": "msg_…"}`.
  if ((item.type === undefined || item.type === null) && item.role === undefined && typeof item.id === "string")
    return { ...item, type: "item_reference" };
  const type = item.type ?? (item.role !== undefined ? "message" : undefined);
  if (type === undefined) throw missing(`${param}.type`);
  if (typeof type !== "string") throw invalidType(`${param}.type`, "a string", type);
  switch (type) {
    case "message": {
      if (item.role === undefined) throw missing(`${param}.role`);
      if (typeof item.role !== "string") throw invalidType(`${param}.role`, "a string", item.role);
      checkEnum(`${param}.role`, item.role, MESSAGE_ROLES);
      const content = item.content;
      if (content === undefined) throw missing(`${param}.content`);
      if (typeof content !== "string" && !Array.isArray(content))
        throw invalidType(`${param}.content`, "one of a string or an array", content);
      if (Array.isArray(content))
        content.forEach((part, partIndex) => {
          const partParam = `${param}.content[${partIndex}]`;
          if (!isPlainObject(part)) throw invalidType(partParam, "an object", part);
          requiredString(part.type, `${partParam}.type`);
          // A text part's text (OpenAPI requires it): a chat server was sent "\n" in its place.
          if (TEXT_PARTS.has(part.type as string)) requiredString(part.text, `${partParam}.text`);
          if (item.role === "assistant" && part.type === "input_text")
            throw invalidRequest(
              `Invalid value: 'input_text'. Supported values are: 'output_text' and 'refusal'.`,
              `${partParam}.type`,
              "invalid_value",
            );
        });
      break;
    }
    case "function_call_output":
    case "custom_tool_call_output":
      requiredString(item.call_id, `${param}.call_id`);
      if (item.output === undefined) throw missing(`${param}.output`);
      break;
    case "function_call":
      requiredString(item.call_id, `${param}.call_id`);
      requiredString(item.name, `${param}.name`);
      if (typeof item.arguments !== "string") throw invalidType(`${param}.arguments`, "a string", item.arguments);
      break;
    case "item_reference":
      requiredString(item.id, `${param}.id`);
      break;
    default:
      break;
  }
  return item;
}

export function validateInput(input: unknown, maxItems = INPUT_MAX_ITEMS): InputItem[] {
  if (input === undefined || input === null) return [];
  if (typeof input === "string") return [{ role: "user", content: input }];
  if (!Array.isArray(input)) throw invalidType("input", "one of a string or an array", input);
  checkMaxLength("input", input, maxItems);
  return input.map((item, index) => validateInputItem(item, `input[${index}]`));
}

export function validateConversation(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const id = typeof value === "string" ? value : isPlainObject(value) ? value.id : undefined;
  if (isPlainObject(value)) requiredString(id, "conversation.id");
  if (typeof id !== "string") throw invalidType("conversation", "one of a string or an object", value);
  if (!id.startsWith("conv"))
    throw invalidRequest(
      `Invalid 'conversation': '${id.slice(0, 128)}'. Expected an ID that begins with 'conv'.`,
      "conversation",
      "invalid_value",
    );
  return id;
}

/** `previous_response_id` and `conversation` are two ways to keep state: at most one per request. */
export function checkOneContext(previousResponseId: string | null, conversationId: string | null): void {
  if (previousResponseId !== null && conversationId !== null)
    throw invalidRequest(
      "Mutually exclusive parameters: 'previous_response_id' and 'conversation'. Ensure you are only providing one of these parameters.",
      "previous_response_id",
      "mutually_exclusive_parameters",
    );
}

/**
 * `prompt_cache_options` (`openai` v7's `PromptCacheOptions`): its fields' types. `prewarm: true`
 * "overrides the `generate` field to `false`": no output (see `generate`).
 */
function validatePromptCacheOptions(body: Record<string, unknown>): void {
  const options = optional<Record<string, unknown>>(body, "prompt_cache_options", "object");
  if (options === undefined) return;
  for (const field of ["mode", "ttl", "comparison_response_id"])
    optional(options, field, "string", true, `prompt_cache_options.${field}`);
  optional(options, "prewarm", "boolean", true, "prompt_cache_options.prewarm");
}

/** `prompt_cache_options.prewarm: true`: the cache is prepared and no output is made. */
export const prewarms = (body: Record<string, unknown>): boolean =>
  isPlainObject(body.prompt_cache_options) && body.prompt_cache_options.prewarm === true;

/**
 * OpenAI's limit, as its SDK (openai 7.60) states it: 128 characters (the older spec's `maxLength` said
 * 64, and OpenAI takes up to 128). A hashed user id fits; an email with a whole profile does not.
 */
export const SAFETY_IDENTIFIER_MAX_LENGTH = 128;

function checkSafetyIdentifier(value: string | undefined): void {
  if (value === undefined) return;
  checkMaxCharacters("safety_identifier", value, SAFETY_IDENTIFIER_MAX_LENGTH);
}

/** Longest `model` accepted. */
export const MAX_MODEL_LENGTH = 256;

export function validateCreateRequest(raw: unknown): CreateRequest {
  if (!isPlainObject(raw)) throw invalidType("body", "an object", raw);
  const body = raw;

  const model = optional<string>(body, "model", "string", false);
  if (model === undefined && body.prompt === undefined) throw missing("model");
  if (model === "")
    throw invalidRequest(
      "Invalid 'model': empty string. Expected a string with minimum length 1, but got an empty string instead.",
      "model",
      "empty_string",
    );
  // Every model name in use is far shorter; a longer one would only become a stored usage group.
  if (model !== undefined && model.length > MAX_MODEL_LENGTH)
    throw stringTooLong("model", MAX_MODEL_LENGTH, model.length);

  const instructions = optional<string>(body, "instructions", "string") ?? null;
  const stream = optional<boolean>(body, "stream", "boolean") ?? false;
  const store = optional<boolean>(body, "store", "boolean") ?? true;
  const background = optional<boolean>(body, "background", "boolean") ?? false;
  const generate = optional<boolean>(body, "generate", "boolean", false) ?? true;
  validateBackgroundOptions(body, background, stream);

  checkRange("temperature", optional<number>(body, "temperature", "number"), 0, 2, "decimal");
  checkRange("top_p", optional<number>(body, "top_p", "number"), 0, 1, "decimal");
  checkRange("top_logprobs", optional<number>(body, "top_logprobs", "integer"), 0, 20);
  checkRange("max_output_tokens", optional<number>(body, "max_output_tokens", "integer"), 1);
  checkRange("max_tool_calls", optional<number>(body, "max_tool_calls", "integer"), 1);

  for (const field of ["user", "prompt_cache_key", "prompt_cache_retention", "service_tier"])
    optional(body, field, "string");
  checkSafetyIdentifier(optional<string>(body, "safety_identifier", "string"));
  for (const field of ["prompt", "moderation", "image", "access_programs"]) optional(body, field, "object");
  validatePromptCacheOptions(body);
  const streamOptions = optional<Record<string, unknown>>(body, "stream_options", "object");
  if (streamOptions !== undefined)
    optional(streamOptions, "include_obfuscation", "boolean", true, "stream_options.include_obfuscation");
  validateModelConfiguration(body);

  const contextManagement = optional<unknown[]>(body, "context_management", "array");
  contextManagement?.forEach((entry, index) => {
    const param = `context_management[${index}]`;
    if (!isPlainObject(entry)) throw invalidType(param, "an object", entry);
    requiredString(entry.type, `${param}.type`);
    const threshold = entry.compact_threshold;
    if (threshold === undefined || threshold === null) return;
    if (typeof threshold !== "number" || !Number.isInteger(threshold))
      throw invalidType(`${param}.compact_threshold`, "an integer", threshold);
    checkRange(`${param}.compact_threshold`, threshold, 1);
  });

  const include = optional<unknown[]>(body, "include", "array") ?? [];
  checkInclude(include);

  const previousResponseId = optional<string>(body, "previous_response_id", "string") ?? null;
  const conversationId = validateConversation(body.conversation);
  checkOneContext(previousResponseId, conversationId);
  // A background run is recorded even with `store: false`, and a conversation keeps its turns.
  const writesItems = store || background || conversationId !== null;

  return {
    body,
    model: model ?? "",
    input: validateInput(body.input, writesItems ? INPUT_MAX_ITEMS : Infinity),
    instructions,
    stream,
    store,
    background,
    generate,
    previousResponseId,
    conversationId,
    metadata: validateMetadata(body.metadata),
    include: include as string[],
  };
}
