// Item identity and presentation: ids for the input items of a request (and conversations), and
// the `ItemResource` view the item lists return (server-assigned id, `type`, `status`, content as parts).

import { newId } from "./ids";
import type { InputItem, JsonObject } from "./types";

const ITEM_PREFIXES: Record<string, string> = {
  message: "msg",
  function_call: "fc",
  function_call_output: "fco",
  reasoning: "rs",
  custom_tool_call: "ctc",
  custom_tool_call_output: "ctco",
  item_reference: "ref",
  // As the compaction items the gateway makes (compaction/compact.ts) and OpenAI's.
  compaction: "cmp",
};

export interface IdentifiedItem {
  id: string;
  item: InputItem;
}

/** Keeps an id the client gave; mints one in OpenAI's style otherwise. */
export function identifyItems(items: InputItem[]): IdentifiedItem[] {
  return items.map((item) => {
    if (typeof item.id === "string" && item.id !== "") return { id: item.id, item };
    const type = typeof item.type === "string" ? item.type : "message";
    return { id: newId(ITEM_PREFIXES[type] ?? "item"), item };
  });
}

/** Items as they are stored: their id and the item as sent upstream, JSON. */
export const storedItems = (items: InputItem[]): { itemId: string; data: string }[] =>
  identifyItems(items).map(({ id, item }) => ({ itemId: id, data: JSON.stringify(item) }));

/** Item types whose listed form (`ItemResource`) always has a `status`: "completed" unless the item says otherwise. */
const WITH_STATUS: ReadonlySet<string> = new Set([
  "function_call", "function_call_output", "custom_tool_call", "custom_tool_call_output", "computer_call_output",
  "tool_search_call", "tool_search_output", "local_shell_call", "shell_call", "shell_call_output", "apply_patch_call",
  "file_search_call", "web_search_call", "image_generation_call", "code_interpreter_call", "program_output",
]); // prettier-ignore

/** A non-message item as listed: its id, type and status, and the fields OpenAI lists that a client may leave out. */
function listedItem(item: InputItem, id: string, type: string): JsonObject {
  const listed: JsonObject = { ...item, id, type };
  if (WITH_STATUS.has(type) && (listed.status === undefined || listed.status === null)) listed.status = "completed";
  // A tool output given as parts lists them as a message's parts are listed (an image with its `detail`).
  if ((type === "function_call_output" || type === "custom_tool_call_output") && Array.isArray(listed.output))
    listed.output = (listed.output as unknown[]).map(listedPart);
  if (type === "tool_search_call" || type === "tool_search_output") {
    listed.call_id ??= null;
    listed.execution ??= listed.call_id === null ? "server" : "client";
  }
  // A local shell output names its call by `id` (the call's id); listed, it also carries `call_id`.
  if (type === "local_shell_call_output") listed.call_id ??= item.id ?? id;
  if (type === "shell_call_output") listed.max_output_length ??= null;
  if (type === "shell_call") {
    listed.environment ??= null;
    const action = listed.action as JsonObject | null;
    if (typeof action === "object" && action !== null && !Array.isArray(action))
      listed.action = {
        ...action,
        timeout_ms: action.timeout_ms ?? null,
        max_output_length: action.max_output_length ?? null,
      };
  }
  return listed;
}

/** The item as `GET /v1/responses/{id}/input_items` lists it. */
export function itemResource(item: InputItem, id: string): JsonObject {
  const type = typeof item.type === "string" ? item.type : "message";
  if (type !== "message") return listedItem(item, id, type);
  const role = typeof item.role === "string" ? item.role : "user";
  const content =
    typeof item.content === "string"
      ? [
          role === "assistant"
            ? { type: "output_text", text: item.content }
            : { type: "input_text", text: item.content },
        ]
      : item.content;
  const parts: unknown = Array.isArray(content) ? (content as unknown[]).map(listedPart) : content;
  return {
    id,
    type: "message",
    role,
    content: parts,
    status: typeof item.status === "string" ? item.status : "completed",
  };
}

/**
 * A content part as OpenAI lists it: an assistant's text with annotations and logprobs, an image with
 * its `detail` (required in the listed form; a request may leave it out, meaning `auto`).
 */
function listedPart(part: unknown): unknown {
  if (typeof part !== "object" || part === null) return part;
  const { type } = part as JsonObject;
  if (type === "output_text") return { annotations: [], logprobs: [], ...part };
  if (type === "input_image") return { detail: "auto", ...part };
  return part;
}
