// Splits a leading `<think>…</think>` block off a chat answer's `content`: the reasoning of models
// served without a reasoning parser (DeepSeek-R1 distills, QwQ, Qwen3 on vLLM without
// `--reasoning-parser`, llama.cpp with `--reasoning-format none`, older Ollama). Used by the stream
// translator, chunk by chunk: tags may be split anywhere across chunks. On a route whose template
// writes the opening tag into the prompt (`template_opens_think`), content starts as reasoning.

const OPEN = "<think>";
const CLOSE = "</think>";

/** What one piece of content holds: reasoning first, then answer text (either may be ""). */
export interface ThinkSplit {
  reasoning: string;
  answer: string;
}

/** Length of the longest end of `text` that `tag` starts with (a tag maybe cut by the chunk's end). */
function partialTagAt(text: string, tag: string): number {
  for (let length = Math.min(text.length, tag.length - 1); length > 0; length--)
    if (tag.startsWith(text.slice(text.length - length))) return length;
  return 0;
}

/**
 * Only a block that opens the content counts (after whitespace): a model that begins its answer
 * with `<think>` is thinking, while a tag later in an answer is text about tags. The whitespace
 * around the reasoning and before the answer (`<think>\n…\n</think>\n\n`) is the template's, not
 * the model's words, and is dropped; an empty block (Qwen3 with thinking off) leaves no reasoning.
 */
export class ThinkTagSplitter {
  #state: "start" | "thinking" | "after" | "answer" = "start";
  /** Content not yet classified: the opening whitespace and a maybe-tag, or a maybe-`</think>`. */
  #held = "";
  /** Whether any reasoning has been returned (its leading whitespace is dropped until then). */
  #reasoned = false;
  /** The chat template wrote the opening `<think>` into the prompt: content starts as reasoning. */
  readonly #open: boolean;

  constructor(options: { open?: boolean } = {}) {
    this.#open = options.open === true;
  }

  /** Whether the content opened with a think block (else all of it is answer, as it came). */
  get thought(): boolean {
    return this.#state === "thinking" || this.#state === "after" || this.#reasoned;
  }

  push(text: string): ThinkSplit {
    const out: ThinkSplit = { reasoning: "", answer: "" };
    if (this.#state === "answer") {
      out.answer = text;
      return out;
    }
    let rest = this.#held + text;
    this.#held = "";
    if (this.#state === "start") {
      const trimmed = rest.trimStart();
      if (trimmed.length < OPEN.length && OPEN.startsWith(trimmed)) {
        this.#held = rest;
        return out;
      }
      if (trimmed.startsWith(OPEN)) rest = trimmed.slice(OPEN.length);
      else if (!this.#open) {
        this.#state = "answer";
        out.answer = rest;
        return out;
      }
      this.#state = "thinking";
    }
    if (this.#state === "thinking") {
      const end = rest.indexOf(CLOSE);
      if (end === -1) {
        // Held back: a maybe-`</think>` at the end, and the whitespace before it (the template's).
        let cut = rest.length - partialTagAt(rest, CLOSE);
        while (cut > 0 && /\s/.test(rest.charAt(cut - 1))) cut--;
        this.#held = rest.slice(cut);
        out.reasoning = this.#reasoning(rest.slice(0, cut));
        return out;
      }
      out.reasoning = this.#reasoning(rest.slice(0, end).trimEnd());
      this.#state = "after";
      rest = rest.slice(end + CLOSE.length);
    }
    // After `</think>`: the answer starts at its first non-whitespace character.
    rest = rest.trimStart();
    if (rest !== "") {
      this.#state = "answer";
      out.answer = rest;
    }
    return out;
  }

  /**
   * Something other than content came (a tool call, reasoning in its own field) or the stream
   * ended: what was held back is what it was. Content that had not opened a block by then is the answer.
   */
  flush(): ThinkSplit {
    const held = this.#held;
    this.#held = "";
    if (this.#state === "thinking" || (this.#state === "start" && this.#open && held.trim() !== ""))
      return { reasoning: this.#reasoning(held), answer: "" };
    if (this.#state === "start") this.#state = "answer";
    return { reasoning: "", answer: held };
  }

  #reasoning(text: string): string {
    if (this.#reasoned) return text;
    const trimmed = text.trimStart();
    if (trimmed !== "") this.#reasoned = true;
    return trimmed;
  }
}

/** A whole answer without the think block that opens it (a compaction summary's text). */
export function withoutThinkBlock(text: string, options: { open?: boolean } = {}): string {
  const splitter = new ThinkTagSplitter(options);
  return splitter.push(text).answer + splitter.flush().answer;
}
