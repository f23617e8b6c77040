// What becomes of every tool type, input item type and create parameter of the Responses API when
// the model server speaks Chat Completions: translated, done by the gateway, left out (a web search),
// or refused with a 400. Used by the validation (tools.ts, messages.ts, request.ts) and walked by the
// tests against the SDK.

/**
 * `translated`: sent as chat can say it; `gateway`: the gateway does it; `omitted`: left out of the chat
 * request, which does without it; `refused`: a 400 naming it.
 */
export type Handling = "translated" | "gateway" | "omitted" | "refused";

export interface Support {
  handling: Handling;
  /** How, or why not, in words a client is shown (refusals) or the docs list. */
  note: string;
}

const HOSTED = "it is a tool OpenAI runs on its own servers, which neither a chat server nor the gateway can run";
const SEARCH_LEFT_OUT =
  "left out of the chat request: the model is not offered a web search nobody can run for it and answers without one (Codex CLI offers one by default); a `tool_choice` that forces it is refused";

/** Every `Tool` type of the Responses API (`openai` v7), by `type`. */
export const TOOL_SUPPORT = {
  function: { handling: "translated", note: "a chat function (names longer than 64 characters or outside [a-zA-Z0-9_-] are mapped to a short unique name and back)" },
  custom: { handling: "translated", note: "a chat function of one string argument `input`; a regex grammar becomes that argument's JSON Schema `pattern`, a Lark grammar is given to the model in the description" },
  namespace: { handling: "translated", note: "each member becomes a chat function named `<namespace>__<name>` (at most 64 characters, else a short unique name); calls come back with `namespace` restored" },
  tool_search: { handling: "translated", note: "execution `client`: a chat function whose calls come back as `tool_search_call` items, and the tools a `tool_search_output` loads become callable; execution `server`: done by the gateway, which loads every deferred tool up front (chat has no deferred loading)" },
  local_shell: { handling: "translated", note: "a chat function `local_shell` whose calls come back as `local_shell_call` items (the client runs them)" },
  shell: { handling: "translated", note: "with a local environment (or none): a chat function `shell` whose calls come back as `shell_call` items; a hosted container environment is refused" },
  apply_patch: { handling: "translated", note: "a chat function `apply_patch` whose calls come back as `apply_patch_call` items (the client applies them)" },
  file_search: { handling: "refused", note: HOSTED },
  computer: { handling: "refused", note: "computer use needs a model trained for it and a screenshot loop, which chat servers do not have" },
  computer_use_preview: { handling: "refused", note: "computer use needs a model trained for it and a screenshot loop, which chat servers do not have" },
  web_search: { handling: "omitted", note: SEARCH_LEFT_OUT },
  web_search_2025_08_26: { handling: "omitted", note: SEARCH_LEFT_OUT },
  web_search_preview: { handling: "omitted", note: SEARCH_LEFT_OUT },
  web_search_preview_2025_03_11: { handling: "omitted", note: SEARCH_LEFT_OUT },
  mcp: { handling: "refused", note: "remote MCP servers are called by OpenAI's servers; a chat server cannot call them and the gateway does not act as an MCP client" },
  code_interpreter: { handling: "refused", note: HOSTED },
  image_generation: { handling: "refused", note: HOSTED },
  programmatic_tool_calling: { handling: "refused", note: HOSTED },
} as const satisfies Record<string, Support>; // prettier-ignore

const HOSTED_ITEM = "it records a tool OpenAI runs on its own servers, which a chat server cannot take as context";

