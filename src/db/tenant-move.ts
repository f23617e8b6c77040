// Moving one tenant's history to another shard, for an operator whose busiest tenant outgrows its
// shard (POST /admin/tenants/{id}/move). Adding shards never moves anyone; this is the one way a
// tenant changes shard. Used by src/routes/admin/tenant-move.ts. The steps, and why:
// 1. mark the tenant `moving_to` in DB: from then on its new requests read the old shard and their
//    first write waits for the move (src/db/shards.ts);
// 2. wait `drainSeconds` (at least REMEMBER_MS, so no isolate still trusts the old record), then until
//    the tenant has no running response on the old shard (runs keep to the shard they began on);
// 3. clear what an earlier move cut short left on the new shard, copy every row of the tenant, table
//    by table, and check the counts;
// 4. record the new shard (the waiting writes go there) and delete the tenant's rows from the old one.
// A failure before step 4 clears the mark and removes the partial copy: the old shard stays the tenant's.
// A move to the shard the tenant is on calls off its move: one whose Worker died (a deploy mid-move)
// leaves its mark for good, and the tenant's writes would wait for it forever.

import { invalidRequest } from "../errors";
import { logFailure } from "../observe/problems";
import { CONTROL_SHARD, forgetShard, holdWrites, readShardPlan, shardBinding } from "./shards";
import { otherShardsHolding } from "./tenant-erase";
import {
  boundedDelete,
  DELETE_ROWS_PER_STATEMENT,
  quoted,
  responsesCount,
  runningResponses,
  tenantConflict,
  tenantTables,
} from "./tenant-tables";

/** Rows read and written per statement batch while copying (a row may hold up to 2 MB). */
const COPY_PAGE_ROWS = 20;
/** How long the move waits for the tenant's running responses to end, and how often it looks. */
const RUNS_WAIT_MS = 60_000;
const RUNS_POLL_MS = 250;

export interface MoveOutcome {
  from: string;
  to: string;
  /** Rows copied per table. */
  rows: Record<string, number>;
}

export interface MoveBounds {
  /** Rows one `DELETE` removes: a big tenant's rows go in many short statements, each within D1's limits. */
  rowsPerStatement: number;
}

/** Null for an unknown tenant: one with neither a tenant row nor a recorded shard. */
export async function moveTenant(
  env: Env,
  tenantId: string,
  target: string,
  drainSeconds: number,
  { rowsPerStatement }: MoveBounds = { rowsPerStatement: DELETE_ROWS_PER_STATEMENT },
): Promise<MoveOutcome | null> {
  const deleteTenant = (db: D1Database) => deleteTenantRows(db, tenantId, rowsPerStatement);
  if (!readShardPlan(env).some((shard) => shard.name === target))
    throw invalidRequest(`Invalid 'shard': '${target.slice(0, 64)}' is not listed in D1_SHARDS.`, "shard");
  const control = shardBinding(env, CONTROL_SHARD);
  const marked = await control
    .prepare(
      "UPDATE tenant_shards SET moving_to = ?1 WHERE tenant_id = ?2 AND moving_to IS NULL AND shard <> ?1 RETURNING shard",
    )
    .bind(target, tenantId)
    .first<{ shard: string }>();
  if (marked === null) {
    const record = await control
      .prepare("SELECT shard, moving_to FROM tenant_shards WHERE tenant_id = ?")
      .bind(tenantId)
      .first<{ shard: string; moving_to: string | null }>();
    if (record === null) {
      // No history and no tenant of that id (a typo, or an erased tenant): nothing to record.
      const tenant = await control.prepare("SELECT id FROM tenants WHERE id = ?").bind(tenantId).first();
      if (tenant === null) return null;
      // Nothing written anywhere yet: recording the shard is the whole move.
      await control
        .prepare(
          "INSERT INTO tenant_shards (tenant_id, shard, created_at) VALUES (?, ?, unixepoch()) ON CONFLICT DO NOTHING",
        )
        .bind(tenantId, target)
        .run();
      forgetShard(tenantId);
      return { from: target, to: target, rows: {} };
    }
    if (record.moving_to !== null && record.shard === target) {
      // Calling a move off (one whose Worker died mid-move, a deploy, leaves its mark for good): the
      // tenant stays on its shard; a move still running notices at its last step and gives up.
      await control
        .prepare("UPDATE tenant_shards SET moving_to = NULL WHERE tenant_id = ? AND moving_to = ?")
        .bind(tenantId, record.moving_to)
        .run();
      forgetShard(tenantId);
      return { from: target, to: target, rows: {} };
    }
    // The record changed after the mark missed it (another move ended or was called off meanwhile):
    // `target` is not the tenant's shard, so the shards other than it are no leftovers to delete.
    if (record.moving_to === null && record.shard !== target)
      throw tenantConflict(
        `Tenant '${tenantId}' changed shards while this move started (it is on ${record.shard}); send the move again.`,
      );
    if (record.moving_to === null) {
      // Sent again after a move whose Worker was stopped while it deleted the old shard's rows (the
      // tenant is already here): it finishes that deletion, and any copy a cut-short move left.
      const leftovers = await otherShardsHolding(env, tenantId, target);
      for (const name of leftovers) await deleteTenant(shardBinding(env, name));
      if (leftovers.length > 0) return { from: target, to: target, rows: {} };
    }
    if (record.moving_to !== null)
      throw tenantConflict(
        `Tenant '${tenantId}' is already moving to ${record.moving_to}; to call that move off, move it to ${record.shard}.`,
      );
    throw invalidRequest(`Invalid 'shard': tenant '${tenantId}' is already on ${target}.`, "shard");
  }
  const from = marked.shard;
  let settle!: (shard: string) => void;
  holdWrites(tenantId, new Promise<string>((resolve) => (settle = resolve)));
  const source = shardBinding(env, from);
  const destination = shardBinding(env, target);
  let rows: Record<string, number>;
  try {
    await new Promise((resolve) => setTimeout(resolve, drainSeconds * 1000));
    await runsEnded(source, tenantId);
    // Rows an earlier move cut short left there are stale (the copy replaces rows, never deletes):
    // a response deleted since would come back with this move.
    await deleteTenant(destination);
    rows = await copyTenant(source, destination, tenantId);
    // Recorded only if the move was not called off meanwhile (the tenant then wrote to `from` again).
    const recorded = await control
      .prepare(
        "UPDATE tenant_shards SET shard = ?1, moving_to = NULL WHERE tenant_id = ?2 AND moving_to = ?1 RETURNING shard",
      )
      .bind(target, tenantId)
      .first();
    if (recorded === null)
      throw tenantConflict(`The move of tenant '${tenantId}' was called off; it stays on ${from}.`);
  } catch (error) {
    // Called off and moved again meanwhile, another move may have made `target` the tenant's shard.
    const now = await control
      .prepare("SELECT shard FROM tenant_shards WHERE tenant_id = ?")
      .bind(tenantId)
      .first<{ shard: string }>();
    if (now?.shard !== target)
      await deleteTenant(destination).catch((cleanup: unknown) =>
        logFailure("move cleanup failed", cleanup, { tenant_id: tenantId }),
      );
    await control
      .prepare("UPDATE tenant_shards SET moving_to = NULL WHERE tenant_id = ? AND moving_to = ?")
      .bind(tenantId, target)
      .run();
    settle(now?.shard ?? from);
    throw error;
  }
  settle(target);
  await deleteTenant(source);
  return { from, to: target, rows };
}

