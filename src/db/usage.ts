// Token usage and response counts per tenant, key, model and UTC day. A stored response is counted
// without a write of its own: the hourly roll-up (the Cron Trigger) adds each tenant's ended responses
// created before the hour into `usage_daily`, one row per group, and moves the tenant's mark in
// `usage_rollups`; a read adds the ended responses past the mark live. A response that ends after the
// roll-up passed its id is counted by its terminal write, and one deleted before the roll-up reached
// it by its deletion, so each is counted exactly once (every step is a D1 batch, a transaction).
// Rows written before the roll-up existed (`usage_deferred` null) are counted by their terminal write,
// and store:false responses, which write nothing else, by an upsert of their own. Used by the terminal
// write, deletion, retention, src/scheduled.ts and `GET /v1/usage`, `GET /admin/usage`. Usage rows
// outlive retention and deletion.

import { sql, type SQL } from "drizzle-orm";
import { TERMINAL_STATUSES } from "../responses/types";
import type { Db, Statement } from "./client";
import { prepareOnce, runWrites, type BoundStatement } from "./prepared";
import type { LogFields } from "../observe/log";
import { logD1Problem } from "../observe/problems";
import { idFloorAt } from "../responses/ids";
import { TENANTS } from "./tenant-scan";
import { usageDaily, usageRollups } from "./schema";

export interface TokenCounts {
  inputTokens: number;
  outputTokens: number;
}

const DAY_MS = 86_400_000;
/** The terminal statuses as SQL literals (constants: no bound parameter spent on them). */
const TERMINAL_LIST = sql.raw([...TERMINAL_STATUSES].map((status) => `'${status}'`).join(", "));

/** Adds to a row's counts on conflict (the row of that tenant, key, model and day). */
const accumulate = {
  target: [usageDaily.tenantId, usageDaily.day, usageDaily.apiKeyId, usageDaily.model],
  set: {
    responses: sql`${usageDaily.responses} + excluded.responses`,
    inputTokens: sql`${usageDaily.inputTokens} + excluded.input_tokens`,
    outputTokens: sql`${usageDaily.outputTokens} + excluded.output_tokens`,
  },
};

/** The UTC day (YYYY-MM-DD) of a unix time, as `usage_daily.day` holds it. */
export const usageDay = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString().slice(0, 10);

/** The tenant's roll-up mark: its deferred responses with a smaller id are in `usage_daily` ('' : none). */
const markOf = (tenantId: SQL): SQL =>
  sql`coalesce((SELECT ${usageRollups.countedBefore} FROM ${usageRollups} WHERE ${usageRollups.tenantId} = ${tenantId}), '')`;

/** The usage_daily columns of a response row `r`, grouped or one by one. */
const GROUP_COLUMNS = sql`r.tenant_id, coalesce(r.api_key_id, ''), r.model, strftime('%Y-%m-%d', r.created_at, 'unixepoch')`;
const COUNTS = sql`count(*), sum(coalesce(r.input_tokens, 0)), sum(coalesce(r.output_tokens, 0))`;
/** Counts of response rows `r` (grouped, or one row's) added to `usage_daily` (its columns, in order). */
const addGroups = (db: Db, query: SQL): Statement => db.insert(usageDaily).select(query).onConflictDoUpdate(accumulate);

/**
 * Counts a stored response at its end, when nothing else will: it adds only while the response row
 * is not yet terminal, so it runs in the terminal batch before the status update (a retried batch
 * adds nothing), and only for a row the roll-up does not count: one written before it existed, or one
 * whose id the roll-up has already passed.
 */
export function storedUsageStatement(
  db: Db,
  responseId: string,
  tenantId: string,
  tokens: TokenCounts,
  expectEventCount?: number,
): Statement {
  // As the end's own update: an end conditional on the log it read counts only if it lands.
  const now = Math.floor(Date.now() / 1000);
  const expected =
    expectEventCount === undefined ? sql`` : sql` AND r.event_count = ${expectEventCount} AND r.client_left <= ${now}`;
  return addGroups(
    db,
    sql`SELECT ${GROUP_COLUMNS}, 1, ${tokens.inputTokens}, ${tokens.outputTokens}
      FROM responses r
     WHERE r.tenant_id = ${tenantId} AND r.id = ${responseId} AND r.status NOT IN (${TERMINAL_LIST})${expected}
       AND (r.usage_deferred IS NULL OR r.id < ${markOf(sql`${tenantId}`)})`,
  );
}

/** What `insertedEndedUsageStatement` binds. */
interface EndedUsage extends Record<string, unknown> {
  id: string;
  tenantId: string;
  apiKeyId: string;
  model: string;
  createdAt: number;
  inputTokens: number;
  outputTokens: number;
}

