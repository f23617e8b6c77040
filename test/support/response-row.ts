// The response row a test writes through the gateway's own statements (a recorder's start, an ended
// insert): running, stored, in the foreground, with no key, chain, conversation or metadata unless given.

import type { NewResponseRow } from "../../src/db/responses";

export const testRow = (
  row: Pick<NewResponseRow, "id" | "tenantId" | "model" | "createdAt" | "snapshot"> & Partial<NewResponseRow>,
): NewResponseRow => ({
  apiKeyId: null,
  status: "in_progress",
  background: false,
  store: true,
  previousResponseId: null,
  conversationId: null,
  metadata: {},
  input: [{ id: "msg_in", item: { role: "user", content: "x" } }],
  ...row,
});
