// Keeps each streamed item one item from its `added` to its `done`, as OpenAI streams it. SGLang's
// `/v1/responses` with gpt-oss (`serving_responses.py`, its `StreamingHarmonyContext` path) gives
// every item of a response one id (`item_<uuid>`), adds a reasoning item's part as `output_text`,
// moves to the next output index before it sends an item's `done` events, never sends the reasoning
// part's `content_part.done`, and names the reasoning's `output_item.done` anew (`rs_<uuid>`). Each
// of these makes the SDK's stream helper (or the gateway's grammar) throw. Streams that keep their
// items apart (OpenAI's, vLLM's, Ollama's, llama.cpp's once placed) pass through untouched.

import { ITEM_ID_PREFIXES, newId } from "../responses/ids";
import type { JsonObject, StreamEvent } from "../responses/types";
import { isPlainObject } from "../responses/validation";

interface Streamed {
  type: string;
  wire: number;
  /** The id the item is streamed under: the upstream's, or one minted for a repeated one. */
  id: string | undefined;
  /** The upstream's id, when the gateway minted another: later events name the item by it. */
  upstreamId: string | undefined;
  open: boolean;
  /** Content parts added and not yet finished, by content index. */
  parts: Map<number, JsonObject>;
}

export class ItemRepair {
  /** Items by the output index the upstream added them at. */
  readonly #items = new Map<number, Streamed>();
  readonly #ids = new Set<string>();
  #last: Streamed | undefined;
  readonly #report: (message: string) => void;

  constructor(report: (message: string) => void) {
    this.#report = report;
  }

  /** The event repaired, after the events it needs first (a part it never finished). */
  repair(event: StreamEvent): StreamEvent[] {
    if (typeof event.output_index !== "number") return [event];
    if (event.type === "response.output_item.added") {
      this.#add(event);
      return [event];
    }
    const entry = this.#itemOf(event);
    if (entry === undefined) return [event];
    if (entry.upstreamId !== undefined && event.item_id === entry.upstreamId) event.item_id = entry.id;
    switch (event.type) {
      case "response.content_part.added":
      case "response.content_part.done": {
        const sent = event.part;
        if (!isPlainObject(sent)) return [event];
        let part: JsonObject = sent;
        if (entry.type === "reasoning" && sent.type === "output_text") {
          this.#report("listed a reasoning item's part added as output_text as its reasoning_text part");
          event.part = part = { type: "reasoning_text", text: typeof sent.text === "string" ? sent.text : "" };
        }
        const index = typeof event.content_index === "number" ? event.content_index : 0;
        if (event.type === "response.content_part.added") entry.parts.set(index, part);
        else entry.parts.delete(index);
        return [event];
      }
      case "response.output_item.done":
        return this.#finish(event, entry);
      default:
        return [event];
    }
  }

  #add(event: StreamEvent): void {
    const item = event.item;
    if (!isPlainObject(item) || typeof item.type !== "string") return;
    const upstream = typeof item.id === "string" && item.id !== "" ? item.id : undefined;
    const entry: Streamed = {
      type: item.type,
      wire: event.output_index as number,
      id: upstream,
      upstreamId: undefined,
      open: true,
      parts: new Map(),
    };
    const prefix = ITEM_ID_PREFIXES[item.type];
    if (upstream !== undefined && this.#ids.has(upstream) && prefix !== undefined) {
      // Another item of this response already had this id: two items of one id cannot be told apart.
      this.#report("an item was added under the id of an earlier item: it was given an id of its own");
      entry.id = item.id = newId(prefix);
      entry.upstreamId = upstream;
    }
    if (upstream !== undefined) this.#ids.add(upstream);
    this.#items.set(entry.wire, entry);
    this.#last = entry;
  }

  /**
   * The item an event names by its output index; a `done` event at the index after the last item
   * added, which was never added, finishes that item (SGLang moves on to the next index first).
   */
  #itemOf(event: StreamEvent): Streamed | undefined {
    const wire = event.output_index as number;
    const entry = this.#items.get(wire);
    if (entry !== undefined) return entry;
    const last = this.#last;
    if (last === undefined || !last.open || last.wire !== wire - 1 || !event.type.endsWith(".done")) return undefined;
    this.#report("an item's done events came at the output index after its own: they finish it");
    event.output_index = last.wire;
    return last;
  }

  /** The item finished under the id it was streamed with, after each part it left open. */
  #finish(event: StreamEvent, entry: Streamed): StreamEvent[] {
    entry.open = false;
    const item = event.item;
    if (!isPlainObject(item) || item.type !== entry.type) return [event];
    if (entry.id !== undefined && item.id !== entry.id) {
      this.#report("an item's output_item.done named it by another id: it keeps the id it was added with");
      item.id = entry.id;
    }
    const content = Array.isArray(item.content) ? item.content : [];
    const out: StreamEvent[] = [];
    for (const [index, opened] of entry.parts) {
      this.#report("finished a content part the upstream left open when it finished its item");
      const part = isPlainObject(content[index]) ? content[index] : opened;
      out.push({
        type: "response.content_part.done",
        sequence_number: 0,
        item_id: entry.id,
        output_index: entry.wire,
        content_index: index,
        part: structuredClone(part),
      });
    }
    entry.parts.clear();
    out.push(event);
    return out;
  }
}
