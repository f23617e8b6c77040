// The events a stored run records before it is cut off mid-answer: created, a message, its text part
// and one delta, normalized as the run would. Used by the fault tests that stage a run whose Worker died.
import type { CreateRequest } from "../../src/responses/create-request";
import { StreamNormalizer, type NormalizedEvent } from "../../src/responses/normalizer";
import { echoOf, type ResponseIdentity } from "../../src/responses/response-object";
import type { ResponseObject } from "../../src/responses/types";

export function halfAnswerEvents(
  request: CreateRequest,
  identity: ResponseIdentity,
  base: ResponseObject,
): NormalizedEvent[] {
  const normalizer = new StreamNormalizer({ echo: echoOf(request, identity), initial: base, background: false });
  return [
    ...normalizer.accept({ type: "response.created", response: { ...base } }),
    ...normalizer.accept({
      type: "response.output_item.added",
      output_index: 0,
      item: { id: "msg_1", type: "message", role: "assistant", status: "in_progress", content: [] },
    }),
    ...normalizer.accept({
      type: "response.content_part.added",
      item_id: "msg_1",
      output_index: 0,
      content_index: 0,
      part: { type: "output_text", text: "", annotations: [] },
    }),
    ...normalizer.accept({
      type: "response.output_text.delta",
      item_id: "msg_1",
      output_index: 0,
      content_index: 0,
      delta: "half",
    }),
  ];
}
