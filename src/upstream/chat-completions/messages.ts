// Lowers Responses input items (the full context: earlier turns, then this request) to chat
// `messages`. Used by the request builder, and as a dry run by `validate` (400s before storage).

import { isGatewayCompaction } from "../../compaction/seal";
import { invalidRequest } from "../../errors";
import type { InputItem, JsonObject } from "../../responses/types";
import { invalidType, isPlainObject, missing } from "../../responses/validation";
import { isGatewayReasoning } from "../reasoning-seal";
import { clientToolOfItem } from "./client-tools";
import { itemRefusal, itemSupport } from "./support";
import type { ChatToolSet } from "./tool-set";
import { checkTool } from "./tools";

/** Separator when several text parts become one string (vLLM joins text parts the same way). */
const PART_SEPARATOR = "\n";

/** Separator when several leading system messages become one. */
const SYSTEM_SEPARATOR = "\n\n";

const IMAGE_DETAILS: ReadonlySet<string> = new Set(["auto", "low", "high"]);

const notSupported = (what: string, param: string) =>
  invalidRequest(
    `${what} cannot be sent to this model server: it speaks the Chat Completions protocol.`,
    param,
    "unsupported_value",
  );

const partsOf = (content: unknown): unknown[] => (Array.isArray(content) ? content : []);

function textOf(part: JsonObject): string | undefined {
  if (part.type === "input_text" || part.type === "output_text" || part.type === "text")
    return typeof part.text === "string" ? part.text : "";
  return undefined;
}

/** System and developer content: text only, as one string (the form every server accepts). */
function systemContent(content: unknown, param: string): string {
  if (typeof content === "string") return content;
  return partsOf(content)
    .map((part, index) => {
      const text = isPlainObject(part) ? textOf(part) : undefined;
      if (text === undefined)
        throw notSupported(`A '${describe(part)}' part in a system message`, `${param}[${index}]`);
      return text;
    })
    .join(PART_SEPARATOR);
}

const describe = (part: unknown): string => (isPlainObject(part) ? String(part.type) : typeof part);

function userPart(part: unknown, param: string): JsonObject {
  if (!isPlainObject(part)) throw notSupported(`A '${describe(part)}' content part`, param);
  const text = textOf(part);
  if (text !== undefined) return { type: "text", text };
  if (part.type === "input_image") {
    if (typeof part.image_url !== "string" || part.image_url === "") {
      if (typeof part.file_id === "string" && part.file_id !== "")
        throw notSupported(
          "An image given by 'file_id' (use 'image_url' with a URL or a data URL)",
          `${param}.file_id`,
        );
      if (part.image_url === undefined || part.image_url === null || part.image_url === "")
        throw missing(`${param}.image_url`);
      throw invalidType(`${param}.image_url`, "a string", part.image_url);
    }
    const detail = typeof part.detail === "string" && IMAGE_DETAILS.has(part.detail) ? part.detail : undefined;
    return {
      type: "image_url",
      image_url: detail === undefined ? { url: part.image_url } : { url: part.image_url, detail },
    };
  }
  if (part.type === "input_file") {
    if (typeof part.file_data === "string" && part.file_data !== "") {
      const file: JsonObject = { file_data: part.file_data };
      if (typeof part.filename === "string") file.filename = part.filename;
      return { type: "file", file };
    }
    // A file id can only name a file the upstream itself stores (OpenAI's chat API accepts it).
    if (typeof part.file_id === "string" && part.file_id !== "")
      return { type: "file", file: { file_id: part.file_id } };
    if (typeof part.file_url === "string" && part.file_url !== "")
      throw notSupported(
        "A file given by 'file_url' (send its bytes in 'file_data' as a data URL)",
        `${param}.file_url`,
      );
    // A part with no file at all (or file_data of another type) is the caller's mistake, not file_url's.
    if (part.file_data === undefined || part.file_data === null || part.file_data === "")
      throw missing(`${param}.file_data`);
    throw invalidType(`${param}.file_data`, "a string", part.file_data);
  }
  throw notSupported(`A '${describe(part)}' content part`, param);
}

/** User content: a string when it is all text (the widest-accepted form), else chat content parts. */
function userContent(content: unknown, param: string): string | JsonObject[] {
  if (typeof content === "string") return content;
  const parts = partsOf(content).map((part, index) => userPart(part, `${param}[${index}]`));
  if (parts.every((part) => part.type === "text")) return parts.map((part) => part.text).join(PART_SEPARATOR);
  return parts;
}

