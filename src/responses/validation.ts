// Field checks that produce OpenAI's exact 400 wording (`invalid_type`, `*_below_min_value`...).
// Used by every validator of request bodies and query strings (create, conversations, webhooks, lists).

import { invalidRequest, type ApiError } from "../errors";

export type Checked<T> = T | undefined;

const typeNames: Record<string, string> = {
  string: "a string",
  number: "a number",
  integer: "an integer",
  boolean: "a boolean",
  object: "an object",
  array: "an array",
};

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a decimal";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}

export function invalidType(param: string, expected: string, value: unknown): ApiError {
  return invalidRequest(
    `Invalid type for '${param}': expected ${expected}, but got ${describe(value)} instead.`,
    param,
    "invalid_type",
  );
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Reads an optional field of `body`, null allowed when `nullable`, else throws the OpenAI error
 * naming `param` (the field itself unless it is nested: `text.verbosity`).
 */
export function optional<T>(
  body: Record<string, unknown>,
  field: string,
  kind: "string" | "number" | "integer" | "boolean" | "object" | "array",
  nullable = true,
  param = field,
): T | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (value === null) {
    if (nullable) return undefined;
    throw invalidType(param, typeNames[kind] ?? kind, value);
  }
  const ok =
    kind === "integer"
      ? typeof value === "number" && Number.isInteger(value)
      : kind === "number"
        ? typeof value === "number" && Number.isFinite(value)
        : kind === "object"
          ? isPlainObject(value)
          : kind === "array"
            ? Array.isArray(value)
            : typeof value === kind;
  if (!ok) throw invalidType(param, typeNames[kind] ?? kind, value);
  return value as T;
}

export function checkRange(
  param: string,
  value: number | undefined,
  min: number,
  max?: number,
  unit: "integer" | "decimal" = "integer",
): void {
  if (value === undefined) return;
  if (value < min)
    throw invalidRequest(
      `Invalid '${param}': ${unit} below minimum value. Expected a value >= ${min}, but got ${value} instead.`,
      param,
      `${unit}_below_min_value`,
    );
  if (max !== undefined && value > max)
    throw invalidRequest(
      `Invalid '${param}': ${unit} above maximum value. Expected a value <= ${max}, but got ${value} instead.`,
      param,
      `${unit}_above_max_value`,
    );
}

export function checkEnum(param: string, value: string | undefined, allowed: readonly string[]): void {
  if (value === undefined || allowed.includes(value)) return;
  const list = allowed.map((v) => `'${v}'`);
  const supported = list.length > 1 ? `${list.slice(0, -1).join(", ")} and ${list.at(-1)}` : list.join("");
  throw invalidRequest(`Invalid value: '${value}'. Supported values are: ${supported}.`, param, "invalid_value");
}

/** The `include` value that asks for reasoning items' `encrypted_content` (a stateless chain needs it). */
export const ENCRYPTED_REASONING = "reasoning.encrypted_content";

/** OpenAI's `include` values (the spec's `IncludeEnum`); OpenAI refuses any other with a 400. */
export const INCLUDABLE = [
  "file_search_call.results",
  "web_search_call.results",
  "web_search_call.action.sources",
  "message.input_image.image_url",
  "computer_call_output.output.image_url",
  "code_interpreter_call.outputs",
  ENCRYPTED_REASONING,
  "message.output_text.logprobs",
] as const;

/** A create's `include` array, or a read's `include[]` query values: strings OpenAI knows. */
export function checkInclude(values: readonly unknown[]): void {
  values.forEach((value, index) => {
    if (typeof value !== "string") throw invalidType(`include[${index}]`, "a string", value);
    checkEnum(`include[${index}]`, value, INCLUDABLE);
  });
}

/** `include[]` of a read (the SDK's form), or repeated `include`: the values, each one OpenAI knows. */
export function checkIncludeQuery(params: URLSearchParams): string[] {
  const values = [...params.getAll("include[]"), ...params.getAll("include")];
  checkInclude(values);
  return values;
}

/** Refuses an array longer than `max`, as OpenAI words it. */
export function checkMaxLength(param: string, value: unknown[], max: number): void {
  if (value.length > max)
    throw invalidRequest(
      `Invalid '${param}': array too long. Expected an array with maximum length ${max}, but got an array with length ${value.length} instead.`,
      param,
      "array_above_max_length",
    );
}

export function missing(param: string): ApiError {
  return invalidRequest(`Missing required parameter: '${param}'.`, param, "missing_required_parameter");
}

/** A required string: absent is a `missing_required_parameter`, anything else not a string an `invalid_type`. */
export function requiredString(value: unknown, param: string): string {
  if (value === undefined) throw missing(param);
  if (typeof value !== "string") throw invalidType(param, "a string", value);
  return value;
}

/** OpenAI's 400 for a string of `length` characters where at most `max` are taken. */
export const stringTooLong = (param: string, max: number, length: number): ApiError =>
  invalidRequest(
    `Invalid '${param}': string too long. Expected a string with maximum length ${max}, but got a string with length ${length} instead.`,
    param,
    "string_above_max_length",
  );

/**
 * Characters as OpenAI counts them for a length limit: code points, so an emoji (two UTF-16 code
 * units in a JS string) is one. Counted only past `max` code units, where it can differ.
 */
function characters(text: string, max: number): number {
  if (text.length <= max) return text.length;
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** Refuses `value` (at `param`) when it is longer than `max` characters, counted as OpenAI counts them. */
export function checkMaxCharacters(param: string, value: string, max: number): void {
  const length = characters(value, max);
  if (length > max) throw stringTooLong(param, max, length);
}
