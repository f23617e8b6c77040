// The `responses` protocol: an OpenAI-compatible `/responses` upstream. The gateway owns state, so
// the upstream is called statelessly (store:false, no background, chain expanded into `input`) and
// its events pass through untouched apart from what the normalizer owns.

import type { CreateRequest } from "../responses/create-request";
import { eventsFromResponse } from "../responses/synthesize";
import type { InputItem, JsonObject, StreamEvent } from "../responses/types";
import { isPlainObject } from "../responses/validation";
import type { SseMessage } from "../sse";
import type { EventTranslator, TranslationContext, UpstreamProtocol } from "./protocol";

/** Fields that carry state the gateway keeps itself; never sent upstream. */
const GATEWAY_OWNED_FIELDS = ["background", "previous_response_id", "conversation", "stream", "store", "input"];
const ENCRYPTED_REASONING = "reasoning.encrypted_content";

class ResponsesTranslator implements EventTranslator {
  push(message: SseMessage): StreamEvent[] {
    if (message.data === "[DONE]" || message.data === "") return [];
    const event: unknown = JSON.parse(message.data);
    if (!isPlainObject(event)) return [];
    // Some servers put the type only in the SSE `event:` field.
    if (typeof event.type !== "string" && message.event) event.type = message.event;
    if (typeof event.type !== "string") return [];
    return [event as StreamEvent];
  }

  finish(): StreamEvent[] {
    return [];
  }
}

export const responsesProtocol: UpstreamProtocol = {
  name: "responses",
  path: "/responses",

  validate(): void {},

  buildBody(request: CreateRequest, input: InputItem[]): JsonObject {
    const body: JsonObject = { ...request.body };
    for (const field of GATEWAY_OWNED_FIELDS) delete body[field];
    body.input = input;
    body.store = false;
    body.stream = true;
    // Stateless reasoning models only survive a chain if their encrypted reasoning comes back.
    if (request.store && !request.include.includes(ENCRYPTED_REASONING))
      body.include = [...request.include, ENCRYPTED_REASONING];
    return body;
  },

  createTranslator(): EventTranslator {
    return new ResponsesTranslator();
  },

  eventsFromBody(body: unknown, context: TranslationContext): StreamEvent[] {
    if (!isPlainObject(body) || !Array.isArray(body.output)) return [];
    return eventsFromResponse({ ...context.base, ...body });
  },
};