/**
 * Assistant content as one string. A refusal part becomes text: it is what the assistant said, and
 * the chat `refusal` message field is OpenAI-only (other servers reject or drop it).
 */
function assistantText(content: unknown, param: string): string {
  if (typeof content === "string") return content;
  return partsOf(content)
    .map((part, index) => {
      if (isPlainObject(part) && part.type === "refusal") return typeof part.refusal === "string" ? part.refusal : "";
      const text = isPlainObject(part) ? textOf(part) : undefined;
      if (text === undefined)
        throw notSupported(`A '${describe(part)}' part in an assistant message`, `${param}[${index}]`);
      return text;
    })
    .join(PART_SEPARATOR);
}

/** A tool result: a string, or its text parts joined (chat `tool` messages take text only). */
function toolOutput(output: unknown, param: string): string {
  if (typeof output === "string") return output;
  if (!Array.isArray(output)) return JSON.stringify(output ?? "");
  return output
    .map((part, index) => {
      const text = isPlainObject(part) ? textOf(part) : undefined;
      if (text === undefined) throw notSupported(`A '${describe(part)}' part in a tool output`, `${param}[${index}]`);
      return text;
    })
    .join(PART_SEPARATOR);
}

const callIdOf = (item: InputItem, fallback: string): string =>
  typeof item.call_id === "string" && item.call_id !== "" ? item.call_id : fallback;

function toolCall(item: InputItem, tools: ChatToolSet, param: string): JsonObject {
  const namespace = typeof item.namespace === "string" ? item.namespace : undefined;
  const name = typeof item.name === "string" ? item.name : "";
  if (item.type === "custom_tool_call") {
    const wire = tools.wireNameOf("custom", name, namespace);
    return chatCall(item.call_id, wire, JSON.stringify({ input: item.input ?? "" }));
  }
  if (item.type === "function_call")
    // A call without arguments is `{}`, as the gateway's own output writes it: templates parse them as JSON.
    return chatCall(
      item.call_id,
      tools.wireNameOf("function", name, namespace),
      item.arguments === "" ? "{}" : item.arguments,
    );
  if (item.type === "tool_search_call") {
    const wire = tools.wireNameOf("tool_search", "tool_search");
    return chatCall(callIdOf(item, searchCallId(item, param)), wire, JSON.stringify(item.arguments ?? {}));
  }
  const client = clientToolOfItem(String(item.type));
  if (client === undefined) throw notSupported(`An input item of type '${String(item.type)}'`, param);
  return chatCall(
    item.call_id,
    tools.wireNameOf(client.type, client.type),
    JSON.stringify(client.tool.argumentsOf(item)),
  );
}

const chatCall = (id: unknown, name: string, args: unknown): JsonObject => ({
  id,
  type: "function",
  function: { name, arguments: args },
});

/** A server-executed tool search has no call id: its call and output are paired by the call's id. */
const searchCallId = (item: InputItem, param: string): string =>
  `call_search_${typeof item.id === "string" && item.id !== "" ? item.id : param.replace(/\W/g, "")}`;

/** What a `tool_search_output` loaded, as the tool search function's result. */
function loadedToolsText(item: InputItem, tools: ChatToolSet): string {
  const names = (Array.isArray(item.tools) ? item.tools : []).flatMap((tool) => {
    if (!isPlainObject(tool)) return [];
    const members = tool.type === "namespace" && Array.isArray(tool.tools) ? tool.tools.filter(isPlainObject) : [tool];
    const namespace = tool.type === "namespace" && typeof tool.name === "string" ? tool.name : undefined;
    return members.flatMap((member) =>
      typeof member.name === "string"
        ? [
            {
              name: tools.wireNameOf(member.type === "custom" ? "custom" : "function", member.name, namespace),
              description: member.description ?? null,
            },
          ]
        : [],
    );
  });
  return JSON.stringify({ loaded_tools: names });
}

/** Loaded tool lists must hold only tools a chat server can be offered (a 400 naming the tool otherwise). */
function checkLoadedTools(item: InputItem, param: string): void {
  (Array.isArray(item.tools) ? item.tools : []).forEach((tool, index) => checkTool(tool, `${param}.tools[${index}]`));
}

