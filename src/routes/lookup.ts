// Finds the caller's response for the routes under /v1/responses/{id}; another tenant's id and a
// malformed id answer exactly like an unknown one. A response whose D1 row is not written yet (a
// stream shows its id first; D1 may refuse the write for a while) is found through its object.

import { openDb, type Db } from "../db/client";
import { findResponse, readSnapshot, type ResponseRow, type StoredItem } from "../db/responses";
import { responseNotFound } from "../errors";
import { authenticate, type Caller } from "../http/auth";
import { isGatewayResponseId, isWellFormedId } from "../responses/ids";
import type { ResponseObject } from "../responses/types";
import { TERMINAL_STATUSES } from "../responses/types";
import type { ResponseRun } from "../run/response-run";
import { pathParam, type RouteContext } from "./context";

export interface Found {
  caller: Caller;
  db: Db;
  row: ResponseRow;
  run: DurableObjectStub<ResponseRun>;
  /** Set when D1 lacks the row (it refused it so far): the input items the object keeps meanwhile. */
  pendingInputItems?: StoredItem[];
}

export async function findOwnResponse({ request, env, ctx }: RouteContext): Promise<Found> {
  const caller = await authenticate(request, env, ctx);
  const id = pathParam(request.params.id);
  if (!isWellFormedId(id, "resp")) throw responseNotFound(id.slice(0, 128));
  const db = openDb(env.DB);
  const run = env.RESPONSE_RUN.getByName(id);
  const row = await findResponse(db, caller.tenantId, id);
  if (row !== undefined) return { caller, db, row, run };
  // A stream shows its id before the row reaches D1: the response's object knows, and waits for it.
  const record = isGatewayResponseId(id) ? await run.awaitRecord(caller.tenantId) : "unknown";
  if (record === "unknown") throw responseNotFound(id);
  if (record !== "stored") return { caller, db, row: record.row, run, pendingInputItems: record.inputItems };
  const written = await findResponse(db, caller.tenantId, id);
  if (written === undefined) throw responseNotFound(id);
  return { caller, db, row: written, run };
}

export const isTerminal = (row: ResponseRow): boolean => TERMINAL_STATUSES.has(row.status);

/** The current Response: D1's once terminal, else the run's live snapshot. */
export async function currentSnapshot({ db, row, run }: Found): Promise<ResponseObject> {
  if (!isTerminal(row)) {
    const live = await run.snapshot();
    if (live !== null) return live;
    const fresh = await findResponse(db, row.tenantId, row.id);
    if (fresh !== undefined) return readSnapshot(db, fresh);
  }
  return readSnapshot(db, row);
}