async function runsEnded(source: D1Database, tenantId: string): Promise<void> {
  const deadline = Date.now() + RUNS_WAIT_MS;
  for (;;) {
    const count = await runningResponses(source, tenantId);
    if (count === 0) return;
    if (Date.now() > deadline)
      throw tenantConflict(`Tenant '${tenantId}' still has ${responsesCount(count)} running; the move was called off.`);
    await new Promise((resolve) => setTimeout(resolve, RUNS_POLL_MS));
  }
}

/** D1 answers a BLOB as an array of bytes; it binds one as a Uint8Array. */
const bindable = (value: unknown): unknown => (Array.isArray(value) ? new Uint8Array(value as number[]) : value);

async function copyTenant(
  source: D1Database,
  destination: D1Database,
  tenantId: string,
): Promise<Record<string, number>> {
  const copied: Record<string, number> = {};
  for (const table of await tenantTables(source)) {
    const select = source.prepare(
      `SELECT * FROM ${quoted(table.name)} WHERE ${table.where} ORDER BY ${table.primaryKey.map(quoted).join(", ")} LIMIT ${COPY_PAGE_ROWS} OFFSET ?`,
    );
    let count = 0;
    for (;;) {
      const { results: page } = await select.bind(tenantId, count).all<Record<string, unknown>>();
      if (page.length === 0) break;
      await destination.batch(
        page.map((row) => {
          const columns = Object.keys(row);
          return destination
            .prepare(
              `INSERT OR REPLACE INTO ${quoted(table.name)} (${columns.map(quoted).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
            )
            .bind(...columns.map((column) => bindable(row[column])));
        }),
      );
      count += page.length;
      if (page.length < COPY_PAGE_ROWS) break;
    }
    const there = await destination
      .prepare(`SELECT count(*) AS n FROM ${quoted(table.name)} WHERE ${table.where}`)
      .bind(tenantId)
      .first<{ n: number }>();
    if ((there?.n ?? 0) < count)
      throw new Error(`move of ${tenantId}: ${table.name} has ${there?.n ?? 0} rows on the new shard, ${count} copied`);
    if (count > 0) copied[table.name] = count;
  }
  return copied;
}

/**
 * Deletes the tenant's rows on `db` in statements of up to `rowsPerStatement` rows each (one statement
 * over every row of a big tenant could pass D1's limits on a query's time). Each statement is whole
 * on its own: a Worker stopped midway leaves only rows, which a later call deletes.
 */
async function deleteTenantRows(db: D1Database, tenantId: string, rowsPerStatement: number): Promise<void> {
  for (const table of await tenantTables(db)) {
    const statement = db.prepare(boundedDelete(table, table.where, rowsPerStatement)).bind(tenantId);
    while ((await statement.run()).meta.changes >= rowsPerStatement);
  }
}
