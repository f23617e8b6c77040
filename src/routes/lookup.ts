// Finds the caller's response for the routes under /v1/responses/{id}; another tenant's id and a
// malformed id answer exactly like an unknown one. A foreground response's row is written with its end,
// or a second in: a lookup in the isolate running it that comes first waits for that write
// (src/stream/unwritten-rows.ts). The current snapshot of a running response comes from its background
// object, or, for a foreground one, from its recorded events.

import type { Db } from "../db/client";
import { findResponse, readSnapshot, type ResponseRow } from "../db/responses";
import { tenantStore } from "../db/shards";
import { responseNotFound } from "../errors";
import { authenticate, type Caller } from "../http/auth";
import { isWellFormedId } from "../responses/ids";
import type { ResponseObject } from "../responses/types";
import { TERMINAL_STATUSES } from "../responses/types";
import { runName, type ResponseRun } from "../run/response-run";
import type { GatewayConfig } from "../config";
import { endIfStale, resumeRun } from "../stream/dead-run";
import { rowWritten } from "../stream/unwritten-rows";
import { pathParam, type RouteContext } from "./context";

export interface Found {
  caller: Caller;
  db: Db;
  row: ResponseRow;
  env: Env;
  config: GatewayConfig;
}

export async function findOwnResponse({ request, env, ctx, config }: RouteContext): Promise<Found> {
  const caller = await authenticate(request, env, ctx);
  const id = pathParam(request.params.id);
  if (!isWellFormedId(id, "resp")) throw responseNotFound(id.slice(0, 128));
  const store = await tenantStore(env, caller.tenantId);
  // A session's first query goes to the primary: the row is current.
  let session = store.reads();
  let row = await findResponse(session, caller.tenantId, id);
  if (row === undefined && (await rowWritten(caller.tenantId, id))) {
    session = store.reads();
    row = await findResponse(session, caller.tenantId, id);
  }
  if (row === undefined) throw responseNotFound(id);
  return foundIn(session, { caller, row, env, config });
}

/**
 * What a found response is read from next. An ended one's records never change: the rest of its
 * `session` (whose later queries a replica at least as new as the row may serve). A running one is
 * followed on the primary, where its progress shows first.
 */
export async function foundIn(session: Db, found: Omit<Found, "db">): Promise<Found> {
  const { row, config } = found;
  if (isTerminal(row)) return { ...found, db: session };
  // Its writes (ending it if its executor died, a cancel) go where it runs, even while its tenant moves.
  const db = (await tenantStore(found.env, row.tenantId, { running: true })).primary;
  // A foreground run whose Worker died is ended by the first read that notices.
  if (await endIfStale(db, row, config.recordFlushMs, found.env)) {
    const ended = await findResponse(db, row.tenantId, row.id);
    if (ended !== undefined) return { ...found, db, row: ended };
  }
  return { ...found, db };
}

export const isTerminal = (row: ResponseRow): boolean => TERMINAL_STATUSES.has(row.status);

/** The background object of a response (named by its tenant, so no other tenant reaches it). */
export const runOf = (env: Env, row: Pick<ResponseRow, "tenantId" | "id">): DurableObjectStub<ResponseRun> =>
  env.RESPONSE_RUN.getByName(runName(row.tenantId, row.id));

/** The current Response: D1's once ended; while running, the live one. */
export async function currentSnapshot({ db, row, env }: Found): Promise<ResponseObject> {
  if (isTerminal(row)) return readSnapshot(db, row);
  if (row.background) {
    const live = (await runOf(env, row).snapshot()) as ResponseObject | null;
    if (live !== null) return live;
    const fresh = await findResponse(db, row.tenantId, row.id);
    if (fresh === undefined) return readSnapshot(db, row);
    if (isTerminal(fresh) || fresh.eventCount === 0) return readSnapshot(db, fresh);
    row = fresh;
  }
  // A running foreground response (or a background one whose object is gone): its recorded events folded.
  const { normalizer } = await resumeRun(db, row);
  return normalizer.snapshot;
}
