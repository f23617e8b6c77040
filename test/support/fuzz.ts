// What the hostile-input tests (test/e2e/fuzz*.test.ts) share: hostile strings, ids sent as a client
// would, and the shape every refusal must have.

import fc from "fast-check";
import { expect } from "vitest";

/** A path segment as a client would send it; malformed percent-encodings are sent as they are. */
export function encodeOrRaw(segment: string): string {
  try {
    return encodeURIComponent(segment);
  } catch {
    return "%E0%A4%A";
  }
}

/** OpenAI's error envelope, as JSON with a request id, and nothing else in the body. */
export function expectErrorEnvelope(response: Response, text: string): void {
  expect(response.headers.get("content-type")).toBe("application/json");
  expect(response.headers.get("x-request-id")).toMatch(/^req_/);
  const body = JSON.parse(text) as { error: Record<string, unknown> };
  expect(Object.keys(body)).toEqual(["error"]);
  expect(typeof body.error.message).toBe("string");
  expect(typeof body.error.type).toBe("string");
  expect(body.error.param === null || typeof body.error.param === "string").toBe(true);
  expect(body.error.code === null || typeof body.error.code === "string").toBe(true);
}

/**
 * Strings a hostile client likes: arbitrary text and graphemes, path traversal, SQL, a NUL, a lone
 * surrogate, numbers that are not, a malformed escape; plus `extra` for the routes under test.
 */
export function hostileStrings(extra: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string(),
    fc.string({ unit: "grapheme", maxLength: 40 }),
    fc.constantFrom(
      "../../etc/passwd",
      "..%2f..%2fadmin",
      "' OR 1=1 --",
      "\u0000",
      "\ud800",
      "NaN",
      "-1",
      "1e309",
      "%ZZ",
      ...extra,
    ),
  );
}