const endedUsage = prepareOnce<EndedUsage>((db) => {
  const value = (name: string) => sql.placeholder(name);
  return addGroups(
    db,
    sql`SELECT ${value("tenantId")}, ${value("apiKeyId")}, ${value("model")},
           strftime('%Y-%m-%d', ${value("createdAt")}, 'unixepoch'), 1, ${value("inputTokens")}, ${value("outputTokens")}
     WHERE ${value("id")} < ${markOf(sql`${value("tenantId")}`)}
       AND NOT EXISTS (SELECT 1 FROM responses r WHERE r.tenant_id = ${value("tenantId")} AND r.id = ${value("id")})`,
  );
});

/**
 * `storedUsageStatement` for a response whose row its terminal batch inserts already ended (it was
 * never written running): counts it from the values the row will hold, only if the roll-up has passed
 * its id and only while the row is not there yet (the batch inserts it after this), so a retried batch
 * adds nothing. Its SQL is built once (src/db/prepared.ts).
 */
export function insertedEndedUsageStatement(
  db: Db,
  response: { id: string; tenantId: string; apiKeyId: string | null; model: string; createdAt: number },
  tokens: TokenCounts,
): BoundStatement {
  return endedUsage(db, {
    id: response.id,
    tenantId: response.tenantId,
    apiKeyId: response.apiKeyId ?? "",
    model: response.model,
    createdAt: response.createdAt,
    ...tokens,
  });
}

/**
 * Counts the ended, deferred responses among rows about to be deleted that the roll-up has not
 * reached: run before the statement that deletes them, in the same batch.
 */
export function removedUsageStatement(db: Db, tenantIds: string[], responseIds: string[]): Statement {
  return addGroups(
    db,
    sql`SELECT ${GROUP_COLUMNS}, ${COUNTS}
      FROM responses r
     WHERE r.tenant_id IN (${sql.join(
       tenantIds.map((id) => sql`${id}`),
       sql`, `,
     )}) AND r.id IN (${sql.join(
       responseIds.map((id) => sql`${id}`),
       sql`, `,
     )})
       AND r.usage_deferred = 1 AND r.status IN (${TERMINAL_LIST}) AND r.id >= ${markOf(sql`r.tenant_id`)}
     GROUP BY 1, 2, 3, 4`,
  );
}

/** Every tenant with responses on the shard and its roll-up mark, as `marks(tenant_id, mark)`. */
const EVERY_TENANT_MARK = sql`SELECT t.tenant AS tenant_id, ${markOf(sql`t.tenant`)} AS mark FROM (${TENANTS}) t`;

/**
 * Rolls every tenant's ended, deferred responses with ids from its mark up to `cutoffId` into
 * `usage_daily`, one row per tenant, key, model and day, and moves the mark of each tenant that had
 * responses there to `cutoffId`, in one batch. A response still running below the new mark is counted
 * by its terminal write. Reads each tenant's rows in the range from its key; writes a row per group
 * and per tenant with responses in the range.
 */
export async function rollUpUsage(db: Db, cutoffId: string): Promise<{ groups: number; tenants: number }> {
  const inRange = sql`r.tenant_id = m.tenant_id AND r.id >= m.mark AND r.id < ${cutoffId} AND r.usage_deferred = 1`;
  // Inserts without RETURNING answer D1's result, whose `meta.changes` counts the rows written.
  const [groups, tenants] = (await db.batch([
    addGroups(
      db,
      sql`SELECT ${GROUP_COLUMNS}, ${COUNTS}
            FROM (${EVERY_TENANT_MARK}) m CROSS JOIN responses r
           WHERE ${inRange} AND r.status IN (${TERMINAL_LIST})
           GROUP BY 1, 2, 3, 4`,
    ),
    db
      .insert(usageRollups)
      .select(
        sql`SELECT m.tenant_id, ${cutoffId} FROM (${EVERY_TENANT_MARK}) m
             WHERE m.mark < ${cutoffId} AND EXISTS (SELECT 1 FROM responses r WHERE ${inRange})`,
      )
      .onConflictDoUpdate({ target: usageRollups.tenantId, set: { countedBefore: sql`excluded.counted_before` } }),
  ])) as unknown as [D1Result, D1Result];
  return { groups: groups.meta.changes, tenants: tenants.meta.changes };
}

export interface UsageEntry extends TokenCounts {
  tenantId: string;
  apiKeyId: string | null;
  model: string;
  createdAt: number;
}

