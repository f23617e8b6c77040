// Reads a gateway SSE answer (`GET /v1/responses/{id}?stream=true`) event by event, with a real SSE
// parser (eventsource-parser, as the Worker uses), until it ends or the caller aborts.

import { EventSourceParserStream } from "eventsource-parser/stream";

export interface StreamEvent {
  type: string;
  sequence_number?: number;
  [field: string]: unknown;
}

export async function readEvents(response: Response, onEvent: (event: StreamEvent) => void): Promise<void> {
  if (response.body === null) return;
  const events = response.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream())
    .getReader();
  for (;;) {
    const { done, value } = await events.read();
    if (done) return;
    try {
      onEvent(JSON.parse(value.data) as StreamEvent);
    } catch {
      // Not JSON (a comment or keep-alive): nothing to show.
    }
  }
}
