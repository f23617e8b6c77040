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

/** The item as `GET /v1/responses/{id}/input_items` lists it. */
export function itemResource(item: InputItem, id: string): JsonObject {
  const type = typeof item.type === "string" ? item.type : "message";
  if (type !== "message") return { ...item, id, type, ...(item.status === undefined ? {} : { status: item.status }) };
  const role = typeof item.role === "string" ? item.role : "user";
  const content =
    typeof item.content === "string"
      ? [
          role === "assistant"
            ? { type: "output_text", text: item.content, annotations: [] }
            : { type: "input_text", text: item.content },
        ]
      : item.content;
  return { id, type: "message", role, content, status: typeof item.status === "string" ? item.status : "completed" };
}
