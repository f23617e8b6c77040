// checkToolOutputs: a request's own tool outputs must answer a call somewhere in the context, as
// OpenAI requires; history is trusted, and opaque items (compaction, item_reference) may hold the call.

import { describe, expect, it } from "vitest";
import { ApiError } from "../../src/errors";
import { checkToolOutputs } from "../../src/responses/tool-outputs";
import type { InputItem } from "../../src/responses/types";

const call: InputItem = { type: "function_call", call_id: "call_1", name: "get_weather", arguments: "{}" };
const output: InputItem = { type: "function_call_output", call_id: "call_1", output: "sunny" };
const customCall: InputItem = { type: "custom_tool_call", call_id: "call_2", name: "run_sql", input: "SELECT 1" };
const customOutput: InputItem = { type: "custom_tool_call_output", call_id: "call_2", output: "1" };
const user: InputItem = { role: "user", content: "hi" };

/** The error checkToolOutputs throws, or null. */
function refusal(
  context: InputItem[],
  ownFrom: number,
): { status: number; message: string; param: string | null } | null {
  try {
    checkToolOutputs(context, ownFrom);
    return null;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return { status: error.status, message: error.message, param: error.param };
  }
}

describe("checkToolOutputs", () => {
  it("accepts outputs whose call is in the history or earlier in the request", () => {
    expect(refusal([user, call, customCall, output, customOutput], 3)).toBeNull();
    expect(refusal([user, call, output, customCall, customOutput], 0)).toBeNull();
  });

  it("refuses an output no call answers, in OpenAI's words, with param input", () => {
    expect(refusal([user, output], 1)).toEqual({
      status: 400,
      message: "No tool call found for function call output with call_id call_1.",
      param: "input",
    });
    expect(refusal([user, call, customOutput], 2)).toEqual({
      status: 400,
      message: "No tool call found for custom tool call output with call_id call_2.",
      param: "input",
    });
  });

  it("accepts an output answering a call of another kind (Codex answers a local_shell_call with a function_call_output)", () => {
    const shell: InputItem = {
      type: "local_shell_call",
      id: "lsh_1",
      call_id: "call_3",
      status: "completed",
      action: {},
    };
    expect(refusal([shell, { ...output, call_id: "call_3" }], 1)).toBeNull();
    expect(refusal([call, { ...customOutput, call_id: "call_1" }], 1)).toBeNull();
  });

  it("echoes at most 128 characters of a call_id", () => {
    const long = { ...output, call_id: "c".repeat(10_000) };
    expect(refusal([user, long], 1)?.message).toBe(
      `No tool call found for function call output with call_id ${"c".repeat(128)}.`,
    );
  });

  it("does not take an output's call_id for a call", () => {
    expect(refusal([output, { ...output }], 1)?.message).toBe(
      "No tool call found for function call output with call_id call_1.",
    );
  });

  it("does not judge the history: an orphan stored earlier does not refuse the next turn", () => {
    expect(refusal([user, output, user], 2)).toBeNull();
  });

  it.each([
    ["a compaction item", { type: "compaction", id: "cmp_1", encrypted_content: "sealed" }],
    ["an item reference", { type: "item_reference", id: "fc_1" }],
  ])("gives an output the benefit of the doubt beside %s, which may hold its call", (_name, opaque) => {
    expect(refusal([opaque, user, output], 2)).toBeNull();
  });
});
