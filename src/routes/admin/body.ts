// Field readers for admin API bodies, with OpenAI's error wording. Used by the tenant and key routes.

import { invalidRequest } from "../../errors";
import { invalidType, isPlainObject, missing } from "../../responses/validation";

/** Longest name of a tenant or key. */
export const MAX_NAME_CHARS = 256;

function objectBody(body: unknown): Record<string, unknown> {
  if (!isPlainObject(body)) throw invalidRequest("The request body must be a JSON object.");
  return body;
}

/** The required `name`: a non-empty string of at most MAX_NAME_CHARS characters. */
export function readName(body: unknown): string {
  const name = objectBody(body).name;
  if (name === undefined || name === null) throw missing("name");
  if (typeof name !== "string") throw invalidType("name", "a string", name);
  if (name.trim() === "" || name.length > MAX_NAME_CHARS)
    throw invalidRequest(`Invalid 'name': expected 1 to ${MAX_NAME_CHARS} characters.`, "name", "invalid_value");
  return name;
}
