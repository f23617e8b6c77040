// GET /v1/responses/{id}/usage (the gateway's own, for the console's response page): one response's
// tokens as a usage object of GET /v1/usage, priced by the same code (`MODEL_PRICES`, by the model
// its row is counted under), so its `cost` is only where the table prices that model. A response
// still running has no tokens recorded yet: 0 until it ends.

import { usageDay } from "../db/usage";
import { json, type RouteContext } from "./context";
import { findOwnResponse, type Found } from "./lookup";
import { usageAnswer } from "./usage";

export async function getResponseUsage(route: RouteContext): Promise<Response> {
  return responseUsage(route, await findOwnResponse(route));
}

/** The usage object of `found` (also the admin API's). */
export async function responseUsage({ env }: RouteContext, { row }: Found): Promise<Response> {
  const day = usageDay(row.createdAt);
  const group = {
    model: row.model,
    responses: 1,
    inputTokens: row.inputTokens ?? 0,
    outputTokens: row.outputTokens ?? 0,
  };
  const query = { tenantId: row.tenantId, startDay: day, endDay: day, groupBy: ["model" as const] };
  const [usage] = (await usageAnswer(env, () => Promise.resolve([group]), query)).data;
  return json({ response_id: row.id, ...usage });
}
