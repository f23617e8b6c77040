// An estimate of a request's input tokens for servers that cannot count them (Chat Completions):
// about four bytes of UTF-8 text per token, plus OpenAI's per-message overhead and a flat cost per
// image. Used by POST /v1/responses/input_tokens and by create-time compaction's threshold.

import type { InputItem } from "../responses/types";

/** OpenAI's rule of thumb for English text with its tokenizers; other tokenizers differ by tens of percent. */
const BYTES_PER_TOKEN = 4;
/** Tokens each message costs beyond its text (role and separators; OpenAI's cookbook counts 3-4). */
const PER_ITEM_TOKENS = 4;
/** What an image costs at `detail: "low"` on OpenAI's vision models (85 tokens); higher details cost more. */
const IMAGE_TOKENS = 85;

const encoder = new TextEncoder();

/** Bytes of text in a value, images counted apart (their data URLs are not text the model reads). */
function measure(value: unknown, totals: { bytes: number; images: number }): void {
  if (typeof value === "string") {
    totals.bytes += encoder.encode(value).length;
  } else if (Array.isArray(value)) {
    for (const entry of value) measure(entry, totals);
  } else if (typeof value === "object" && value !== null) {
    const object = value as Record<string, unknown>;
    if (object.type === "input_image") {
      totals.images += 1;
      return;
    }
    for (const [key, entry] of Object.entries(object)) {
      if (key === "id" || key === "call_id" || key === "type" || key === "status") continue;
      measure(entry, totals);
    }
  } else if (typeof value === "number" || typeof value === "boolean") {
    totals.bytes += String(value).length;
  }
}

export interface EstimateRequest {
  instructions: string | null;
  input: InputItem[];
  tools?: unknown;
}

/** The estimated input tokens of a request (its context, instructions and tool definitions). */
export function estimateInputTokens(request: EstimateRequest): number {
  const totals = { bytes: 0, images: 0 };
  measure(request.instructions ?? "", totals);
  measure(request.input, totals);
  if (request.tools !== undefined) measure(request.tools, totals);
  const items = request.input.length + (request.instructions ? 1 : 0);
  return Math.ceil(totals.bytes / BYTES_PER_TOKEN) + items * PER_ITEM_TOKENS + totals.images * IMAGE_TOKENS;
}
