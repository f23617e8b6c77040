// What a summary call leaves out of a context its server refused as too long (withoutOlderHalf).

import { describe, expect, it } from "vitest";
import { withoutOlderHalf } from "../../src/compaction/summarize";
import type { InputItem } from "../../src/responses/types";

const user = (text: string): InputItem => ({ role: "user", content: text });
const call = (id: string): InputItem => ({ type: "function_call", call_id: id, name: "f", arguments: "{}" });
const output = (id: string): InputItem => ({ type: "function_call_output", call_id: id, output: "x".repeat(50) });

describe("withoutOlderHalf", () => {
  it("leaves out at least the older half by size, keeping the opening system and developer messages", () => {
    const input = [{ role: "developer", content: "rules" }, user("a".repeat(100)), user("b".repeat(20)), user("c")];
    expect(withoutOlderHalf(input)).toEqual([input[0], input[2], input[3]]);
  });

  it("leaves out the outputs of parallel calls cut from them", () => {
    const input = [user("a".repeat(80)), call("1"), call("2"), output("1"), output("2"), user("next")];
    expect(withoutOlderHalf(input)).toEqual([user("next")]);
    const later = [user("a".repeat(300)), call("1"), call("2"), output("1"), output("2"), user("next")];
    expect(withoutOlderHalf(later)).toEqual([call("2"), output("2"), user("next")]);
  });

  it("gives up when only the newest item is left", () => {
    expect(withoutOlderHalf([{ role: "system", content: "s" }, user("only")])).toBeNull();
  });
});
