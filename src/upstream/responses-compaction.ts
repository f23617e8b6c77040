// The compaction item the gateway made before calling a Responses upstream (create-time compaction
// for a server without its own, src/upstream/compact-support.ts) put first in the response: streamed
// after the upstream's `response.created` and `response.in_progress` as OpenAI streams one (added,
// compacting, done), every later output index moved one on, and the terminal Response's output
// and usage holding it. Used by the `responses` protocol, for streamed and JSON answers alike.

import type { StreamEvent } from "../responses/types";
import { isPlainObject } from "../responses/validation";
import { usageFromResponses, withCompactionUsage } from "./chat-completions/usage";
import type { EventTranslator, TranslationContext } from "./protocol";

type Compaction = NonNullable<TranslationContext["compaction"]>;

/** Events that open a response, before any output. */
const OPENING: ReadonlySet<string> = new Set(["response.created", "response.in_progress", "response.queued"]);
const TERMINAL: ReadonlySet<string> = new Set(["response.completed", "response.incomplete", "response.failed"]);

export class CompactionFirst {
  /** The item, until its events are sent. */
  #pending: Compaction | undefined;
  readonly #compaction: Compaction;

  constructor(compaction: Compaction) {
    this.#compaction = compaction;
    this.#pending = compaction;
  }

  /** The upstream's events with the item added before its first output and every output index after it. */
  apply(events: StreamEvent[]): StreamEvent[] {
    const out: StreamEvent[] = [];
    for (const event of events) {
      if (!OPENING.has(event.type)) out.push(...this.#itemEvents());
      out.push(this.#shifted(event));
    }
    return out;
  }

  #itemEvents(): StreamEvent[] {
    const compaction = this.#pending;
    if (compaction === undefined) return [];
    this.#pending = undefined;
    const { item } = compaction;
    return [
      { type: "response.output_item.added", sequence_number: 0, output_index: 0, item: structuredClone(item) },
      { type: "response.compaction.compacting", sequence_number: 0, item_id: item.id, output_index: 0 },
      { type: "response.output_item.done", sequence_number: 0, output_index: 0, item: structuredClone(item) },
    ];
  }

  #shifted(event: StreamEvent): StreamEvent {
    const shifted: StreamEvent = { ...event };
    if (typeof event.output_index === "number") shifted.output_index = event.output_index + 1;
    if (TERMINAL.has(event.type) && isPlainObject(event.response)) {
      const response = event.response;
      const output: unknown[] = Array.isArray(response.output) ? response.output : [];
      shifted.response = {
        ...response,
        output: [structuredClone(this.#compaction.item), ...output],
        usage: withCompactionUsage(
          isPlainObject(response.usage) ? usageFromResponses(response.usage) : null,
          this.#compaction.usage,
        ),
      };
    }
    return shifted;
  }
}

/** `translator` with the compaction item first in what it translates. */
export function compactionFirst(translator: EventTranslator, compaction: Compaction): EventTranslator {
  const first = new CompactionFirst(compaction);
  return {
    push: (message) => first.apply(translator.push(message)),
    finish: () => first.apply(translator.finish()),
  };
}
