// Admin API, GET /admin/usage: usage across tenants (or of one, `tenant_id=`), grouped by day,
// model, key and/or tenant, priced as GET /v1/usage is. Every tenant's is every shard's, summed.

import { mergeUsage } from "../../db/shard-merge";
import { onEveryShard, tenantStore } from "../../db/shards";
import { readUsage, type UsageQuery } from "../../db/usage";
import { json, type RouteContext } from "../context";
import { parseUsageQuery, usageAnswer } from "../usage";

async function readEveryShard(env: Env, query: UsageQuery) {
  if (query.tenantId !== null) return readUsage((await tenantStore(env, query.tenantId)).reads(), query);
  return mergeUsage(await onEveryShard(env, ({ db }) => readUsage(db, query)), query.groupBy);
}

export async function getAdminUsage({ request, env }: RouteContext): Promise<Response> {
  const params = new URL(request.url).searchParams;
  const query = parseUsageQuery(params, params.get("tenant_id") || null, ["day", "model", "key", "tenant"]);
  return json(await usageAnswer(env, (asked) => readEveryShard(env, asked), query));
}
