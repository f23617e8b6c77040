// Token usage and response counts per tenant, key, model and UTC day (`usage_daily`): the upsert
// made by a response's terminal write (and by the store:false path), and the grouped reads behind
// `GET /v1/usage` and `GET /admin/usage`. Usage rows outlive retention and deletion.

import { and, eq, notInArray, sql, type SQL } from "drizzle-orm";
import { TERMINAL_STATUSES } from "../responses/types";
import type { Db, Statement } from "./client";
import { responses, usageDaily } from "./schema";

export interface TokenCounts {
  inputTokens: number;
  outputTokens: number;
}

const TERMINAL = [...TERMINAL_STATUSES];

/** Adds to a row's counts on conflict (the row of that tenant, key, model and day). */
const accumulate = {
  target: [usageDaily.tenantId, usageDaily.apiKeyId, usageDaily.model, usageDaily.day],
  set: {
    responses: sql`${usageDaily.responses} + 1`,
    inputTokens: sql`${usageDaily.inputTokens} + excluded.input_tokens`,
    outputTokens: sql`${usageDaily.outputTokens} + excluded.output_tokens`,
  },
};

/** The UTC day (YYYY-MM-DD) of a unix time, as `usage_daily.day` holds it. */
export const usageDay = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString().slice(0, 10);

/**
 * Counts a stored response once, on the day of its creation: it adds only while the response row
 * is not yet terminal, so it runs in the terminal batch before the status update, and a retried
 * batch (the row is terminal by then) adds nothing.
 */
export function storedUsageStatement(db: Db, responseId: string, tenantId: string, tokens: TokenCounts): Statement {
  const counted = db
    .select({
      tenantId: responses.tenantId,
      apiKeyId: sql<string>`coalesce(${responses.apiKeyId}, '')`.as("api_key_id"),
      model: responses.model,
      day: sql<string>`strftime('%Y-%m-%d', ${responses.createdAt}, 'unixepoch')`.as("day"),
      responses: sql<number>`1`.as("responses"),
      inputTokens: sql<number>`${tokens.inputTokens}`.as("input_tokens"),
      outputTokens: sql<number>`${tokens.outputTokens}`.as("output_tokens"),
    })
    .from(responses)
    .where(and(eq(responses.id, responseId), eq(responses.tenantId, tenantId), notInArray(responses.status, TERMINAL)));
  return db.insert(usageDaily).select(counted).onConflictDoUpdate(accumulate);
}

export interface UsageEntry extends TokenCounts {
  tenantId: string;
  apiKeyId: string | null;
  model: string;
  createdAt: number;
}

/** Counts a response that wrote nothing else (store:false): its tokens still count. */
export function usageStatement(db: Db, entry: UsageEntry): Statement {
  return db
    .insert(usageDaily)
    .values({
      tenantId: entry.tenantId,
      apiKeyId: entry.apiKeyId ?? "",
      model: entry.model,
      day: usageDay(entry.createdAt),
      responses: 1,
      inputTokens: entry.inputTokens,
      outputTokens: entry.outputTokens,
    })
    .onConflictDoUpdate(accumulate);
}

export type UsageDimension = "day" | "model" | "key" | "tenant";

const COLUMNS: Record<UsageDimension, SQL> = {
  day: sql`day`,
  model: sql`model`,
  key: sql`api_key_id`,
  tenant: sql`tenant_id`,
};

export interface UsageQuery {
  /** null: every tenant (admin). */
  tenantId: string | null;
  startDay: string;
  endDay: string;
  groupBy: UsageDimension[];
}

export interface UsageGroup {
  day?: string;
  model?: string;
  key?: string;
  tenant?: string;
  responses: number;
  inputTokens: number;
  outputTokens: number;
}

/** Sums over the days `startDay..endDay` (inclusive), one row per group, ordered by the groups. */
export async function readUsage(db: Db, query: UsageQuery): Promise<UsageGroup[]> {
  const dimensions = query.groupBy;
  const selected = dimensions.map((dimension) => sql`${COLUMNS[dimension]} AS ${sql.raw(dimension)}`);
  const tenant = query.tenantId === null ? sql`1 = 1` : sql`tenant_id = ${query.tenantId}`;
  const grouping =
    dimensions.length === 0
      ? sql``
      : sql` GROUP BY ${sql.join(
          dimensions.map((d) => COLUMNS[d]),
          sql`, `,
        )}`;
  const ordering =
    dimensions.length === 0
      ? sql``
      : sql` ORDER BY ${sql.join(
          dimensions.map((d) => COLUMNS[d]),
          sql`, `,
        )}`;
  const rows = await db.all<Record<string, string | number | null>>(sql`
    SELECT ${sql.join([...selected, sql`sum(responses) AS responses`], sql`, `)},
           sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens
      FROM usage_daily
     WHERE ${tenant} AND day >= ${query.startDay} AND day <= ${query.endDay}${grouping}${ordering}`);
  return rows
    .filter((row) => row.responses !== null)
    .map((row) => {
      const group: UsageGroup = {
        responses: Number(row.responses),
        inputTokens: Number(row.input_tokens),
        outputTokens: Number(row.output_tokens),
      };
      for (const dimension of dimensions) group[dimension] = String(row[dimension]);
      return group;
    });
}

/** A token count of a Response's `usage` (`input_tokens`, `output_tokens`); null when absent. */
export function tokenCount(usage: unknown, field: "input_tokens" | "output_tokens"): number | null {
  if (typeof usage !== "object" || usage === null) return null;
  const value = (usage as Record<string, unknown>)[field];
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** The token counts of a Response's `usage`; 0 for a count that is absent. */
export const tokensOf = (usage: unknown): TokenCounts => ({
  inputTokens: tokenCount(usage, "input_tokens") ?? 0,
  outputTokens: tokenCount(usage, "output_tokens") ?? 0,
});
