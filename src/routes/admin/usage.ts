// Admin API, GET /admin/usage: usage across tenants (or of one, `tenant_id=`), grouped by day,
// model, key and/or tenant.

import { openDb } from "../../db/client";
import { readUsage } from "../../db/usage";
import { json, type RouteContext } from "../context";
import { parseUsageQuery, usageList } from "../usage";

export async function getAdminUsage({ request, env }: RouteContext): Promise<Response> {
  const params = new URL(request.url).searchParams;
  const query = parseUsageQuery(params, params.get("tenant_id") || null, ["day", "model", "key", "tenant"]);
  return json(usageList(query, await readUsage(openDb(env.DB), query)));
}
