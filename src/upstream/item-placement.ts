// Places the item events of a Responses server that numbers nothing. llama.cpp's `/v1/responses`
// (`tools/server/server-task.cpp`) sends no `output_index`, `content_index` or `sequence_number`,
// streams a reasoning item's text without adding its part, and adds calls without an `id`, their
// deltas naming the `call_id`. Without an index every item event breaks the grammar the SDK's stream
// helper enforces, so the response failed at its first item. Streams that number their events
// (OpenAI's, vLLM's, Ollama's) pass through untouched.

import type { JsonObject, StreamEvent } from "../responses/types";
import { isPlainObject } from "../responses/validation";

/** Events that address a content part: each server that leaves out `content_index` has one part an item. */
const CONTENT_EVENTS: ReadonlySet<string> = new Set([
  "response.content_part.added",
  "response.content_part.done",
  "response.output_text.delta",
  "response.output_text.done",
  "response.output_text.annotation.added",
  "response.refusal.delta",
  "response.refusal.done",
  "response.reasoning_text.delta",
  "response.reasoning_text.done",
]);

export class ItemPlacement {
  /** Wire output index by the key events name an item by: its `id`, or a call's `call_id`. */
  readonly #indexes = new Map<string, number>();
  /** Items added so far: the index the next unnumbered item takes. */
  #added = 0;
  /** `output_index:content_index` of the parts added (by the server or here). */
  readonly #parts = new Set<string>();
  readonly #report: (message: string) => void;

  constructor(report: (message: string) => void) {
    this.#report = report;
  }

  /** The event placed, after the events it needs first (a reasoning part never added). */
  place(event: StreamEvent): StreamEvent[] {
    const numbered = typeof event.output_index === "number";
    if (event.type === "response.output_item.added") {
      // Numbered items count too, so an unnumbered one after them takes the next index.
      const index = numbered ? (event.output_index as number) : this.#added;
      this.#added = Math.max(this.#added, index + 1);
      if (numbered) return [event];
      const key = itemKey(event.item);
      if (key !== undefined) this.#indexes.set(key, index);
      return [this.#placed(event, index)];
    }
    if (numbered) return [event];
    const key = event.type === "response.output_item.done" ? itemKey(event.item) : event.item_id;
    const index = typeof key === "string" ? this.#indexes.get(key) : undefined;
    if (index === undefined) return [event];
    const placed = this.#placed(event, index);
    if (!CONTENT_EVENTS.has(event.type)) return [placed];
    if (typeof placed.content_index !== "number") placed.content_index = 0;
    const part = `${index}:${String(placed.content_index)}`;
    if (event.type === "response.content_part.added") this.#parts.add(part);
    if (event.type !== "response.reasoning_text.delta" || this.#parts.has(part)) return [placed];
    this.#parts.add(part);
    this.#report("added the reasoning_text part the upstream streamed reasoning into without adding it");
    const added: StreamEvent = {
      type: "response.content_part.added",
      sequence_number: 0,
      item_id: placed.item_id,
      output_index: index,
      content_index: placed.content_index,
      part: { type: "reasoning_text", text: "" },
    };
    return [added, placed];
  }

  #placed(event: StreamEvent, index: number): StreamEvent {
    this.#report("placed item events that carried no output_index by the item they name");
    event.output_index = index;
    return event;
  }
}

/** The key an item is named by in later events: its id, or (a call added without one) its `call_id`. */
function itemKey(item: unknown): string | undefined {
  if (!isPlainObject(item)) return undefined;
  const named = item as JsonObject;
  if (typeof named.id === "string" && named.id !== "") return named.id;
  return typeof named.call_id === "string" ? named.call_id : undefined;
}
