// GET /v1/usage: the caller's tenant's token usage and response counts by day, model and/or key
// over a range of UTC days. The query parsing is shared with GET /admin/usage.

import { openDb } from "../db/client";
import { readUsage, type UsageDimension, type UsageGroup, type UsageQuery } from "../db/usage";
import { invalidRequest } from "../errors";
import { authenticate } from "../http/auth";
import { checkEnum } from "../responses/validation";
import { json, type RouteContext } from "./context";

/** Longest range one request may sum: a year of days. */
export const MAX_USAGE_DAYS = 366;
/** Range when `start_date` is not given: the 30 days ending at `end_date`. */
const DEFAULT_USAGE_DAYS = 30;
const DAY_MS = 86_400_000;

const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

function parseDay(params: URLSearchParams, name: string): number | undefined {
  const value = params.get(name);
  if (value === null || value === "") return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : NaN;
  if (!Number.isFinite(ms) || isoDay(ms) !== value)
    throw invalidRequest(
      `Invalid '${name}': expected a date as YYYY-MM-DD, but got '${value.slice(0, 64)}' instead.`,
      name,
      "invalid_value",
    );
  return ms;
}

function parseGroupBy(params: URLSearchParams, allowed: readonly UsageDimension[]): UsageDimension[] {
  const values = [...params.getAll("group_by"), ...params.getAll("group_by[]")]
    .flatMap((value) => value.split(","))
    .map((value) => value.trim())
    .filter((value) => value !== "");
  if (values.length === 0) return ["day"];
  for (const value of values) checkEnum("group_by", value, allowed);
  return [...new Set(values)] as UsageDimension[];
}

export function parseUsageQuery(
  params: URLSearchParams,
  tenantId: string | null,
  dimensions: readonly UsageDimension[],
): UsageQuery {
  const end = parseDay(params, "end_date") ?? Date.parse(`${isoDay(Date.now())}T00:00:00Z`);
  const start = parseDay(params, "start_date") ?? end - (DEFAULT_USAGE_DAYS - 1) * DAY_MS;
  if (start > end) throw invalidRequest("Invalid 'start_date': it must not be after 'end_date'.", "start_date", null);
  if ((end - start) / DAY_MS + 1 > MAX_USAGE_DAYS)
    throw invalidRequest(
      `Invalid 'start_date': a range holds at most ${MAX_USAGE_DAYS} days.`,
      "start_date",
      "invalid_value",
    );
  return { tenantId, startDay: isoDay(start), endDay: isoDay(end), groupBy: parseGroupBy(params, dimensions) };
}

const FIELD_NAMES: Record<UsageDimension, string> = {
  day: "day",
  model: "model",
  key: "api_key_id",
  tenant: "tenant_id",
};

/** The usage envelope: one object per group, with only the grouped fields and the sums. */
export function usageList(query: UsageQuery, groups: UsageGroup[]) {
  return {
    object: "list",
    start_date: query.startDay,
    end_date: query.endDay,
    group_by: query.groupBy,
    data: groups.map((group) => {
      const fields: Record<string, unknown> = { object: "usage" };
      for (const dimension of query.groupBy) {
        const value = group[dimension] ?? "";
        fields[FIELD_NAMES[dimension]] = dimension === "key" && value === "" ? null : value;
      }
      return {
        ...fields,
        responses: group.responses,
        input_tokens: group.inputTokens,
        output_tokens: group.outputTokens,
        total_tokens: group.inputTokens + group.outputTokens,
      };
    }),
  };
}

export async function getUsage({ request, env, ctx }: RouteContext): Promise<Response> {
  const caller = await authenticate(request, env, ctx);
  const query = parseUsageQuery(new URL(request.url).searchParams, caller.tenantId, ["day", "model", "key"]);
  return json(usageList(query, await readUsage(openDb(env.DB), query)));
}
