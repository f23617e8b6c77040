// The shapes the console reads from the gateway (loose, like the wire: unknown fields pass through).

export interface Item {
  type: string;
  id?: string;
  [field: string]: unknown;
}

export interface Usage {
  input_tokens?: number;
  output_tokens?: number;
  total_tokens?: number;
  input_tokens_details?: { cached_tokens?: number };
  output_tokens_details?: { reasoning_tokens?: number };
}

export interface ResponseObject {
  id: string;
  object: "response";
  created_at: number;
  completed_at?: number | null;
  status: string;
  model: string;
  output: Item[];
  usage?: Usage | null;
  error?: { code?: string; message?: string } | null;
  incomplete_details?: { reason?: string } | null;
  previous_response_id?: string | null;
  conversation?: { id: string } | null;
  metadata?: Record<string, string> | null;
  background?: boolean | null;
  /** `false` on a listed foreground response: recorded under RECORD_STORE_FALSE, its client asked for none. */
  store?: boolean | null;
  /** The tier it ran at as the upstream reported it (while it runs, the one asked for). */
  service_tier?: string | null;
  instructions?: unknown;
  tenant_id?: string;
}

export const TERMINAL = new Set(["completed", "failed", "incomplete", "cancelled"]);

/** The text of a Response's messages, as the SDK's `output_text` would give it. */
export function outputText(response: { output?: Item[] }): string {
  let text = "";
  for (const item of response.output ?? [])
    if (item.type === "message" && Array.isArray(item.content))
      for (const part of item.content as { type?: string; text?: unknown }[])
        if (part.type === "output_text" && typeof part.text === "string") text += part.text;
  return text;
}

/**
 * A list row's preview: the messages' text, or their refusals as the detail page words them ("Refusal:
 * …"), so a refused response's row is not blank. `output_text` leaves refusals out.
 */
export function previewText(response: { output?: Item[] }): string {
  const text = outputText(response);
  if (text !== "") return text;
  const refusals: string[] = [];
  for (const item of response.output ?? [])
    if (item.type === "message" && Array.isArray(item.content))
      for (const part of item.content as { type?: string; refusal?: unknown }[])
        if (part.type === "refusal" && typeof part.refusal === "string") refusals.push(part.refusal);
  return refusals.length === 0 ? "" : `Refusal: ${refusals.join(" ")}`;
}
