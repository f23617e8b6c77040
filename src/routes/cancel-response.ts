// POST /v1/responses/{id}/cancel: only background responses can be cancelled; cancelling again
// (or a finished one) returns the final Response unchanged.

import type { ResponseObject } from "../responses/types";
import { invalidRequest } from "../errors";
import { requireAcceptedKey } from "../http/key-acceptance";
import { json, type RouteContext } from "./context";
import { currentSnapshot, findOwnResponse, isTerminal, runOf } from "./lookup";

export async function cancelResponse(route: RouteContext): Promise<Response> {
  const found = await findOwnResponse(route);
  // 400, not 409: the SDK retries 409s.
  if (!found.row.background) throw invalidRequest("Cannot cancel a synchronous response.", null, null);
  if (isTerminal(found.row)) return json(await currentSnapshot(found));
  // Stopping a run changes what is kept: a key the upstream no longer accepts may not (pass-through).
  await requireAcceptedKey(found.caller, route.config);
  const cancelled = (await runOf(route.env, found.row).cancel()) as ResponseObject | null;
  return json(cancelled ?? (await currentSnapshot(await findOwnResponse(route))));
}
