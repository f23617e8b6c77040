// JSON text made in pieces (src/json-text.ts): the same text and bytes JSON.stringify makes, with no
// piece near the size of a long string; and compressJson (src/db/codec.ts), which makes its bytes so.

import { inflateRawSync } from "node:zlib";
import { afterEach, describe, expect, it, vi } from "vitest";
import { compressJson } from "../src/db/codec";
import { jsonBytes, jsonPieces } from "../src/json-text";

const SLICE = 65_536;

/** A string whose surrogate pair straddles the slice boundary at `at`. */
const pairAt = (at: number): string => `${"a".repeat(at - 1)}😀${"b".repeat(10)}`;

const values: [string, unknown][] = [
  ["plain values", { a: 1, b: "x", c: null, d: true, e: [1, "two", { f: 2.5 }], g: {}, h: [] }],
  ["undefined, functions and non-finite numbers", { a: undefined, b: [undefined, () => 1, NaN], c: Infinity }],
  ["a value with toJSON", { when: new Date(0), nested: { toJSON: () => ({ x: 1 }) } }],
  ["escapes in long strings and names", { 'na"me\n': `"\\\u0001\n\t</script>`.repeat(30_000) }],
  ["a pair across a slice boundary", [pairAt(SLICE), pairAt(2 * SLICE), pairAt(SLICE + 1)]],
  ["lone surrogates in a long string", `${"x".repeat(SLICE - 1)}\ud800${"y".repeat(SLICE)}\udc00z`],
  ["text of one to four UTF-8 bytes", "aé中😀".repeat(100_000)],
  ["a top-level string, number and null", ["s", 0, null]],
];

afterEach(() => {
  vi.restoreAllMocks();
});

describe("jsonPieces and jsonBytes", () => {
  it.each(values)("make JSON.stringify's text and bytes: %s", (_name, value) => {
    expect([...jsonPieces(value)].join("")).toBe(JSON.stringify(value));
    expect(jsonBytes(value)).toEqual(new TextEncoder().encode(JSON.stringify(value)));
  });

  it("never makes a piece near the size of a long string", () => {
    const longest = Math.max(...[...jsonPieces({ input: "x".repeat(1_000_000) })].map((piece) => piece.length));
    expect(longest).toBeLessThanOrEqual(SLICE + 2);
  });
});

describe("compressJson", () => {
  it("compresses the value's JSON without making its text as one string", () => {
    // Past the length made whole by JSON.stringify (WHOLE_CHARS, 4 Mi characters).
    const value = { input: [{ role: "user", content: "中文 text ".repeat(600_000) }] };
    const stringify = JSON.stringify;
    let longest = 0;
    vi.spyOn(JSON, "stringify").mockImplementation((...args: Parameters<typeof JSON.stringify>) => {
      const text = stringify(...args);
      longest = Math.max(longest, text?.length ?? 0);
      return text;
    });
    const compressed = compressJson(value);
    expect(longest).toBeLessThanOrEqual(SLICE + 2);
    vi.restoreAllMocks();
    expect(new TextDecoder().decode(inflateRawSync(compressed))).toBe(JSON.stringify(value));
  });
});
