// Erasing a tenant (DELETE /admin/tenants/{id}): its keys are revoked first, so nothing new is written
// for it, then every row of its history is deleted from its shard (and from the others, where a move
// cut short left some), table by table, in bounded statements, and last its keys, its tenant row and
// its shard record. A tenant with much history takes several calls: each deletes up to a budget of
// statements over all its shards and says whether more remains.
// Used by src/routes/admin/tenant-delete.ts.

import { CONTROL_SHARD, forgetShard, readShardPlan, shardBinding } from "./shards";
import {
  boundedDelete,
  DELETE_ROWS_PER_STATEMENT,
  ownedRows,
  quoted,
  responsesCount,
  runningResponses,
  tenantConflict,
  tenantTables,
} from "./tenant-tables";

/** Full statements one call runs over all its shards (plus one per table a shard), far below a Worker's subrequest limit: 100,000 rows. */
export const ERASE_STATEMENT_BUDGET = 200;

export interface EraseOutcome {
  /** False when the tenant was not found: no tenant row, no shard record. */
  found: boolean;
  /** Everything is gone; false when the budget ran out first (call again). */
  done: boolean;
  /** Rows deleted by this call, per table. */
  rows: Record<string, number>;
}

export interface EraseBounds {
  /** Full statements (each deleting `rowsPerStatement` rows) one call runs. */
  budget: number;
  rowsPerStatement: number;
}

export async function eraseTenant(
  env: Env,
  tenantId: string,
  { budget, rowsPerStatement }: EraseBounds = {
    budget: ERASE_STATEMENT_BUDGET,
    rowsPerStatement: DELETE_ROWS_PER_STATEMENT,
  },
): Promise<EraseOutcome> {
  const control = shardBinding(env, CONTROL_SHARD);
  // One budget for the call, over every shard it erases on: a call stays within its subrequests.
  const left: Budget = { left: budget };
  const [tenant, record] = await Promise.all([
    control.prepare("SELECT id FROM tenants WHERE id = ?").bind(tenantId).first<{ id: string }>(),
    control
      .prepare("SELECT shard, moving_to FROM tenant_shards WHERE tenant_id = ?")
      .bind(tenantId)
      .first<{ shard: string; moving_to: string | null }>(),
  ]);
  if (tenant === null && record === null) {
    // Left after an erasure: a request already past its key check when the keys were revoked (a
    // store:false response counts its usage at its end) wrote once the tenant was gone.
    const shards = await shardsWithLeftovers(env, tenantId);
    if (shards.length === 0) return { found: false, done: false, rows: {} };
    const rows: Record<string, number> = {};
    for (const shard of shards)
      await refuseRunning(shardBinding(env, shard), tenantId, "nothing was deleted. Let them end");
    for (const shard of shards)
      if (!(await eraseRows(shardBinding(env, shard), tenantId, left, rowsPerStatement, rows)))
        return { found: true, done: false, rows };
    return { found: true, done: true, rows };
  }
  if (record?.moving_to != null)
    throw tenantConflict(`Tenant '${tenantId}' is moving to ${record.moving_to}; delete it once the move has ended.`);
  const db = record === null ? null : shardBinding(env, record.shard);
  // Refused before its keys are revoked, so a refusal changes nothing: the tenant keeps its keys
  // (and can cancel its responses) unless the operator deletes it again.
  if (db !== null) await refuseRunning(db, tenantId, "nothing was changed. Cancel them or let them end");
  // Revoked first: from the next request on, none of its keys writes anything the erasure would miss.
  await control
    .prepare("UPDATE api_keys SET revoked_at = unixepoch() WHERE tenant_id = ? AND revoked_at IS NULL")
    .bind(tenantId)
    .run();
  const rows: Record<string, number> = {};
  if (db !== null) {
    // Checked again: a response may have begun between the check above and the revocation.
    await refuseRunning(db, tenantId, "its keys are revoked, nothing was deleted. Let them end");
    if (!(await eraseRows(db, tenantId, left, rowsPerStatement, rows))) return { found: true, done: false, rows };
  }
  // A move cut short leaves rows on a shard that is not the tenant's: a partial copy on the
  // destination of one whose Worker was stopped and then called off, or the whole history on the
  // source of one stopped after recording the new shard. Nothing else would ever delete them.
  for (const name of await otherShardsHolding(env, tenantId, record?.shard))
    if (!(await eraseRows(shardBinding(env, name), tenantId, left, rowsPerStatement, rows)))
      return { found: true, done: false, rows };
  await control.batch([
    control.prepare("DELETE FROM api_keys WHERE tenant_id = ?").bind(tenantId),
    control.prepare("DELETE FROM tenants WHERE id = ?").bind(tenantId),
    control.prepare("DELETE FROM tenant_shards WHERE tenant_id = ?").bind(tenantId),
  ]);
  forgetShard(tenantId);
  return { found: true, done: true, rows };
}