/** Every input item type of the Responses API (`ResponseInputItem`, `openai` v7), by `type`. */
export const ITEM_SUPPORT = {
  message: { handling: "translated", note: "a chat message (`developer` becomes `system`, and a system or developer message after the opening ones becomes `user` in its place, as many chat templates refuse a late system message); text, images and files as chat content parts (an image's `detail` `low`, `high` or `auto` as is; `original`, which chat servers do not take, is left out, so the server's default applies)" },
  function_call: { handling: "translated", note: "an assistant `tool_calls` entry (a namespaced call under its flattened name)" },
  function_call_output: { handling: "translated", note: "a `tool` message (text parts joined; an image or file part is refused with a 400, as chat tool messages hold text)" },
  custom_tool_call: { handling: "translated", note: "an assistant `tool_calls` entry with `{\"input\": ...}` as its arguments" },
  custom_tool_call_output: { handling: "translated", note: "a `tool` message" },
  reasoning: { handling: "translated", note: "the text goes as `reasoning_content` on the next assistant message (or as the route's `reasoning_sent_as` says): its `reasoning_text`, else, for an item this gateway made, its summary (the raw text) or the text it sealed in `encrypted_content`; other models' summaries and seals are not sent" },
  tool_search_call: { handling: "translated", note: "an assistant `tool_calls` entry of the tool search function" },
  tool_search_output: { handling: "translated", note: "a `tool` message listing the loaded tools, which become callable chat functions" },
  additional_tools: { handling: "translated", note: "its tools become callable chat functions" },
  local_shell_call: { handling: "translated", note: "an assistant `tool_calls` entry of `local_shell`" },
  local_shell_call_output: { handling: "translated", note: "a `tool` message" },
  shell_call: { handling: "translated", note: "an assistant `tool_calls` entry of `shell`" },
  shell_call_output: { handling: "translated", note: "a `tool` message with each command's stdout, stderr and outcome" },
  apply_patch_call: { handling: "translated", note: "an assistant `tool_calls` entry of `apply_patch`" },
  apply_patch_call_output: { handling: "translated", note: "a `tool` message with the status and output" },
  configuration_update: { handling: "gateway", note: "the latest update's reasoning effort and text format apply to the chat request where the request itself sets none" },
  compaction: { handling: "gateway", note: "a compaction item this gateway made is expanded back into its summary; one made elsewhere is opaque to the gateway and refused with `invalid_encrypted_content`, OpenAI's code for content it cannot decrypt (Codex then drops its compaction items and tries again)" },
  compaction_trigger: { handling: "gateway", note: "the last item of the input (a 400 elsewhere): the upstream model summarizes the context before it and the response's output is the sealed compaction item alone, as OpenAI answers it (Codex CLI's built-in provider compacts this way)" },
  item_reference: { handling: "gateway", note: "replaced by the stored item it names (an output item of the tenant's 10,000 most recent stored responses, or an item of its 10,000 most recent conversations), which is then translated; an unknown id is refused as OpenAI refuses it" },
  file_search_call: { handling: "refused", note: HOSTED_ITEM },
  web_search_call: { handling: "omitted", note: "left out of the chat messages: a search OpenAI ran for an earlier turn, whose findings the assistant message after it carries" },
  computer_call: { handling: "refused", note: HOSTED_ITEM },
  computer_call_output: { handling: "refused", note: HOSTED_ITEM },
  code_interpreter_call: { handling: "refused", note: HOSTED_ITEM },
  image_generation_call: { handling: "refused", note: HOSTED_ITEM },
  mcp_list_tools: { handling: "refused", note: HOSTED_ITEM },
  mcp_approval_request: { handling: "refused", note: HOSTED_ITEM },
  mcp_approval_response: { handling: "refused", note: HOSTED_ITEM },
  mcp_call: { handling: "refused", note: HOSTED_ITEM },
  program: { handling: "refused", note: HOSTED_ITEM },
  program_output: { handling: "refused", note: HOSTED_ITEM },
} as const satisfies Record<string, Support>; // prettier-ignore

