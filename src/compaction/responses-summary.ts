// The summary call of compaction over a Responses upstream that has no `/responses/compact`
// (vLLM, Ollama, LM Studio, llama.cpp): the context as it would go to that server, then the
// request for a handoff summary, sent to its `/responses` statelessly (store false, no stream);
// and the text and usage of its answer, a Response or, from a server that streams anyway, its events.

import { ApiError } from "../errors";
import type { InputItem, JsonObject } from "../responses/types";
import { isPlainObject } from "../responses/validation";
import { decodeSse } from "../sse";
import { usageFromResponses, type ResponseUsage } from "../upstream/chat-completions/usage";

const isInstruction = (item: InputItem): boolean =>
  (item.type ?? "message") === "message" && (item.role === "system" || item.role === "developer");

/** A message's text, from a string or its text parts (`input_text`, `output_text`, `text`). */
function messageText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  let text = "";
  for (const part of content)
    if (isPlainObject(part) && typeof part.text === "string" && part.type !== "refusal") text += part.text;
  return text;
}

/**
 * The body of the summary call. The system and developer messages that open the context join the
 * summary instructions as `instructions`, as over chat: a server turns each into a system message,
 * and many chat templates refuse a second one.
 */
export function responsesSummaryBody(model: string, instructions: string, input: InputItem[], ask: string): JsonObject {
  let start = 0;
  while (start < input.length && isInstruction(input[start] as InputItem)) start++;
  const opening = input
    .slice(0, start)
    .map((item) => messageText(item.content))
    .filter((text) => text.trim() !== "");
  return {
    model,
    instructions: [instructions, ...opening].join("\n\n"),
    input: [...input.slice(start), { type: "message", role: "user", content: ask }],
    stream: false,
    store: false,
  };
}

/** The text of a Response's output messages. */
function outputText(response: JsonObject): string {
  const output = Array.isArray(response.output) ? response.output : [];
  let text = "";
  for (const item of output)
    if (isPlainObject(item) && item.type === "message" && item.role !== "user") text += messageText(item.content);
  return text;
}

/**
 * The summary call's failure in the server's own words (a failed Response, an `error` body or event),
 * with the key it was sent taken out (`redact`): some servers quote it, and it may be the operator's.
 */
function refused(error: unknown, redact: (text: string) => string): ApiError {
  const message = isPlainObject(error) && typeof error.message === "string" ? error.message : String(error);
  return new ApiError(502, `The upstream model server failed to write the summary: ${redact(message).slice(0, 2000)}`, {
    type: "server_error",
    // The server's own refusal: failed_by upstream_error in the response line.
    fromUpstream: true,
  });
}

function answerOfResponse(body: unknown, redact: (text: string) => string): { text: string; usage: ResponseUsage } {
  if (!isPlainObject(body)) throw new SyntaxError("not a JSON object");
  if (body.error !== undefined && body.error !== null) throw refused(body.error, redact);
  if (body.status === "failed") throw refused(body.error ?? "the response failed", redact);
  return { text: outputText(body), usage: usageFromResponses(body.usage) };
}

/**
 * The summary's text and usage. `read` gives a JSON answer's text (bounded by the caller); a stream
 * is read event by event, its text from the terminal Response or, without one, from the deltas.
 * `redact` takes the key out of the server's words in a refusal.
 */
export async function responsesSummaryAnswer(
  response: Response,
  limits: {
    read: (response: Response) => Promise<string>;
    maxChars: number;
    tooLarge: () => ApiError;
    redact: (text: string) => string;
  },
): Promise<{ text: string; usage: ResponseUsage }> {
  const { read, maxChars, tooLarge, redact } = limits;
  if (!(response.headers.get("content-type") ?? "").includes("text/event-stream"))
    return answerOfResponse(JSON.parse(await read(response)), redact);
  let deltas = "";
  for await (const message of decodeSse(response.body as ReadableStream<Uint8Array>)) {
    if (message.data.trim() === "[DONE]") break;
    const event: unknown = JSON.parse(message.data);
    if (!isPlainObject(event)) continue;
    if (event.type === "error") throw refused(event.error ?? event, redact);
    if (event.type === "response.output_text.delta" && typeof event.delta === "string") deltas += event.delta;
    if (
      (event.type === "response.completed" ||
        event.type === "response.incomplete" ||
        event.type === "response.failed") &&
      isPlainObject(event.response)
    ) {
      const answer = answerOfResponse(event.response, redact);
      return { text: answer.text || deltas, usage: answer.usage };
    }
    // Bounded as a JSON answer is (leaving the loop cancels the stream).
    if (deltas.length > maxChars) throw tooLarge();
  }
  return { text: deltas, usage: usageFromResponses(undefined) };
}
