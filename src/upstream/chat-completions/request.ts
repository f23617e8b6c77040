// Builds the `/chat/completions` body from a validated Responses request and its full context.
// Used by the chat-completions protocol's `buildBody`.

import type { CreateRequest } from "../../responses/create-request";
import type { InputItem, JsonObject } from "../../responses/types";
import { isPlainObject } from "../../responses/validation";
import { toMessages } from "./messages";
import { chatTools, compact } from "./tools";

/**
 * Every `CreateResponse` field (OpenAPI 2.3.0). None is forwarded as is: each is either translated
 * below or is dropped: it has no chat meaning (`truncation`, `max_tool_calls`...), or exists only
 * on OpenAI's chat API (`metadata`, `service_tier`, `prompt_cache_key`, `text.verbosity`), where
 * Groq, Mistral and others answer 400 to fields they do not know; `store` would even make OpenAI
 * store the completion.
 */
const RESPONSES_FIELDS: ReadonlySet<string> = new Set([
  "background", "context_management", "conversation", "include", "input", "instructions", "max_output_tokens",
  "max_tool_calls", "metadata", "model", "moderation", "parallel_tool_calls", "previous_response_id", "prompt",
  "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention", "reasoning", "safety_identifier",
  "service_tier", "store", "stream", "stream_options", "temperature", "text", "tool_choice", "tools", "top_logprobs",
  "top_p", "truncation", "user",
]); // prettier-ignore

/** Chat fields the translation owns; a client's extra field never overrides them. `n` > 1 would
 * produce choices the Responses grammar cannot carry. */
const TRANSLATION_OWNED: ReadonlySet<string> = new Set(["messages", "n", "stream", "stream_options"]);

const LOGPROBS_INCLUDE = "message.output_text.logprobs";

function responseFormat(text: unknown): JsonObject | undefined {
  const format = isPlainObject(text) && isPlainObject(text.format) ? text.format : undefined;
  if (format?.type === "json_object") return { type: "json_object" };
  if (format?.type !== "json_schema") return undefined;
  const schema = compact({
    name: format.name,
    description: format.description,
    schema: format.schema,
    strict: format.strict,
  });
  return { type: "json_schema", json_schema: schema };
}

/**
 * `max_output_tokens` goes out as `max_completion_tokens`: the current OpenAI field (OpenAI rejects
 * `max_tokens` for reasoning models, see fixture reasoning-model-legacy-parameter-error.json),
 * accepted by vLLM, SGLang, llama.cpp, Groq and OpenRouter; servers that only read `max_tokens`
 * (older Ollama, DeepSeek, Mistral) ignore it. Sending both breaks OpenAI, so a client that needs
 * the old field sends `max_tokens` itself: it is forwarded and `max_completion_tokens` is left out.
 */
export function buildChatBody(request: CreateRequest, input: InputItem[]): JsonObject {
  const body = request.body;
  const extras = Object.fromEntries(
    Object.entries(body).filter(([field]) => !RESPONSES_FIELDS.has(field) && !TRANSLATION_OWNED.has(field)),
  );
  const reasoning = isPlainObject(body.reasoning) ? body.reasoning : {};
  const topLogprobs = typeof body.top_logprobs === "number" && body.top_logprobs > 0 ? body.top_logprobs : undefined;
  const logprobs = topLogprobs !== undefined || request.include.includes(LOGPROBS_INCLUDE);
  const translated = compact({
    ...chatTools(body),
    response_format: responseFormat(body.text),
    reasoning_effort: reasoning.effort,
    max_completion_tokens: "max_tokens" in extras ? undefined : body.max_output_tokens,
    temperature: body.temperature,
    top_p: body.top_p,
    logprobs: logprobs ? true : undefined,
    top_logprobs: topLogprobs,
    // `user` is what every server knows; `safety_identifier` is its successor on OpenAI.
    user: body.safety_identifier ?? body.user,
  });
  return {
    model: request.model,
    messages: toMessages(request.instructions, input),
    ...extras,
    ...translated,
    stream: true,
    stream_options: { include_usage: true },
  };
}
