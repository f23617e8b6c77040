// The console's previews are cut without splitting an emoji into a lone half (shown as "\uFFFD").

import { describe, expect, it } from "vitest";
import { cut } from "../../src/console/cut";

describe("cut", () => {
  it("keeps a surrogate pair whole: the cut moves before an emoji that would straddle it", () => {
    const text = `${"a".repeat(89)}😀 and more`;
    expect(cut(text, 90)).toBe("a".repeat(89));
    expect(cut(text, 91)).toBe(`${"a".repeat(89)}😀`);
    expect(cut("short", 90)).toBe("short");
    expect(cut("abcdef", 3)).toBe("abc");
  });
});
