// The `responses` protocol: an OpenAI-compatible `/responses` upstream. The gateway owns state, so
// the upstream is called statelessly (store:false, no background, chain expanded into `input`) and
// its events pass through untouched apart from what the normalizer owns.

import type { CreateRequest } from "../responses/create-request";
import { eventsFromResponse } from "../responses/synthesize";
import type { InputItem, JsonObject, StreamEvent } from "../responses/types";
import { ENCRYPTED_REASONING, isPlainObject } from "../responses/validation";
import type { SseMessage } from "../sse";
import type { EventTranslator, TranslationContext, UpstreamProtocol } from "./protocol";

/** Fields that carry state the gateway keeps itself; never sent upstream. */
const GATEWAY_OWNED_FIELDS = ["background", "previous_response_id", "conversation", "stream", "store", "input"];

class ResponsesTranslator implements EventTranslator {
  /** Function names by item id: `function_call_arguments.done` must name its function (OpenAI and Azure leave it out). */
  readonly #functionNames = new Map<string, string>();

  push(message: SseMessage): StreamEvent[] {
    if (message.data === "[DONE]" || message.data === "") return [];
    const event: unknown = JSON.parse(message.data);
    if (!isPlainObject(event)) return [];
    // Some servers put the type only in the SSE `event:` field.
    if (typeof event.type !== "string" && message.event) event.type = message.event;
    if (typeof event.type !== "string") return [];
    this.#fillFunctionName(event);
    return [event as StreamEvent];
  }

  #fillFunctionName(event: JsonObject): void {
    const item = event.item;
    if (event.type === "response.output_item.added" && isPlainObject(item) && item.type === "function_call")
      if (typeof item.id === "string" && typeof item.name === "string") this.#functionNames.set(item.id, item.name);
    if (event.type !== "response.function_call_arguments.done" || typeof event.name === "string") return;
    const name = typeof event.item_id === "string" ? this.#functionNames.get(event.item_id) : undefined;
    if (name !== undefined) event.name = name;
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
