// GET /v1/usage: the caller's tenant's token usage and response counts by day, model and/or key
// over a range of UTC days, priced in dollars where `MODEL_PRICES` knows the model. The query
// parsing and pricing are shared with GET /admin/usage.

import { tenantStore } from "../db/shards";
import { readUsage, type UsageDimension, type UsageGroup, type UsageQuery } from "../db/usage";
import { ApiError, invalidRequest } from "../errors";
import { costOf, priceOf, readModelPrices } from "../pricing/model-prices";
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
  if (start > end)
    throw invalidRequest(
      params.has("end_date")
        ? "Invalid 'start_date': it must not be after 'end_date'."
        : `Invalid 'start_date': it must not be after 'end_date', which defaults to today (${isoDay(end)}).`,
      "start_date",
      "invalid_value",
    );
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

/** Dollars of a group: what its priced models cost, and the tokens of models the table does not know. */
interface GroupCost {
  input: number;
  output: number;
  unpricedTokens: number;
  priced: boolean;
}

type PricedGroup = UsageGroup & { cost?: GroupCost };

/** The usage envelope: one object per group, with only the grouped fields, the sums and any cost. */
export function usageList(query: UsageQuery, groups: PricedGroup[]) {
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
      const entry: Record<string, unknown> = {
        ...fields,
        responses: group.responses,
        input_tokens: group.inputTokens,
        output_tokens: group.outputTokens,
        total_tokens: group.inputTokens + group.outputTokens,
      };
      // A model the price table does not know shows tokens only.
      if (group.cost?.priced === true)
        entry.cost = {
          currency: "usd",
          input: group.cost.input,
          output: group.cost.output,
          total: costSum(group.cost.input, group.cost.output),
          ...(group.cost.unpricedTokens > 0 ? { unpriced_tokens: group.cost.unpricedTokens } : {}),
        };
      return entry;
    }),
  };
}

const costSum = (a: number, b: number): number => Math.round((a + b) * 1e9) / 1e9;

/** Reads the usage groups of a query (one shard's, or every shard's summed). */
export type UsageReader = (query: UsageQuery) => Promise<UsageGroup[]>;

/**
 * The usage of `query`, priced when `MODEL_PRICES` is set: read per model as well (a price is per
 * model), priced, then summed back into the groups asked for (rows come ordered by those first).
 * A price table that does not parse answers a 500 that names the setting and the entry at fault.
 */
export async function usageAnswer(env: Env, read: UsageReader, query: UsageQuery) {
  const prices = readModelPrices(env);
  if (prices === null) return usageList(query, await read(query));
  if (!prices.ok)
    throw new ApiError(500, `The gateway's price table is invalid: ${prices.problem}`, {
      type: "server_error",
      code: "model_prices_invalid",
      // The operator's to fix: a retry would get the same answer.
      headers: { "x-should-retry": "false" },
    });
  const byModel = query.groupBy.includes("model") ? query : { ...query, groupBy: [...query.groupBy, "model" as const] };
  const groups: PricedGroup[] = [];
  const sameGroup = (a: UsageGroup, b: UsageGroup) => query.groupBy.every((dimension) => a[dimension] === b[dimension]);
  for (const row of await read(byModel)) {
    const price = priceOf(prices, row.model ?? "");
    const input = price === undefined ? 0 : costOf(row.inputTokens, price.inputPerMillion);
    const output = price === undefined ? 0 : costOf(row.outputTokens, price.outputPerMillion);
    const unpriced = price === undefined ? row.inputTokens + row.outputTokens : 0;
    const last = groups.at(-1);
    if (last !== undefined && sameGroup(last, row)) {
      last.responses += row.responses;
      last.inputTokens += row.inputTokens;
      last.outputTokens += row.outputTokens;
      const cost = last.cost as GroupCost;
      cost.input = costSum(cost.input, input);
      cost.output = costSum(cost.output, output);
      cost.unpricedTokens += unpriced;
      cost.priced ||= price !== undefined;
      continue;
    }
    const group: PricedGroup = {
      responses: row.responses,
      inputTokens: row.inputTokens,
      outputTokens: row.outputTokens,
      cost: { input, output, unpricedTokens: unpriced, priced: price !== undefined },
    };
    for (const dimension of query.groupBy) group[dimension] = row[dimension];
    groups.push(group);
  }
  return usageList(query, groups);
}

export async function getUsage({ request, env, ctx }: RouteContext): Promise<Response> {
  const caller = await authenticate(request, env, ctx);
  const query = parseUsageQuery(new URL(request.url).searchParams, caller.tenantId, ["day", "model", "key"]);
  const db = (await tenantStore(env, caller.tenantId)).reads();
  return json(await usageAnswer(env, (asked) => readUsage(db, asked), query));
}
