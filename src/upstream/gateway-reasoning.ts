// The reasoning items the gateway made over Chat Completions, in a context going upstream: a chat
// server gets their text (from `content`, else `summary`, else opened from the seal), a Responses
// upstream none of them (OpenAI looks up by id, and refuses with a 404, any reasoning item without
// its own `encrypted_content`). Used where a create's context is expanded (compaction/compact.ts) and by the
// input_tokens and compact routes.

import { invalidRequest } from "../errors";
import type { InputItem } from "../responses/types";
import { isPlainObject } from "../responses/validation";
import type { ProtocolName } from "./protocol";
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
    if (text === null) throw unopened(item, index - options.ownFrom);
    return { ...item, content: [{ type: "reasoning_text", text }] };
  });
}

/** OpenAI's `invalid_encrypted_content`, naming the item's field (OpenAI names none). */
function unopened(item: InputItem, own: number) {
  const param = own >= 0 ? `input[${own}].encrypted_content` : "input";
  const id = typeof item.id === "string" ? ` '${item.id.slice(0, 128)}'` : "";
  return invalidRequest(
    `Invalid '${param}': the encrypted content of the reasoning item${id} could not be verified. It was made for another API key or by a gateway with another COMPACTION_SECRET (or none), or it was altered.`,
    param,
    "invalid_encrypted_content",
  );
}
