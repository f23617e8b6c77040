// What JSON text is refused before it is parsed: nesting past MAX_JSON_DEPTH and more values than
// MAX_JSON_VALUES, counted outside strings only (src/http/json-body.ts).

import { describe, expect, it } from "vitest";
import { jsonShapeProblem, MAX_JSON_DEPTH, MAX_JSON_VALUES } from "../../src/http/json-body";

const nested = (levels: number) => "[".repeat(levels) + "]".repeat(levels);
const array = (values: number) => `[${Array.from({ length: values }, () => "0").join(",")}]`;

describe("jsonShapeProblem", () => {
  it("accepts nesting up to MAX_JSON_DEPTH and refuses one level more", () => {
    expect(jsonShapeProblem(nested(MAX_JSON_DEPTH))).toBeUndefined();
    expect(jsonShapeProblem(nested(MAX_JSON_DEPTH + 1))).toBe("depth");
    expect(jsonShapeProblem(`{"a":${nested(MAX_JSON_DEPTH)}}`)).toBe("depth");
  });

  it("accepts MAX_JSON_VALUES values and refuses one more", () => {
    // The array itself is a value: MAX_JSON_VALUES - 1 elements make MAX_JSON_VALUES.
    expect(jsonShapeProblem(array(MAX_JSON_VALUES - 1))).toBeUndefined();
    expect(jsonShapeProblem(array(MAX_JSON_VALUES))).toBe("values");
    expect(jsonShapeProblem(`[${"{},".repeat(MAX_JSON_VALUES)}{}]`)).toBe("values");
  });

  it("does not count brackets, braces or commas inside strings, escaped quotes included", () => {
    const text = JSON.stringify({ input: `he said "${",[{".repeat(MAX_JSON_VALUES)}" \\ and left` });
    expect(jsonShapeProblem(text)).toBeUndefined();
    expect(JSON.parse(text)).toBeTypeOf("object");
    // A string ending in an escaped backslash ends there: what follows is counted again.
    expect(jsonShapeProblem(`["x\\\\",${nested(MAX_JSON_DEPTH + 1)}]`)).toBe("depth");
  });

  it("leaves malformed text to the parse", () => {
    expect(jsonShapeProblem('{"open": "never closed')).toBeUndefined();
    expect(jsonShapeProblem("]]]")).toBeUndefined();
  });
});
