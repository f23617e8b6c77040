// DELETE /v1/responses/{id}: stops the run if it is still going and removes every row it owns; its
// conversation (if it was running a turn on one) is free again, and its Idempotency-Keys forgotten.

import { runBatch } from "../db/client";
import { releaseConversationStatement } from "../db/conversations";
import { forgetKeysOfResponse } from "../db/idempotency";
import { deleteResponse as deleteRows } from "../db/responses";
import { responseNotFound } from "../errors";
import { json, type RouteContext } from "./context";
import { findOwnResponse } from "./lookup";

export async function deleteResponse(route: RouteContext): Promise<Response> {
  const { caller, db, row, run, pendingInputItems } = await findOwnResponse(route);
  await run.discard();
  // A response D1 never got the row of (it refused it) was only in its object: discarded, it is gone.
  const deleted = await deleteRows(db, caller.tenantId, row.id);
  if (!deleted && pendingInputItems === undefined) throw responseNotFound(row.id);
  if (row.conversationId !== null)
    await runBatch(db, [releaseConversationStatement(db, caller.tenantId, row.conversationId, row.id)]);
  await forgetKeysOfResponse(db, caller.tenantId, row.id);
  return json({ id: row.id, object: "response.deleted", deleted: true });
}
