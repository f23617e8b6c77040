// The `chat_completions` protocol: any `/chat/completions` server (vLLM, Ollama, llama.cpp, DeepSeek,
// Groq, OpenRouter, Mistral...) behind the gateway. Used by the run and the store:false path.

import { invalidRequest } from "../../errors";
import type { CreateRequest } from "../../responses/create-request";
import type { UpstreamProtocol } from "../protocol";
import { eventsFromCompletion } from "./completion";
import { toMessages } from "./messages";
import { buildChatBody } from "./request";
import { ChatStreamTranslator } from "./stream";
import { checkTools } from "./tools";

export const chatCompletionsProtocol: UpstreamProtocol = {
  name: "chat_completions",
  path: "/chat/completions",

  validate(request: CreateRequest): void {
    if (request.body.prompt !== undefined && request.body.prompt !== null)
      throw invalidRequest(
        "Prompt templates live on OpenAI's platform and cannot be used with this model server: it speaks the Chat Completions protocol.",
        "prompt",
        "unsupported_parameter",
      );
    checkTools(request.body);
    // A dry run of the message translation: every unsupported item or part is a 400 now, not later.
    toMessages(request.instructions, request.input);
  },

  buildBody: buildChatBody,

  createTranslator: (context) => new ChatStreamTranslator(context),

  eventsFromBody: eventsFromCompletion,
};
