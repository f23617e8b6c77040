// Expands a finished Response into the event stream that would have produced it. Used when an
// upstream answers a streaming request with a plain JSON body, so every stored response still
// has a complete, replayable log.

import { textOf, type JsonObject, type OutputItem, type ResponseObject, type StreamEvent } from "./types";

const seq = 0; // the normalizer numbers events

function contentEvents(item: OutputItem, outputIndex: number): StreamEvent[] {
  const events: StreamEvent[] = [];
  const base = { item_id: item.id, output_index: outputIndex };
  const content = Array.isArray(item.content) ? (item.content as JsonObject[]) : [];
  content.forEach((part, contentIndex) => {
    const at = { ...base, content_index: contentIndex };
    if (part.type === "output_text") {
      const text = textOf(part.text);
      events.push({
        type: "response.content_part.added",
        sequence_number: seq,
        ...at,
        part: { ...part, text: "", annotations: [], logprobs: [] },
      });
      if (text !== "")
        events.push({ type: "response.output_text.delta", sequence_number: seq, ...at, delta: text, logprobs: [] });
      const annotations = Array.isArray(part.annotations) ? part.annotations : [];
      annotations.forEach((annotation, annotationIndex) =>
        events.push({
          type: "response.output_text.annotation.added",
          sequence_number: seq,
          ...at,
          annotation_index: annotationIndex,
          annotation,
        }),
      );
      events.push({
        type: "response.output_text.done",
        sequence_number: seq,
        ...at,
        text,
        logprobs: part.logprobs ?? [],
      });
    } else if (part.type === "refusal") {
      const refusal = textOf(part.refusal);
      events.push({
        type: "response.content_part.added",
        sequence_number: seq,
        ...at,
        part: { type: "refusal", refusal: "" },
      });
      if (refusal !== "") events.push({ type: "response.refusal.delta", sequence_number: seq, ...at, delta: refusal });
      events.push({ type: "response.refusal.done", sequence_number: seq, ...at, refusal });
    } else if (part.type === "reasoning_text") {
      const text = textOf(part.text);
      events.push({
        type: "response.content_part.added",
        sequence_number: seq,
        ...at,
        part: { type: "reasoning_text", text: "" },
      });
      if (text !== "") events.push({ type: "response.reasoning_text.delta", sequence_number: seq, ...at, delta: text });
      events.push({ type: "response.reasoning_text.done", sequence_number: seq, ...at, text });
    } else {
      return;
    }
    events.push({ type: "response.content_part.done", sequence_number: seq, ...at, part });
  });
  return events;
}

/** The events that stream `item` at `outputIndex`, from `output_item.added` to `output_item.done`. */
export function itemEvents(item: OutputItem, outputIndex: number): StreamEvent[] {
  const started: OutputItem = { ...item };
  if (item.type !== "custom_tool_call") started.status = "in_progress";
  // A reasoning item with only a summary (OpenAI's, or the gateway's asked for one) has no content to start.
  if (item.type === "message" || (item.type === "reasoning" && Array.isArray(item.content))) started.content = [];
  if (item.type === "reasoning") started.summary = [];
  if (item.type === "function_call") started.arguments = "";
  if (item.type === "custom_tool_call") started.input = "";
  const events: StreamEvent[] = [
    { type: "response.output_item.added", sequence_number: seq, output_index: outputIndex, item: started },
  ];
  if (item.type === "message" || item.type === "reasoning") events.push(...contentEvents(item, outputIndex));
  if (item.type === "reasoning" && Array.isArray(item.summary))
    (item.summary as JsonObject[]).forEach((part, summaryIndex) => {
      const at = { item_id: item.id, output_index: outputIndex, summary_index: summaryIndex };
      events.push({
        type: "response.reasoning_summary_part.added",
        sequence_number: seq,
        ...at,
        part: { type: "summary_text", text: "" },
      });
      events.push({
        type: "response.reasoning_summary_text.delta",
        sequence_number: seq,
        ...at,
        delta: textOf(part.text),
      });
      events.push({
        type: "response.reasoning_summary_text.done",
        sequence_number: seq,
        ...at,
        text: textOf(part.text),
      });
      events.push({ type: "response.reasoning_summary_part.done", sequence_number: seq, ...at, part });
    });
  if (item.type === "function_call") {
    const at = { item_id: item.id, output_index: outputIndex };
    const args = textOf(item.arguments);
    if (args !== "")
      events.push({ type: "response.function_call_arguments.delta", sequence_number: seq, ...at, delta: args });
    events.push({
      type: "response.function_call_arguments.done",
      sequence_number: seq,
      ...at,
      name: item.name,
      arguments: args,
    });
  }
  if (item.type === "custom_tool_call") {
    const at = { item_id: item.id, output_index: outputIndex };
    const input = textOf(item.input);
    if (input !== "")
      events.push({ type: "response.custom_tool_call_input.delta", sequence_number: seq, ...at, delta: input });
    events.push({ type: "response.custom_tool_call_input.done", sequence_number: seq, ...at, input });
  }
  events.push({ type: "response.output_item.done", sequence_number: seq, output_index: outputIndex, item });
  return events;
}

/**
 * The events that finish `item`, added at `outputIndex` and never finished, as OpenAI finishes one:
 * each part's text and the part `done`, then the item `done` (the item as the fold built it).
 */
export function finishingEvents(item: OutputItem, outputIndex: number): StreamEvent[] {
  return itemEvents(item, outputIndex).filter((event) => event.type.endsWith(".done"));
}

const TERMINAL_TYPE: Record<string, string> = {
  completed: "response.completed",
  incomplete: "response.incomplete",
  failed: "response.failed",
};

/** The events of `response`, from `response.created` to its terminal event. */
export function eventsFromResponse(response: ResponseObject): StreamEvent[] {
  const output = Array.isArray(response.output) ? response.output : [];
  const opening = {
    ...response,
    status: "in_progress",
    output: [],
    usage: null,
    completed_at: null,
    error: null,
    incomplete_details: null,
  };
  const events: StreamEvent[] = [
    { type: "response.created", sequence_number: seq, response: opening },
    { type: "response.in_progress", sequence_number: seq, response: { ...opening } },
  ];
  output.forEach((item, index) => events.push(...itemEvents(item, index)));
  events.push({ type: TERMINAL_TYPE[response.status] ?? "response.completed", sequence_number: seq, response });
  return events;
}
