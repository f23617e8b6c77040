// Finds text in a parsed JSON body that is not Unicode: one half of a UTF-16 surrogate pair, sent as
// a `\ud800`-style escape (raw UTF-8 cannot hold one: the body's decoder refuses it). JSON.parse keeps
// it, but OpenAI's API refuses such a body with a 400, and the gateway could not keep it either:
// D1 writes a TEXT column's lone surrogate as bytes it reads back as three U+FFFD (a `model` in the
// usage table), and a strict upstream refuses it after the response began. Used by src/http/json-body.ts
// (a WebSocket turn's body goes through it too).

import { invalidRequest, type ApiError } from "../errors";

/** An escape of a surrogate code unit: only a body that has one can hold an unpaired one. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** Where an unpaired surrogate is: the field's path, and whether it is in a property's name. */
interface Found {
  param: string;
  inName: boolean;
  text: string;
}

function find(value: unknown, path: string): Found | undefined {
  if (typeof value === "string") return value.isWellFormed() ? undefined : { param: path, inName: false, text: value };
  if (typeof value !== "object" || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const found = find(value[index], `${path}[${index}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const [name, member] of Object.entries(value)) {
    if (!name.isWellFormed()) return { param: path === "" ? name : path, inName: true, text: name };
    const found = find(member, path === "" ? name : `${path}.${name}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The index of the first code unit of `text` that is half of a surrogate pair without its other half. */
function unpairedAt(text: string): number {
  for (let at = 0; at < text.length; at++) {
    const code = text.charCodeAt(at);
    if (code < 0xd800 || code > 0xdfff) continue;
    const next = text.charCodeAt(at + 1);
    if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) at++;
    else return at;
  }
  return -1;
}

/**
 * The 400 for a body (`json` as sent, `value` as parsed) with an unpaired surrogate in a string or
 * a property's name, naming the field; undefined when it has none. Only a body with a surrogate
 * escape is walked: an emoji a client escapes (Python's `ensure_ascii`) is a pair, and passes.
 */
export function unpairedSurrogateError(json: string, value: unknown): ApiError | undefined {
  if (!SURROGATE_ESCAPE.test(json)) return undefined;
  const found = find(value, "");
  if (found === undefined) return undefined;
  const at = unpairedAt(found.text);
  const unit = `\\u${found.text.charCodeAt(at).toString(16).padStart(4, "0")}`;
  const where = found.inName ? `a property name holds` : "the string holds";
  const param = found.param === "" ? "body" : found.param;
  return invalidRequest(
    `Invalid '${param}': ${where} an unpaired UTF-16 surrogate ('${unit}' at index ${at}), which is not Unicode text. Send both halves of the pair, or neither.`,
    param,
    "invalid_value",
  );
}
