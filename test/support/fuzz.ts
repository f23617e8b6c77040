// What the hostile-input tests (test/e2e/fuzz*.test.ts) share: ids sent as a client would, and the
// shape every refusal must have.

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