const textsOf = (parts: unknown, type: string): string =>
  partsOf(parts)
    .map((part) => (isPlainObject(part) && part.type === type && typeof part.text === "string" ? part.text : ""))
    .join("");

/**
 * The raw reasoning text of a `reasoning` item: its `content[].reasoning_text`, else, for an item
 * this gateway made, its summary (the raw text, put there for a create that asked for summaries).
 * Another model's summary is not its reasoning: "" then.
 */
function reasoningOf(item: InputItem): string {
  const raw = textsOf(item.content, "reasoning_text");
  if (raw !== "" || !isGatewayReasoning(item)) return raw;
  return textsOf(item.summary, "summary_text");
}

/**
 * `instructions` become the first message with role `system` (joined by the input's leading system
 * and developer messages: see oneLeadingSystem), and `developer` messages become `system` too:
 * `developer` is an OpenAI-only role (OpenAI itself treats `system` as developer for reasoning
 * models), while vLLM/llama.cpp chat templates, Ollama, DeepSeek and Mistral reject it or render it
 * as plain text.
 *
 * Reasoning items are dropped (summaries and `encrypted_content` mean nothing to another server)
 * unless they carry raw `reasoning_text` or are the gateway's own, whose summary is the raw text
 * (its sealed items have theirs opened into content before, see gateway-reasoning.ts): that text
 * is attached as `reasoning_content` to the assistant message that follows, the convention
 * DeepSeek (thinking with tool calls) and vLLM read.
 * Consecutive `function_call` / `custom_tool_call` items (and an assistant message right before
 * them) become one assistant message with `tool_calls`; each output becomes a `tool` message.
 */
export function toMessages(
  instructions: string | null,
  input: InputItem[],
  tools: ChatToolSet,
  /** Takes the reasoning items whose text went on an assistant message (the others are withheld). */
  sentReasoning?: InputItem[],
): JsonObject[] {
  const messages: JsonObject[] = [];
  if (instructions !== null && instructions !== "") messages.push({ role: "system", content: instructions });
  /** The assistant message that following tool calls join (only while it is the last message). */
  let assistant: JsonObject | undefined;
  let reasoning = "";
  /** The items `reasoning` holds the text of. */
  let reasoningItems: InputItem[] = [];
  /** The call id of the last server-executed tool search (its output names none). */
  let searchCall: string | undefined;
  /** Calls of the last assistant message that no `tool` message has answered yet. */
  const unanswered = new Set<unknown>();
  /**
   * System and developer messages that came between calls and their outputs: they go after the
   * outputs, as chat servers (and templates) want an assistant's `tool_calls` answered right after it.
   */
  let held: JsonObject[] = [];
  const release = () => {
    unanswered.clear();
    messages.push(...held);
    held = [];
  };

  const pushAssistant = (message: JsonObject) => {
    release();
    if (reasoning !== "") {
      message.reasoning_content = reasoning;
      sentReasoning?.push(...reasoningItems);
    }
    reasoning = "";
    reasoningItems = [];
    messages.push(message);
    assistant = message;
  };
  const push = (message: JsonObject) => {
    if (message.role !== "tool") release();
    reasoning = "";
    reasoningItems = [];
    assistant = undefined;
    messages.push(message);
    if (message.role !== "tool") return;
    unanswered.delete(message.tool_call_id);
    if (unanswered.size === 0) release();
  };
  const pushCall = (call: JsonObject) => {
    if (assistant !== undefined) {
      const calls = (assistant.tool_calls ??= []) as JsonObject[];
      calls.push(call);
    } else {
      pushAssistant({ role: "assistant", content: null, tool_calls: [call] });
    }
    unanswered.add(call.id);
  };

  input.forEach((item, index) => {
    const param = `input[${index}]`;
    const type = item.type ?? (item.role !== undefined ? "message" : undefined);
    switch (type) {
      case "message":
        if (item.role === "assistant")
          pushAssistant({ role: "assistant", content: assistantText(item.content, `${param}.content`) });
        else if (item.role === "user") push({ role: "user", content: userContent(item.content, `${param}.content`) });
        else if (unanswered.size > 0)
          held.push({ role: "system", content: systemContent(item.content, `${param}.content`) });
        else push({ role: "system", content: systemContent(item.content, `${param}.content`) });
        return;
      case "function_call":
      case "custom_tool_call":
      case "local_shell_call":
      case "shell_call":
      case "apply_patch_call":
        pushCall(toolCall(item, tools, param));
        return;
      case "tool_search_call": {
        const call = toolCall(item, tools, param);
        searchCall = call.id as string;
        pushCall(call);
        return;
      }
      case "function_call_output":
      case "custom_tool_call_output":
        push({ role: "tool", tool_call_id: item.call_id, content: toolOutput(item.output, `${param}.output`) });
        return;
      case "local_shell_call_output":
      case "shell_call_output":
      case "apply_patch_call_output": {
        const client = clientToolOfItem(item.type as string);
        push({
          role: "tool",
          tool_call_id: callIdOf(item, String(item.id)),
          content: client?.tool.outputText(item) ?? "",
        });
        return;
      }
      case "tool_search_output":
        checkLoadedTools(item, param);
        push({
          role: "tool",
          tool_call_id: callIdOf(item, searchCall ?? searchCallId(item, param)),
          content: loadedToolsText(item, tools),
        });
        return;
      case "additional_tools":
        // Its tools are in the chat `tools` (see ChatToolSet.from); nothing is said in the conversation.
        checkLoadedTools(item, param);
        return;
      case "configuration_update":
        // Applied to the chat request itself (see the request builder).
        return;
      case "web_search_call":
        // A search run by OpenAI for an earlier turn (another model of the chain): its findings are in
        // the assistant message after it, and a chat server has no form for the call itself.
        return;
      case "reasoning": {
        // Only reasoning that is sent starts a new assistant message: a summary-only or encrypted
        // item (OpenAI's) between an assistant message and its calls leaves them one message.
        const text = reasoningOf(item);
        if (text === "") return;
        assistant = undefined;
        reasoning += text;
        reasoningItems.push(item);
        return;
      }
      case "compaction_trigger":
        // The gateway compacts for it (compactIfNeeded); no model is asked to answer it. `validate`
        // keeps it last in a request; an earlier request's, in a chain, is spent.
        return;
      case "compaction":
        // A gateway-made item is expanded into its summary before the context gets here; only
        // `validate`'s dry run over the request's own input sees one. Anything else is opaque.
        if (isGatewayCompaction(item)) return;
        throw foreignCompaction(param);
      default:
        throw refused(param, typeof type === "string" ? type : "unknown");
    }
  });
  release();
  return oneLeadingSystem(messages);
}

