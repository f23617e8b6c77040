// What an upstream chat stream or body said, computed straight from the raw recording (its own
// line parsing, not the gateway's decoder or translator), and what a Response says, for comparison.

import type { JsonObject } from "../../../src/responses/types";

export interface Said {
  text: string;
  refusal: string;
  reasoning: string;
  /** Arguments of each tool call, in order of first appearance. */
  args: string[];
}

const str = (value: unknown): string => (typeof value === "string" ? value : "");
const objects = (value: unknown): JsonObject[] =>
  Array.isArray(value) ? value.filter((v): v is JsonObject => typeof v === "object" && v !== null) : [];

/** Every JSON `data:` payload of an SSE recording (comments, `event:` lines and `[DONE]` skipped). */
export function sseChunks(text: string): JsonObject[] {
  return text
    .split(/\r?\n/)
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).trimStart())
    .filter((data) => data !== "[DONE]")
    .map((data) => JSON.parse(data) as JsonObject);
}

export const lineChunks = (text: string): JsonObject[] =>
  text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as JsonObject);

/** Reasoning text of one delta: one field per chunk, the first that has text (servers duplicate it). */
function reasoningOf(delta: JsonObject): string {
  const direct = str(delta.reasoning_content) || str(delta.reasoning);
  if (direct !== "") return direct;
  return objects(delta.reasoning_details)
    .map((detail) => str(detail.text))
    .join("");
}

export function saidByChunks(chunks: JsonObject[]): Said {
  const said: Said = { text: "", refusal: "", reasoning: "", args: [] };
  const args = new Map<number, string>();
  for (const chunk of chunks)
    for (const choice of objects(chunk.choices)) {
      const delta = (choice.delta ?? choice.message ?? {}) as JsonObject;
      said.text += str(delta.content);
      said.refusal += str(delta.refusal);
      said.reasoning += reasoningOf(delta);
      objects(delta.tool_calls).forEach((call, position) => {
        const index = typeof call.index === "number" ? call.index : position;
        const fn = (call.function ?? {}) as JsonObject;
        args.set(index, (args.get(index) ?? "") + str(fn.arguments));
      });
    }
  said.args = [...args.values()];
  return said;
}

/** The same four things, read back from a Response's output. */
export function saidByResponse(response: JsonObject): Said {
  const said: Said = { text: "", refusal: "", reasoning: "", args: [] };
  for (const item of objects(response.output)) {
    for (const part of objects(item.content)) {
      if (part.type === "output_text") said.text += str(part.text);
      if (part.type === "refusal") said.refusal += str(part.refusal);
      if (part.type === "reasoning_text") said.reasoning += str(part.text);
    }
    if (item.type === "function_call") said.args.push(str(item.arguments));
  }
  return said;
}
