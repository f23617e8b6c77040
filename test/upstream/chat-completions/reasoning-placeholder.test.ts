// reasoning_placeholder: a stand-in `reasoning_content` on the assistant messages of tool-calling turns
// that have none (DeepSeek's thinking mode and Kimi K2 thinking refuse them); real reasoning is kept.

import { describe, expect, it } from "vitest";
import { withReasoningPlaceholder } from "../../../src/upstream/chat-completions/reasoning-placeholder";

const call = (id: string) => ({ id, type: "function", function: { name: "f", arguments: "{}" } });

describe("withReasoningPlaceholder", () => {
  it("leaves the body as it is when the route has none", () => {
    const body = { messages: [{ role: "assistant", content: null, tool_calls: [call("c1")] }] };
    expect(withReasoningPlaceholder(body, null)).toBe(body);
  });

  it("fills every assistant message of a tool-calling turn that lacks reasoning, and keeps real reasoning", () => {
    const body = {
      model: "m",
      messages: [
        { role: "system", content: "s" },
        { role: "user", content: "chat first" },
        { role: "assistant", content: "plain answer" },
        { role: "user", content: "weather?" },
        { role: "assistant", content: null, tool_calls: [call("c1")] },
        { role: "tool", tool_call_id: "c1", content: "sunny" },
        { role: "assistant", content: null, reasoning_content: "real thought", tool_calls: [call("c2")] },
        { role: "tool", tool_call_id: "c2", content: "warm" },
        { role: "assistant", content: "sunny and warm", reasoning_content: "" },
        { role: "user", content: "thanks" },
      ],
    };
    expect(withReasoningPlaceholder(body, " ")).toEqual({
      model: "m",
      messages: [
        { role: "system", content: "s" },
        { role: "user", content: "chat first" },
        // A turn without calls: DeepSeek ignores its reasoning, so nothing is added.
        { role: "assistant", content: "plain answer" },
        { role: "user", content: "weather?" },
        { role: "assistant", content: null, tool_calls: [call("c1")], reasoning_content: " " },
        { role: "tool", tool_call_id: "c1", content: "sunny" },
        { role: "assistant", content: null, reasoning_content: "real thought", tool_calls: [call("c2")] },
        { role: "tool", tool_call_id: "c2", content: "warm" },
        { role: "assistant", content: "sunny and warm", reasoning_content: " " },
        { role: "user", content: "thanks" },
      ],
    });
  });

  it("sends an empty placeholder as an empty reasoning_content, in the last turn too", () => {
    const body = {
      messages: [
        { role: "user", content: "weather?" },
        { role: "assistant", content: null, tool_calls: [call("c1")] },
        { role: "tool", tool_call_id: "c1", content: "sunny" },
      ],
    };
    expect(withReasoningPlaceholder(body, "").messages).toEqual([
      { role: "user", content: "weather?" },
      { role: "assistant", content: null, tool_calls: [call("c1")], reasoning_content: "" },
      { role: "tool", tool_call_id: "c1", content: "sunny" },
    ]);
    // The caller's body is not changed (the client may send it again on a retry).
    expect(body.messages[1]).not.toHaveProperty("reasoning_content");
  });
});
