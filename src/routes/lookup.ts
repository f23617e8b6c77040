// Finds the caller's response for the routes under /v1/responses/{id}; another tenant's id and a
// malformed id answer exactly like an unknown one.

import { openDb, type Db } from "../db/client";
import { findResponse, readSnapshot, type ResponseRow } from "../db/responses";
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
}

export async function findOwnResponse({ request, env, ctx }: RouteContext): Promise<Found> {
  const caller = await authenticate(request, env, ctx);
  const id = pathParam(request.params.id);
  if (!isWellFormedId(id, "resp")) throw responseNotFound(id.slice(0, 128));
  const db = openDb(env.DB);
  const run = env.RESPONSE_RUN.getByName(id);
  let row = await findResponse(db, caller.tenantId, id);
  // A stream shows its id before the row reaches D1: the response's object knows, and waits for it.
  if (row === undefined && isGatewayResponseId(id) && (await run.awaitRecord(caller.tenantId)))
    row = await findResponse(db, caller.tenantId, id);
  if (row === undefined) throw responseNotFound(id);
  return { caller, db, row, run };
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
