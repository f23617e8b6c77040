// Maps a non-streaming chat completion body to a Response by replaying it through the stream
// translator as one chunk (one mapping for both paths). Used by the protocol's `eventsFromBody`.

import { eventsFromResponse } from "../../responses/synthesize";
import type { JsonObject, ResponseObject, StreamEvent } from "../../responses/types";
import { isPlainObject } from "../../responses/validation";
import type { TranslationContext } from "../protocol";
import { ChatStreamTranslator } from "./stream";

/** A `chat.completion` choice as a chunk choice: `message` read as the delta, tool calls indexed by position. */
function asChunkChoice(choice: unknown): unknown {
  if (!isPlainObject(choice) || !isPlainObject(choice.message)) return choice;
  const message = choice.message;
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  const delta = {
    ...message,
    tool_calls: calls.map((call: unknown, index) => (isPlainObject(call) ? { ...call, index } : call)),
  };
  return { ...choice, message: undefined, delta };
}

/**
 * The Response a `chat.completion` body stands for (or a `failed` one for an in-band `{"error":…}`
 * body); `undefined` when the body is neither.
 */
function responseFromCompletion(body: unknown, context: TranslationContext): ResponseObject | undefined {
  if (!isPlainObject(body) || (!Array.isArray(body.choices) && body.error === undefined)) return undefined;
  const chunk: JsonObject = { ...body, choices: Array.isArray(body.choices) ? body.choices.map(asChunkChoice) : [] };
  const translator = new ChatStreamTranslator(context);
  const events = [...translator.pushChunk(chunk), ...translator.end()];
  return events.at(-1)?.response as ResponseObject | undefined;
}

/** `eventsFromBody` of the protocol: the Response expanded to its events (the normalizer adds the `error` event of a failure). */
export function eventsFromCompletion(body: unknown, context: TranslationContext): StreamEvent[] {
  const response = responseFromCompletion(body, context);
  return response === undefined ? [] : eventsFromResponse(response);
}