/** What `usageStatement` binds. */
interface UsageValues extends Record<string, unknown> {
  tenantId: string;
  apiKeyId: string;
  model: string;
  day: string;
  inputTokens: number;
  outputTokens: number;
}

const usageInsert = prepareOnce<UsageValues>((db) => {
  const value = (name: keyof UsageValues & string) => sql.placeholder(name);
  return db
    .insert(usageDaily)
    .values({
      tenantId: value("tenantId"),
      apiKeyId: value("apiKeyId"),
      model: value("model"),
      day: value("day"),
      responses: 1,
      inputTokens: value("inputTokens"),
      outputTokens: value("outputTokens"),
    })
    .onConflictDoUpdate(accumulate);
});

/**
 * Counts a response that wrote nothing else (store:false): its tokens still count. Its SQL is built
 * once per isolate (src/db/prepared.ts: about 30 µs a response saved); run it with `runWrites`.
 */
export function usageStatement(db: Db, entry: UsageEntry): BoundStatement {
  return usageInsert(db, {
    tenantId: entry.tenantId,
    apiKeyId: entry.apiKeyId ?? "",
    model: entry.model,
    day: usageDay(entry.createdAt),
    inputTokens: entry.inputTokens,
    outputTokens: entry.outputTokens,
  });
}

/**
 * Adds the tokens of something not stored (a store:false response, a compaction) to its tenant's
 * usage, as one write. A write D1 refuses is logged (`what` was not recorded), never thrown: the
 * answer it counts has been given.
 */
export async function countUnstoredUsage(
  db: Db | Promise<Db>,
  entry: UsageEntry,
  ids: LogFields,
  what: string,
): Promise<void> {
  try {
    const shard = await db;
    await runWrites(shard, [usageStatement(shard, entry)]);
  } catch (error) {
    logD1Problem(ids, `the usage of ${what} was not recorded`, error, { attempt: 1, of: 1 });
  }
}

/** The tenants with usage rows: a skip-scan of the key, one seek per tenant (as TENANTS does for responses). */
const USAGE_TENANTS = sql`WITH RECURSIVE t(tenant) AS (
    SELECT min(tenant_id) FROM usage_daily
    UNION ALL
    SELECT (SELECT min(tenant_id) FROM usage_daily WHERE tenant_id > t.tenant) FROM t WHERE t.tenant IS NOT NULL
  )
  SELECT tenant FROM t WHERE tenant IS NOT NULL`;

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

/**
 * Sums over the days `startDay..endDay` (inclusive), one row per group, ordered by the groups: the
 * rolled-up rows and the responses past the roll-up, in one statement (one snapshot).
 */
export async function readUsage(db: Db, query: UsageQuery): Promise<UsageGroup[]> {
  const dimensions = query.groupBy;
  const selected = dimensions.map((dimension) => sql`${COLUMNS[dimension]} AS ${sql.raw(dimension)}`);
  // The key is (tenant, day, ...): each tenant's days are one seek, the admin's found tenant by tenant.
  const tenant = query.tenantId === null ? sql`tenant_id IN (${USAGE_TENANTS})` : sql`tenant_id = ${query.tenantId}`;
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
  // The live part: ended, deferred responses past each tenant's mark, within the days asked for.
  const startId = idFloorAt("resp", Date.parse(`${query.startDay}T00:00:00Z`));
  const endId = idFloorAt("resp", Date.parse(`${query.endDay}T00:00:00Z`) + DAY_MS);
  const marks =
    query.tenantId === null
      ? EVERY_TENANT_MARK
      : sql`SELECT ${query.tenantId} AS tenant_id, ${markOf(sql`${query.tenantId}`)} AS mark`;
  const rows = await db.all<Record<string, string | number | null>>(sql`
    SELECT ${sql.join([...selected, sql`sum(responses) AS responses`], sql`, `)},
           sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens
      FROM (
        SELECT tenant_id, api_key_id, model, day, responses, input_tokens, output_tokens
          FROM usage_daily
         WHERE ${tenant} AND day >= ${query.startDay} AND day <= ${query.endDay}
        UNION ALL
        SELECT ${GROUP_COLUMNS}, 1, coalesce(r.input_tokens, 0), coalesce(r.output_tokens, 0)
          FROM (SELECT tenant_id, max(mark, ${startId}) AS floor FROM (${marks})) m CROSS JOIN responses r
         WHERE r.tenant_id = m.tenant_id AND r.id >= m.floor AND r.id < ${endId}
           AND r.usage_deferred = 1 AND r.status IN (${TERMINAL_LIST})
      )
     WHERE day >= ${query.startDay} AND day <= ${query.endDay}${grouping}${ordering}`);
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
