// Renders input and output items as a person reads them: message text (a long one folded), refusals,
// tool calls with their arguments and their outputs (text, or content parts as a message's: an image
// is "[image]", not its data URL), reasoning summaries, compactions (their sealed summary's size);
// anything else as JSON. An item cut short or still being written says so (its status), as its text alone does not.

import { Json, Status, text } from "./common";
import { LongText } from "./long-text";
import type { Item } from "./response-model";

/** A JSON string shown indented when it parses, as it came when it does not. */
function pretty(value: unknown): string {
  if (typeof value !== "string") return JSON.stringify(value, null, 2);
  try {
    return JSON.stringify(JSON.parse(value), null, 2);
  } catch {
    return value;
  }
}

interface Part {
  type?: string;
  text?: unknown;
  refusal?: unknown;
  image_url?: unknown;
  filename?: unknown;
}

function Content({ content }: { content: unknown }) {
  if (typeof content === "string") return <LongText value={content} />;
  if (!Array.isArray(content)) return null;
  return (
    <>
      {(content as Part[]).map((part) => {
        if ((part.type === "output_text" || part.type === "input_text") && typeof part.text === "string")
          return <LongText value={part.text} />;
        if (part.type === "refusal")
          return (
            <div class="refusal">
              <strong>Refusal:</strong> {text(part.refusal)}
            </div>
          );
        if (part.type === "input_image") return <div class="muted">[image]</div>;
        if (part.type === "input_file") return <div class="muted">[file {text(part.filename)}]</div>;
        return <Json value={part} />;
      })}
    </>
  );
}

/** An item's status when it is not simply done: cut short (a failed or incomplete response's) or still written. */
function ItemStatus({ item }: { item: Item }) {
  if (typeof item.status !== "string" || item.status === "completed") return null;
  return (
    <>
      {" "}
      <Status status={item.status} />
    </>
  );
}

function ItemView({ item, calls }: { item: Item; calls: Map<string, Item> }) {
  switch (item.type) {
    case "message":
      return (
        <div class={`item message role-${text(item.role)}`}>
          <div class="item-head">
            {text(item.role) || "message"}
            <ItemStatus item={item} />
          </div>
          <Content content={item.content} />
        </div>
      );
    case "function_call":
    case "custom_tool_call":
      return (
        <div class="item tool-call">
          <div class="item-head">
            Tool call <code>{text(item.name)}</code> <span class="muted">{text(item.call_id)}</span>
            <ItemStatus item={item} />
          </div>
          <pre class="arguments">{pretty(item.type === "function_call" ? item.arguments : item.input)}</pre>
        </div>
      );
    case "function_call_output":
    case "custom_tool_call_output": {
      const call = calls.get(text(item.call_id));
      return (
        <div class="item tool-output">
          <div class="item-head">
            Tool output{call === undefined ? "" : " of "}
            {call !== undefined && <code>{text(call.name)}</code>} <span class="muted">{text(item.call_id)}</span>
            <ItemStatus item={item} />
          </div>
          {Array.isArray(item.output) ? <Content content={item.output} /> : <pre>{pretty(item.output)}</pre>}
        </div>
      );
    }
    case "reasoning": {
      const summary = Array.isArray(item.summary) ? (item.summary as { text?: string }[]) : [];
      // Open-weight models and chat servers send the reasoning itself (`reasoning_text`), not a summary.
      const raw = Array.isArray(item.content)
        ? (item.content as Part[]).filter((part) => part.type === "reasoning_text" && typeof part.text === "string")
        : [];
      return (
        <div class="item reasoning">
          <div class="item-head">
            Reasoning
            <ItemStatus item={item} />
          </div>
          {summary.length === 0 && raw.length === 0 ? (
            <div class="muted">No summary{item.encrypted_content ? " (encrypted content kept)" : ""}.</div>
          ) : (
            <>
              {summary.map((part) => (
                <div class="text">{part.text ?? ""}</div>
              ))}
              {raw.map((part) => (
                <div class="text reasoning-text">{text(part.text)}</div>
              ))}
            </>
          )}
        </div>
      );
    }
    case "compaction": {
      // What it is, not what it holds: the summary is sealed (for the model, or the gateway's key),
      // and its blob, often tens of KB, means nothing to a reader.
      const sealed = text(item.encrypted_content);
      return (
        <div class="item compaction">
          <div class="item-head">
            Compaction <span class="muted mono">{text(item.id)}</span>
            <ItemStatus item={item} />
          </div>
          <div class="muted">
            Sealed summary of the earlier context, {sealed.length.toLocaleString("en-US")} characters (not readable
            here).
          </div>
        </div>
      );
    }
    default:
      return (
        <div class="item other">
          <div class="item-head">
            {item.type}
            <ItemStatus item={item} />
          </div>
          <Json value={item} />
        </div>
      );
  }
}

/** Items in order; a tool output names the call it answers when that call is among `context`. */
export function Items({ items, context = [] }: { items: Item[]; context?: Item[] }) {
  const calls = new Map<string, Item>();
  for (const item of [...context, ...items])
    if (typeof item.call_id === "string" && (item.type === "function_call" || item.type === "custom_tool_call"))
      calls.set(item.call_id, item);
  if (items.length === 0) return <p class="muted">None.</p>;
  return (
    <div class="items">
      {items.map((item, index) => (
        <ItemView key={item.id ?? index} item={item} calls={calls} />
      ))}
    </div>
  );
}
