// Admin API, GET /admin/usage: usage across tenants (or of one, `tenant_id=`), grouped by day,
// model, key and/or tenant, priced as GET /v1/usage is.

import { openDb } from "../../db/client";
import { json, type RouteContext } from "../context";
import { parseUsageQuery, usageAnswer } from "../usage";

export async function getAdminUsage({ request, env }: RouteContext): Promise<Response> {
  const params = new URL(request.url).searchParams;
  const query = parseUsageQuery(params, params.get("tenant_id") || null, ["day", "model", "key", "tenant"]);
  return json(await usageAnswer(env, openDb(env.DB), query));
}
