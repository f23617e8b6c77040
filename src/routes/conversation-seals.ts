// The sealed items of a conversation's new items checked as they are added: a reasoning or
// compaction item whose value carries this gateway's mark but does not open for the tenant (forged,
// altered, another tenant's or another secret's) would otherwise be stored, and every later turn of
// the conversation refused with a 400 naming no item the client sent. Used by conversations.ts and
// conversation-items.ts.

import { isGatewayCompaction, open } from "../compaction/seal";
import type { InputItem } from "../responses/types";
import { isGatewayReasoning, isSealedReasoning, openReasoning } from "../upstream/reasoning-seal";
import { sealNotOpened, usableSecret } from "../sealing";

/** Refuses the first of `items` that carries the gateway's seal and does not open (a 400 naming it). */
export async function checkGatewaySeals(items: InputItem[], tenantId: string, secret: string | null): Promise<void> {
  const usable = usableSecret(secret);
  for (const [index, item] of items.entries()) {
    if (isGatewayReasoning(item) && isSealedReasoning(item.encrypted_content)) {
      if (openReasoning(item.encrypted_content, tenantId, usable) === null)
        throw sealNotOpened(`items[${index}].encrypted_content`, "reasoning");
    } else if (isGatewayCompaction(item)) {
      const payload = usable === null ? null : await open(item.encrypted_content as string, tenantId, usable);
      if (payload === null) throw sealNotOpened(`items[${index}].encrypted_content`, "compaction");
    }
  }
}
