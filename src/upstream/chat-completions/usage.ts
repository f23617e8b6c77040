// Maps a Chat Completions `usage` object to the Responses `usage` shape, across server dialects
// (and a Responses server's partial one to the full shape), and adds what a gateway compaction call cost. Used by the stream translator (usage chunk or finish
// chunk) and thus by the completion mapper, and by compaction's summary call.

import { isPlainObject } from "../../responses/validation";
import type { JsonObject } from "../../responses/types";

export interface ResponseUsage extends JsonObject {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

const count = (...values: unknown[]): number | undefined =>
  values.find((value): value is number => typeof value === "number" && Number.isFinite(value));

const details = (value: unknown): JsonObject => (isPlainObject(value) ? value : {});

/**
 * `usage` is the chunk's (or body's) usage object; `timings` is llama.cpp's sibling object, whose
 * `cache_n` (prompt tokens served from the KV cache) stands in when no cached count is given.
 * Cached tokens come from `prompt_tokens_details.cached_tokens` (OpenAI, vLLM, Groq) or DeepSeek's
 * `prompt_cache_hit_tokens`; reasoning tokens from `completion_tokens_details.reasoning_tokens`.
 */
export function usageFromChat(usage: JsonObject, timings?: unknown): ResponseUsage {
  const input = count(usage.prompt_tokens) ?? 0;
  const output = count(usage.completion_tokens) ?? 0;
  const cached =
    count(
      details(usage.prompt_tokens_details).cached_tokens,
      usage.prompt_cache_hit_tokens,
      details(timings).cache_n,
    ) ?? 0;
  return {
    input_tokens: input,
    // Chat servers report no cache writes (OpenAI's chat API included); 0 is OpenAI's own default.
    input_tokens_details: { cached_tokens: Math.min(cached, input), cache_write_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: count(details(usage.completion_tokens_details).reasoning_tokens) ?? 0 },
    total_tokens: count(usage.total_tokens) ?? input + output,
  };
}

/** A Responses server's `usage` in the full shape (counts it leaves out are 0): a summary call's, or a turn's. */
export const usageFromResponses = (usage: unknown): ResponseUsage => {
  const given = details(usage);
  return usageFromChat({
    prompt_tokens: given.input_tokens,
    prompt_tokens_details: { cached_tokens: details(given.input_tokens_details).cached_tokens },
    completion_tokens: given.output_tokens,
    completion_tokens_details: { reasoning_tokens: details(given.output_tokens_details).reasoning_tokens },
    total_tokens: given.total_tokens,
  });
};

/** The upstream's usage plus what the gateway's compaction call cost (a fresh object). */
export function withCompactionUsage(
  usage: ResponseUsage | null,
  compaction: JsonObject | undefined,
): ResponseUsage | null {
  if (compaction === undefined) return structuredClone(usage);
  const extra = usageFromChat({
    prompt_tokens: compaction.input_tokens,
    prompt_tokens_details: { cached_tokens: details(compaction.input_tokens_details).cached_tokens },
    completion_tokens: compaction.output_tokens,
    completion_tokens_details: { reasoning_tokens: details(compaction.output_tokens_details).reasoning_tokens },
    total_tokens: compaction.total_tokens,
  });
  const base = usage ?? usageFromChat({});
  // Both calls' counts, details too: the summary's cached and reasoning tokens are within its
  // input and output tokens, which the sums hold.
  return {
    input_tokens: base.input_tokens + extra.input_tokens,
    input_tokens_details: {
      cached_tokens: base.input_tokens_details.cached_tokens + extra.input_tokens_details.cached_tokens,
      cache_write_tokens: base.input_tokens_details.cache_write_tokens,
    },
    output_tokens: base.output_tokens + extra.output_tokens,
    output_tokens_details: {
      reasoning_tokens: base.output_tokens_details.reasoning_tokens + extra.output_tokens_details.reasoning_tokens,
    },
    total_tokens: base.total_tokens + extra.total_tokens,
  };
}