/**
 * The system messages that open the conversation (the instructions, then the input's leading
 * system and developer messages, as Codex CLI sends them) become one: many chat templates take a
 * single system message, first, and raise on any other ("System message must be at the beginning."
 * in Qwen 3.5/3.6's, which vLLM, llama.cpp and Ollama answer with a 400 or 500). A system or
 * developer message later in the conversation (Codex's mid-session developer messages, hook
 * context) would raise the same, so it goes as a `user` message in its place: moving it to the
 * top would change what it follows and the prompt's start, which the server's prefix cache keys on.
 */
function oneLeadingSystem(messages: JsonObject[]): JsonObject[] {
  let count = 0;
  while (messages[count]?.role === "system") count++;
  const rest = messages
    .slice(count)
    .map((message) => (message.role === "system" ? { role: "user", content: message.content } : message));
  if (count < 2) return [...messages.slice(0, count), ...rest];
  const content = messages
    .slice(0, count)
    .map((message) => message.content as string)
    .join(SYSTEM_SEPARATOR);
  return [{ role: "system", content }, ...rest];
}

/**
 * A compaction item another service made (OpenAI's): sealed for it, it cannot be read here. OpenAI's
 * code for content it cannot decrypt, on which Codex drops its compaction items and tries again.
 */
const foreignCompaction = (param: string) =>
  invalidRequest(
    `Invalid '${param}': this 'compaction' item was not made by this gateway (its encrypted content is another service's, as OpenAI's), so its summary cannot be read and sent to a model server that speaks the Chat Completions protocol. Leave it out, or compact again here.`,
    param,
    "invalid_encrypted_content",
  );

const refused = (param: string, type: string) =>
  invalidRequest(
    itemRefusal(param, type),
    itemSupport(type) === undefined ? `${param}.type` : param,
    "unsupported_value",
  );
