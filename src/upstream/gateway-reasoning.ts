// The reasoning items the gateway made over Chat Completions, in a context going upstream: a chat
// server gets their text (from `content`, else `summary`, else opened from the seal), a Responses
// upstream none of them (OpenAI looks up by id, and refuses with a 404, any reasoning item without
// its own `encrypted_content`). Used where a create's context is expanded (compaction/compact.ts) and by the
// input_tokens and compact routes.

import type { InputItem } from "../responses/types";
import { isPlainObject } from "../responses/validation";
import type { ProtocolName } from "./protocol";
import { sealNotOpened } from "../sealing";
import { isGatewayReasoning, isSealedReasoning, openReasoning } from "./reasoning-seal";

export interface GatewayReasoningOptions {
  tenantId: string;
  /** `COMPACTION_SECRET` (null: unset; a sealed item then does not open). */
  secret: string | null;
  /** Index in the context of the request's own first input item: errors name `input[i]` from there. */
  ownFrom: number;
}

const hasPart = (parts: unknown, type: string, filled: boolean): boolean =>
  Array.isArray(parts) &&
  parts.some(
    (part) =>
      isPlainObject(part) && part.type === type && typeof part.text === "string" && (!filled || part.text !== ""),
  );

/**
 * The item carries its text itself: as `content` (raw), or as a `summary` (a create that asked for
 * summaries); an empty summary part (a client's placeholder) carries none.
 */
const hasText = (item: InputItem): boolean =>
  hasPart(item.content, "reasoning_text", false) || hasPart(item.summary, "summary_text", true);

/**
 * `input` as an upstream of `protocol` can take it (the same array when it holds no gateway
 * reasoning). Other reasoning items are left alone: vLLM's own `/responses` chains carry their
 * reasoning as `reasoning_text` content and need it back.
 */
export function gatewayReasoningFor(
  protocol: ProtocolName,
  input: InputItem[],
  options: GatewayReasoningOptions,
): InputItem[] {
  if (!input.some(isGatewayReasoning)) return input;
  if (protocol === "responses") return input.filter((item) => !isGatewayReasoning(item));
  return input.map((item, index) => {
    // A stored chain's item holds its text; a client's store:false copy holds only the seal (or the
    // summary the client kept: the AI SDK sends back the text it showed).
    if (!isGatewayReasoning(item) || hasText(item) || !isSealedReasoning(item.encrypted_content)) return item;
    const text = openReasoning(item.encrypted_content, options.tenantId, options.secret);
    if (text === null) {
      const own = index - options.ownFrom;
      throw sealNotOpened(own >= 0 ? `input[${own}].encrypted_content` : "input", "reasoning", item.id);
    }
    return { ...item, content: [{ type: "reasoning_text", text }] };
  });
}
