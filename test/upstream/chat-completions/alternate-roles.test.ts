// alternate_roles: consecutive user or assistant messages merged, for templates that require turns to
// alternate; content parts (an image) keep their order, and nothing merges past an assistant's calls.

import { describe, expect, it } from "vitest";
import { withAlternatingRoles } from "../../../src/upstream/chat-completions/alternate-roles";

const image = { type: "image_url", image_url: { url: "https://example.com/a.png" } };

describe("withAlternatingRoles", () => {
  it("leaves the body as it is when the route does not ask", () => {
    const body = {
      messages: [
        { role: "user", content: "a" },
        { role: "user", content: "b" },
      ],
    };
    expect(withAlternatingRoles(body, false)).toBe(body);
  });

  it("merges text, parts and reasoning, and keeps an assistant's calls followed by their tool messages", () => {
    const call = { id: "call_1", type: "function", function: { name: "f", arguments: "{}" } };
    const body = {
      model: "m",
      messages: [
        { role: "system", content: "s" },
        { role: "user", content: "look" },
        { role: "user", content: [image] },
        { role: "assistant", content: "one", reasoning_content: "r1" },
        { role: "assistant", content: null, reasoning_content: "r2", tool_calls: [call] },
        { role: "assistant", content: "after the call" },
        { role: "tool", tool_call_id: "call_1", content: "done" },
        { role: "tool", tool_call_id: "call_2", content: "also" },
      ],
    };
    expect(withAlternatingRoles(body, true)).toEqual({
      model: "m",
      messages: [
        { role: "system", content: "s" },
        { role: "user", content: [{ type: "text", text: "look" }, image] },
        { role: "assistant", content: "one", reasoning_content: "r1\n\nr2", tool_calls: [call] },
        { role: "assistant", content: "after the call" },
        { role: "tool", tool_call_id: "call_1", content: "done" },
        { role: "tool", tool_call_id: "call_2", content: "also" },
      ],
    });
  });
});
