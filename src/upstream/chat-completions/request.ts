// Builds the `/chat/completions` body from a validated Responses request and its full context.
// Used by the chat-completions protocol's `buildBody`.

import { ApiError } from "../../errors";
import type { CreateRequest } from "../../responses/create-request";
import type { InputItem, JsonObject } from "../../responses/types";
import { isPlainObject } from "../../responses/validation";
import { toMessages } from "./messages";
import { PARAM_SUPPORT } from "./support";
import { ChatToolSet } from "./tool-set";
import { chatTools, compact } from "./tools";

/**
 * Every `CreateResponse` field (`openai` v7's `ResponseCreateParams`). None is forwarded as is: each
 * is translated below, done by the gateway, or refused by `validate` (support.ts says which and
 * why). Fields only OpenAI's chat API knows (`metadata`, `service_tier`, `prompt_cache_key`...)
 * would make Groq, Mistral and others answer 400; `store` would even make OpenAI store the completion.
 * Any other field is a chat server's own knob (`top_k`, `min_p`...) and is forwarded.
 */
const RESPONSES_FIELDS: ReadonlySet<string> = new Set(Object.keys(PARAM_SUPPORT));

/** Chat fields the translation owns; a client's extra field never overrides them. `n` > 1 would
 * produce choices the Responses grammar cannot carry. */
const TRANSLATION_OWNED: ReadonlySet<string> = new Set(["messages", "n", "stream", "stream_options"]);

/**
 * Fields clients send for OpenAI's own use that are no model's knob: Codex's `client_metadata` (its
 * installation and session ids, the workspace's paths) would make a strict chat server answer 400,
 * and would hand a third party what it has no use for; `generate` (a warm-up is the gateway's own).
 */
const CLIENT_ONLY: ReadonlySet<string> = new Set(["client_metadata", "generate"]);

const LOGPROBS_INCLUDE = "message.output_text.logprobs";

/** Chat fields the body names after a Responses field, by that field (`tools[i]` and `messages[i]` are not one to one). */
const RENAMED: readonly (readonly [RegExp, string])[] = [
  [/^response_format(\.json_schema)?(?![\w[])/, "text.format"],
  [/^max_completion_tokens(?![\w[])/, "max_output_tokens"],
  [/^reasoning_effort(?![\w[])/, "reasoning.effort"],
];

/**
 * The request's name for a field a chat server's error names: its 400 for a bad schema says
 * `response_format`, which the client never sent; OpenAI's Responses API says `text.format`.
 */
export function responsesParam(param: string): string {
  for (const [chat, responses] of RENAMED) if (chat.test(param)) return param.replace(chat, responses);
  return param;
}

/**
 * The messages of the whole context: the chain's or conversation's items, then the request's own
 * (`validate` translated those alone). An earlier item chat cannot take (a file by `file_url` that a
 * Responses model took before the chain moved to this route) would be named by its index in the
 * context, which names one of the client's own items: it is `input`, as the other checks of history
 * name it, and the message says where it is.
 */
function contextMessages(request: CreateRequest, input: InputItem[], tools: ChatToolSet): JsonObject[] {
  try {
    return toMessages(request.instructions, input, tools);
  } catch (error) {
    const at = error instanceof ApiError ? /^input\[(\d+)\]\.?/.exec(error.param ?? "") : null;
    if (!(error instanceof ApiError) || at === null || Number(at[1]) >= input.length - request.input.length)
      throw error;
    const param = error.param as string;
    const where = param === at[0] ? "" : `, at ${param.slice(at[0].length)}`;
    const source = request.conversationId !== null ? "the conversation" : "the chain of 'previous_response_id'";
    throw error.with({
      message: `${error.message.replaceAll(`'${param}'`, "'input'")} It is in an earlier item of ${source} (item ${at[1]} of the context${where}), not in this request's input.`,
      param: "input",
    });
  }
}

/**
 * The reasoning effort and text format in effect: the request's own, else the latest
 * `configuration_update` of the context ("each setting stays in effect until a later update replaces it").
 */
function configuration(body: JsonObject, input: InputItem[]): { effort: unknown; text: unknown } {
  let effort = isPlainObject(body.reasoning) ? body.reasoning.effort : undefined;
  let text = isPlainObject(body.text) && isPlainObject(body.text.format) ? body.text : undefined;
  for (let i = input.length - 1; i >= 0 && (effort === undefined || text === undefined); i--) {
    const item = input[i] as InputItem;
    if (item.type !== "configuration_update") continue;
    if (effort === undefined && isPlainObject(item.reasoning) && item.reasoning.effort !== undefined)
      effort = item.reasoning.effort;
    if (text === undefined && isPlainObject(item.text)) text = item.text;
  }
  return { effort, text };
}

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
 * (older Ollama, DeepSeek) ignore it, and Mistral refuses it (a route's `request_fields` renames it).
 * Sending both breaks OpenAI, so a client that needs the old field sends `max_tokens` itself: it is
 * forwarded and `max_completion_tokens` is left out.
 */
export function buildChatBody(request: CreateRequest, input: InputItem[]): JsonObject {
  const body = request.body;
  const extras = Object.fromEntries(
    Object.entries(body).filter(
      ([field]) => !RESPONSES_FIELDS.has(field) && !TRANSLATION_OWNED.has(field) && !CLIENT_ONLY.has(field),
    ),
  );
  const { effort, text } = configuration(body, input);
  const tools = ChatToolSet.from(body, input);
  const topLogprobs = typeof body.top_logprobs === "number" && body.top_logprobs > 0 ? body.top_logprobs : undefined;
  const logprobs = topLogprobs !== undefined || request.include.includes(LOGPROBS_INCLUDE);
  const translated = compact({
    ...chatTools(body, tools),
    response_format: responseFormat(text),
    reasoning_effort: effort,
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
    messages: contextMessages(request, input, tools),
    ...extras,
    ...translated,
    stream: true,
    stream_options: { include_usage: true },
  };
}
