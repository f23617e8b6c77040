// The `chat_completions` protocol: any `/chat/completions` server (vLLM, Ollama, llama.cpp, DeepSeek,
// Groq, OpenRouter, Mistral...) behind the gateway. Used by the run and the store:false path.

import { invalidRequest } from "../../errors";
import type { CreateRequest } from "../../responses/create-request";
import { checkCallsAnswered } from "../../responses/tool-outputs";
import type { JsonObject } from "../../responses/types";
import { isPlainObject } from "../../responses/validation";
import type { UpstreamProtocol } from "../protocol";
import { eventsFromCompletion } from "./completion";
import { toMessages } from "./messages";
import { buildChatBody, responsesParam } from "./request";
import { ChatStreamTranslator } from "./stream";
import { PARAM_SUPPORT, paramRefusal } from "./support";
import { ChatToolSet } from "./tool-set";
import { checkTools } from "./tools";

/** The gateway does `compaction` entries itself (compaction/compact.ts); it knows no other kind. */
function checkContextManagement(body: JsonObject): void {
  (Array.isArray(body.context_management) ? body.context_management : []).forEach((entry, index) => {
    const type = isPlainObject(entry) ? entry.type : undefined;
    if (type !== "compaction")
      throw invalidRequest(
        `Invalid 'context_management[${index}].type': '${String(type)}' is not a context management the gateway does for this model server (Chat Completions); it does 'compaction'.`,
        `context_management[${index}].type`,
        "unsupported_value",
      );
  });
}

/** A `compaction_trigger` compacts the context before it, so it must end the input (as OpenAI requires). */
function checkCompactionTrigger(request: CreateRequest): void {
  const index = request.input.findIndex((item) => item.type === "compaction_trigger");
  if (index !== -1 && index !== request.input.length - 1)
    throw invalidRequest(
      `Invalid 'input[${index}]': a 'compaction_trigger' item must be the final input item.`,
      `input[${index}]`,
      "invalid_value",
    );
}

/** The text formats `response_format` can say; any other would be dropped and the answer come back as plain text. */
const TEXT_FORMATS: readonly string[] = ["text", "json_object", "json_schema"];

function checkTextFormat(body: JsonObject): void {
  const format = isPlainObject(body.text) && isPlainObject(body.text.format) ? body.text.format : undefined;
  const type = format?.type;
  if (typeof type === "string" && !TEXT_FORMATS.includes(type))
    throw invalidRequest(
      `Invalid 'text.format.type': '${type.slice(0, 64)}' is not a text format this model server can be asked for: it speaks the Chat Completions protocol, whose response_format takes 'text', 'json_object' and 'json_schema'.`,
      "text.format.type",
      "unsupported_value",
    );
}

/**
 * `modalities` is a chat field, forwarded as any other, but audio or images a chat server makes
 * (OpenAI's `delta.audio`, OpenRouter's `delta.images`) have no place in a Response's message: the
 * answer would come back empty or without them. A 400 says so before anything is paid for.
 */
function checkModalities(body: JsonObject): void {
  if (!Array.isArray(body.modalities)) return;
  const index = body.modalities.findIndex((modality) => modality !== "text");
  if (index !== -1)
    throw invalidRequest(
      `Invalid 'modalities[${index}]': '${String(body.modalities[index]).slice(0, 64)}' output cannot be asked of this model server: it speaks the Chat Completions protocol, and a Response carries its text only ('text' is the one modality it can return).`,
      `modalities[${index}]`,
      "unsupported_value",
    );
}

export const chatCompletionsProtocol: UpstreamProtocol = {
  name: "chat_completions",
  path: "/chat/completions",

  validate(request: CreateRequest): void {
    for (const [field, support] of Object.entries(PARAM_SUPPORT))
      if (support.handling === "refused" && request.body[field] !== undefined && request.body[field] !== null)
        throw invalidRequest(paramRefusal(field), field, "unsupported_parameter");
    checkContextManagement(request.body);
    checkCompactionTrigger(request);
    checkTextFormat(request.body);
    checkModalities(request.body);
    const tools = ChatToolSet.from(request.body, request.input);
    checkTools(request.body, tools);
    // A dry run of the message translation: every unsupported item or part is a 400 now, not later.
    toMessages(request.instructions, request.input, tools);
  },

  // A call without its output: OpenAI's 400, where a chat server says something else or answers.
  checkContext: checkCallsAnswered,

  buildBody: buildChatBody,

  createTranslator: (context) => new ChatStreamTranslator(context),

  eventsFromBody: eventsFromCompletion,

  errorParam: responsesParam,
};

/** The protocol for a route whose chat template writes the opening `<think>` into the prompt. */
export const chatCompletionsOpenThinkProtocol: UpstreamProtocol = {
  ...chatCompletionsProtocol,
  createTranslator: (context) => new ChatStreamTranslator({ ...context, templateOpensThink: true }),
  eventsFromBody: (body, context) => eventsFromCompletion(body, { ...context, templateOpensThink: true }),
};