/** Every `POST /v1/responses` parameter (`ResponseCreateParams`, `openai` v7): none goes upstream as is. */
export const PARAM_SUPPORT = {
  model: { handling: "translated", note: "`model` (a route may rewrite it)" },
  input: { handling: "translated", note: "`messages`, with the chain or conversation before it" },
  instructions: {
    handling: "translated",
    note: "the first `system` message, joined by the system and developer messages that open the input (many chat templates take one system message, first)",
  },
  max_output_tokens: { handling: "translated", note: "`max_completion_tokens` (or the client's own `max_tokens`)" },
  temperature: { handling: "translated", note: "`temperature`" },
  top_p: { handling: "translated", note: "`top_p`" },
  top_logprobs: { handling: "translated", note: "`logprobs` and `top_logprobs`" },
  include: { handling: "translated", note: "`message.output_text.logprobs` asks for `logprobs`; `reasoning.encrypted_content` seals reasoning text (as `store: false` does, see Reasoning items); the rest concern hosted tools; a value OpenAI does not know is refused" },
  text: { handling: "translated", note: "`text.format` becomes `response_format` (formats but `text`, `json_object`, `json_schema` are refused); `verbosity` is echoed (OpenAI's chat API alone takes it)" },
  reasoning: { handling: "translated", note: "`reasoning.effort` becomes `reasoning_effort`; with `reasoning.summary` (`auto`, `concise`, `detailed`) the reasoning item carries the text in `summary`, not `content` (see Reasoning items); the rest is echoed" },
  tools: { handling: "translated", note: "see the tool table" },
  tool_choice: { handling: "translated", note: "`tool_choice` (`allowed_tools` as the allowed subset of tools, its `mode` as the choice); `required` with no tool to call is refused, as OpenAI refuses it" },
  parallel_tool_calls: { handling: "translated", note: "`parallel_tool_calls`; with `false`, calls after the first (from a server that ignores it) are dropped, as OpenAI makes zero or one" },
  user: { handling: "translated", note: "`user`" },
  safety_identifier: { handling: "translated", note: "`user` (what every chat server knows)" },
  stream: { handling: "gateway", note: "the upstream is always streamed; the gateway answers as asked" },
  stream_options: { handling: "gateway", note: "the gateway's own stream" },
  store: { handling: "gateway", note: "the gateway stores; the upstream never does" },
  background: { handling: "gateway", note: "the gateway runs it in the background" },
  background_options: { handling: "gateway", note: "a `2h` or `8h` window needs `background: true`, no `stream` and Standard processing (a 400 otherwise, as OpenAI's type states); background runs start at once, whatever the window" },
  previous_response_id: { handling: "gateway", note: "the gateway expands the chain into `messages`" },
  conversation: { handling: "gateway", note: "the gateway expands the conversation into `messages`" },
  metadata: { handling: "gateway", note: "kept by the gateway (OpenAI-only on chat)" },
  context_management: { handling: "gateway", note: "`compact_threshold`: the gateway compacts the context itself when its estimate crosses the threshold" },
  max_tool_calls: { handling: "gateway", note: "it limits hosted tool calls, which chat servers do not make: echoed only" },
  truncation: { handling: "gateway", note: "echoed; the chat server's own context limit applies, and its refusal of a longer prompt is a `400` `context_length_exceeded`, as OpenAI's" },
  service_tier: { handling: "gateway", note: "not sent: the requested tier while it runs, then the tier the server reports using (OpenAI's chat API does), else `default`, OpenAI's standard tier" },
  prompt_cache_key: { handling: "gateway", note: "echoed; OpenAI-only" },
  prompt_cache_retention: { handling: "gateway", note: "echoed; OpenAI-only" },
  prompt_cache_options: { handling: "gateway", note: "`prewarm: true` is a warm-up, as `generate: false`: no model call, a completed response with no output; the rest is accepted (OpenAI-only)" },
  access_programs: { handling: "gateway", note: "echoed; OpenAI-only" },
  image: { handling: "gateway", note: "accepted; image context compression is OpenAI-only" },
  prompt: { handling: "refused", note: "prompt templates live on OpenAI's platform" },
  moderation: { handling: "refused", note: "moderated completions are OpenAI's; a chat server would answer unmoderated" },
} as const satisfies Record<string, Support>; // prettier-ignore

export type ToolType = keyof typeof TOOL_SUPPORT;
export type ItemType = keyof typeof ITEM_SUPPORT;

export const toolSupport = (type: string): Support | undefined =>
  Object.hasOwn(TOOL_SUPPORT, type) ? TOOL_SUPPORT[type as ToolType] : undefined;

export const itemSupport = (type: string): Support | undefined =>
  Object.hasOwn(ITEM_SUPPORT, type) ? ITEM_SUPPORT[type as ItemType] : undefined;

const PROTOCOL = "this model server speaks the Chat Completions protocol";

/** The 400 message for a refused tool, naming where it is (`tools[3]`) and its type. */
export const toolRefusal = (param: string, type: string): string =>
  `Invalid '${param}': tool type '${type}' is not supported: ${PROTOCOL}, and ${toolSupport(type)?.note ?? "the gateway does not know this tool type"}.`;

/** The 400 message for a refused input item, naming where it is (`input[2]`) and its type. */
export const itemRefusal = (param: string, type: string): string =>
  `Invalid '${param}': items of type '${type}' cannot be sent to this model server: ${PROTOCOL}, and ${itemSupport(type)?.note ?? "the gateway does not know this item type"}.`;

/** The 400 message for a refused create parameter. */
export const paramRefusal = (field: string): string =>
  `Unsupported parameter: '${field}' cannot be used with this model server: ${PROTOCOL}, and ${PARAM_SUPPORT[field as keyof typeof PARAM_SUPPORT]?.note ?? "the gateway cannot do it"}.`;