/** A 409 while a response of the tenant runs on the shard (its run would write again what is deleted); `state` says what was done. */
async function refuseRunning(db: D1Database, tenantId: string, state: string): Promise<void> {
  const count = await runningResponses(db, tenantId);
  if (count > 0)
    throw tenantConflict(`Tenant '${tenantId}' has ${responsesCount(count)} running; ${state}, then delete it again.`);
}

/** Full statements a call may still run, shared by every shard it erases on (EraseBounds.budget). */
interface Budget {
  left: number;
}

/** Deletes the tenant's rows on one shard, adding the counts to `rows`; false when the budget ran out first. */
async function eraseRows(
  db: D1Database,
  tenantId: string,
  budget: Budget,
  rowsPerStatement: number,
  rows: Record<string, number>,
): Promise<boolean> {
  // The budget counts statements that deleted something: a later call passes the tables an earlier
  // one emptied at one statement each.
  for (const table of await tenantTables(db)) {
    const statement = db.prepare(boundedDelete(table, ownedRows(table), rowsPerStatement)).bind(tenantId);
    for (;;) {
      const { meta } = await statement.run();
      if (meta.changes === 0) break;
      rows[table.name] = (rows[table.name] ?? 0) + meta.changes;
      if (meta.changes < rowsPerStatement) break;
      if (--budget.left <= 0) return false;
    }
  }
  return true;
}

/**
 * The shards but `home` holding any row of the tenant: one query a shard (an index seek a table), so a
 * call erases only where a cut-short move left rows, not every table of every shard. All shards have
 * the same tables (the same migrations), read once; tables found by their response's id need no look
 * of their own, as their rows go with `responses`, which has a `tenant_id`.
 */
export async function otherShardsHolding(env: Env, tenantId: string, home: string | undefined): Promise<string[]> {
  const others = readShardPlan(env)
    .map(({ name }) => name)
    .filter((name) => name !== home);
  if (others.length === 0) return [];
  const tables = (await tenantTables(shardBinding(env, others[0] as string))).filter(
    (table) => table.where === "tenant_id = ?",
  );
  const holds = `SELECT ${tables.map((table) => `EXISTS (SELECT 1 FROM ${quoted(table.name)} WHERE tenant_id = ?1)`).join(" OR ")} AS found`;
  const found: string[] = [];
  for (const name of others) {
    const row = await shardBinding(env, name).prepare(holds).bind(tenantId).first<{ found: number }>();
    if (row?.found === 1) found.push(name);
  }
  return found;
}

/**
 * The shards holding usage or responses of a tenant with no record (one seek of each key per shard):
 * what a late write leaves, which has no record to find it by.
 */
async function shardsWithLeftovers(env: Env, tenantId: string): Promise<string[]> {
  const found: string[] = [];
  for (const { name } of readShardPlan(env)) {
    const row = await shardBinding(env, name)
      .prepare(
        "SELECT EXISTS (SELECT 1 FROM usage_daily WHERE tenant_id = ?1) OR EXISTS (SELECT 1 FROM responses WHERE tenant_id = ?1) AS found",
      )
      .bind(tenantId)
      .first<{ found: number }>();
    if (row?.found === 1) found.push(name);
  }
  return found;
}
