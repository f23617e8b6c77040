// The compaction items this gateway makes for Chat Completions upstreams: how one is recognised
// (its `encrypted_content` format). Used by the chat messages check and the compaction modules.

import type { JsonObject } from "../responses/types";

/** Marks `encrypted_content` made by this gateway (format version 1): `gwc1.` + base64url(iv ‖ AES-GCM ciphertext). */
export const GATEWAY_COMPACTION_PREFIX = "gwc1.";

/** A `compaction` item whose content this gateway made (it may still fail to decrypt: forged or foreign). */
export const isGatewayCompaction = (item: JsonObject): boolean =>
  item.type === "compaction" &&
  typeof item.encrypted_content === "string" &&
  item.encrypted_content.startsWith(GATEWAY_COMPACTION_PREFIX);
