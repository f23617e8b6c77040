// POST /v1/responses/{id}/cancel: only background responses can be cancelled; cancelling again
// (or a finished one) returns the final Response unchanged.

import { invalidRequest } from "../errors";
import { json, type RouteContext } from "./context";
import { currentSnapshot, findOwnResponse, isTerminal } from "./lookup";

export async function cancelResponse(route: RouteContext): Promise<Response> {
  const found = await findOwnResponse(route);
  // 400, not 409: the SDK retries 409s.
  if (!found.row.background) throw invalidRequest("Cannot cancel a synchronous response.", null, null);
  if (isTerminal(found.row)) return json(await currentSnapshot(found));
  return json((await found.run.cancel()) ?? (await currentSnapshot(found)));
}
