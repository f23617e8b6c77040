// DELETE /v1/responses/{id}: removes every row the response owns, then stops its run if it is still
// going; its conversation (if it was running a turn on one) is free again, and an Idempotency-Key
// that made it answers as deleted instead of making it again.

import { runBatch } from "../db/client";
import { releaseConversationStatement } from "../db/conversations";
import { deleteResponse as deleteRows } from "../db/responses";
import { responseNotFound } from "../errors";
import { requireAcceptedKey } from "../http/key-acceptance";
import { json, type RouteContext } from "./context";
import { findOwnResponse, isTerminal, runOf } from "./lookup";

export async function deleteResponse(route: RouteContext): Promise<Response> {
  const { caller, db, row, env } = await findOwnResponse(route);
  await requireAcceptedKey(caller, route.config);
  // D1 first (the rows and the Idempotency-Keys' mark, in one batch): should this fail, the run goes
  // on and nothing is lost. A run still writing afterwards writes nothing (its writes need the row).
  if (!(await deleteRows(db, caller.tenantId, row.id))) throw responseNotFound(row.id);
  if (row.background) await runOf(env, row).discard();
  if (row.conversationId !== null && !isTerminal(row))
    await runBatch(db, [releaseConversationStatement(db, caller.tenantId, row.conversationId, row.id)]);
  return json({ id: row.id, object: "response.deleted", deleted: true });
}
