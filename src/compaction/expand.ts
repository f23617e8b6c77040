// Expands the compaction items this gateway made back into what they stand for, before a context
// goes upstream: the latest one becomes its summary, and of the items before it only the messages
// of the user, system and developer remain (OpenAI's compacted form: "all user messages, followed
// by a single compaction item"). Used where the upstream body is built, for either protocol.

import { invalidRequest } from "../errors";
import type { InputItem } from "../responses/types";
import { compactionSecret, isGatewayCompaction, open } from "./seal";

export interface ExpandOptions {
  tenantId: string;
  /** `COMPACTION_SECRET` (null: unset, which fails only if a gateway item is present). */
  secret: string | null;
  /** Index in the context of the request's own first input item: errors name `input[i]` from there. */
  ownFrom: number;
}

/** The text a compaction item's summary is given to the model as. */
export const summaryText = (summary: string): string =>
  `[Summary of the earlier conversation, written when it was compacted]\n${summary}`;

/** Messages of these roles survive compaction; everything else before the item is in its summary. */
const KEPT_ROLES: ReadonlySet<unknown> = new Set(["user", "system", "developer"]);

/**
 * The summary messages expansion made. A context compacted again holds its earlier summary as a user
 * message; the new summary was written from it, so it is not kept beside the new one (a later turn
 * expands from the stored items, where it is a compaction item, and would not see it either).
 */
const expandedSummaries = new WeakSet<InputItem>();

const isKeptMessage = (item: InputItem): boolean =>
  (item.type === undefined || item.type === "message") && KEPT_ROLES.has(item.role) && !expandedSummaries.has(item);

/** The items of a context that a compaction item placed after them does not replace. */
export const keptMessages = (items: InputItem[]): InputItem[] => items.filter(isKeptMessage);

/**
 * `input` with its gateway-made compaction items expanded (the same array when it has none). An
 * item that does not open for this tenant and secret, forged, altered or another tenant's, is a
 * 400 naming it; items made elsewhere (OpenAI's) are left for the protocol to pass on or refuse.
 */
export async function expandCompactionItems(input: InputItem[], options: ExpandOptions): Promise<InputItem[]> {
  let latest = -1;
  input.forEach((item, index) => {
    if (isGatewayCompaction(item)) latest = index;
  });
  if (latest === -1) return input;
  const secret = compactionSecret(options.secret);
  const item = input[latest] as InputItem;
  const payload = await open(item.encrypted_content as string, options.tenantId, secret);
  if (payload === null) {
    const own = latest - options.ownFrom;
    const param = own >= 0 ? `input[${own}]` : "input";
    throw invalidRequest(
      `Invalid '${param}': the compaction item${typeof item.id === "string" ? ` '${item.id.slice(0, 128)}'` : ""} could not be decrypted. It was made for another API key or by a gateway with another COMPACTION_SECRET, or it was altered.`,
      param,
      "invalid_encrypted_content",
    );
  }
  const summary: InputItem = { type: "message", role: "user", content: summaryText(payload.summary) };
  expandedSummaries.add(summary);
  return [...keptMessages(input.slice(0, latest)), summary, ...input.slice(latest + 1)];
}
