// Moving one tenant's history to another shard, for an operator whose busiest tenant outgrows its
// shard (POST /admin/tenants/{id}/move). Adding shards never moves anyone; this is the one way a
// tenant changes shard. Used by src/routes/admin/tenant-move.ts. The steps, and why:
// 1. mark the tenant `moving_to` in DB: from then on its new requests read the old shard and their
//    first write waits for the move (src/db/shards.ts);
// 2. wait `drainSeconds` (at least REMEMBER_MS, so no isolate still trusts the old record), then until
//    the tenant has no running response on the old shard (runs keep to the shard they began on);
// 3. clear what an earlier move cut short left on the new shard, copy every row of the tenant, table
//    by table in key order (each page seeks past the last row copied), and check the counts;
// 4. record the new shard (the waiting writes go there) and delete the tenant's rows from the old one.
// One call runs up to a budget of D1 statements (a Worker's subrequests are limited): a big tenant's
// move takes several calls, each saving in `move_progress` how far it got; the same move sent again
// goes on from there, and its writes wait (503) until the last call records the new shard.
// A failure before step 4 clears the mark and removes the partial copy: the old shard stays the tenant's.
// A move to the shard the tenant is on calls off its move: one whose Worker died (a deploy mid-move)
// leaves its mark for good, and the tenant's writes would wait for it forever.

import { ApiError, invalidRequest } from "../errors";
import { logFailure } from "../observe/problems";
import { CONTROL_SHARD, forgetShard, holdWrites, readShardPlan, shardBinding, storageMoving } from "./shards";
import { otherShardsHolding } from "./tenant-erase";
import {
  boundedDelete,
  DELETE_ROWS_PER_STATEMENT,
  ownedRows,
  quoted,
  responsesCount,
  runningResponses,
  tenantConflict,
  tenantTables,
  type TenantTable,
} from "./tenant-tables";

/** Rows read and written per statement batch while copying (a row may hold up to 2 MB). */
const COPY_PAGE_ROWS = 20;
/**
 * D1 statements one call runs for its copy and deletions (a page copied counts two): far below a
 * Worker's 1,000 D1 calls an invocation, leaving room for the rest. 6,000 rows copied, or 300,000 deleted.
 */
export const MOVE_STATEMENT_BUDGET = 600;
/** How long the move waits for the tenant's running responses to end, and how often it looks. */
const RUNS_WAIT_MS = 60_000;
const RUNS_POLL_MS = 250;

export interface MoveOutcome {
  from: string;
  to: string;
  /** Rows copied per table by this call. */
  rows: Record<string, number>;
  /** False when the budget ran out first: send the same move again, it goes on where this call stopped. */
  done: boolean;
}

export interface MoveBounds {
  /** Rows one `DELETE` removes: a big tenant's rows go in many short statements, each within D1's limits. */
  rowsPerStatement: number;
  /** Rows one page of the copy reads and writes. */
  pageRows: number;
  /** D1 statements one call runs for its copy and deletions (MOVE_STATEMENT_BUDGET). */
  budget: number;
}

const DEFAULT_BOUNDS: MoveBounds = {
  rowsPerStatement: DELETE_ROWS_PER_STATEMENT,
  pageRows: COPY_PAGE_ROWS,
  budget: MOVE_STATEMENT_BUDGET,
};

/** How far a move got, kept in `tenant_shards.move_progress` between its calls. */
interface MoveProgress {
  /** When the drain ends (ms since the epoch): a call sent again before then waits for it too. */
  drainUntil: number;
  /** Step 3's clearing of the new shard is done. */
  cleared: boolean;
  /** The table being copied (null before the first), and the key of its last row copied (null: none yet). */
  table: string | null;
  after: unknown[] | null;
  /** Rows copied per table over every call (the counts checked). */
  copied: Record<string, number>;
  /** The call carrying the move on (a random id): a call whose claim was overtaken saves and records nothing. */
  call?: string;
}

/** D1 statements a call may still run (MoveBounds.budget). */
interface Budget {
  left: number;
}

/** Null for an unknown tenant: one with neither a tenant row nor a recorded shard. */
export async function moveTenant(
  env: Env,
  tenantId: string,
  target: string,
  drainSeconds: number,
  bounds: Partial<MoveBounds> = {},
): Promise<MoveOutcome | null> {
  const { rowsPerStatement, pageRows, budget } = { ...DEFAULT_BOUNDS, ...bounds };
  const left: Budget = { left: budget };
  const deleteTenant = (db: D1Database) => deleteTenantRows(db, tenantId, rowsPerStatement, left);
  if (!readShardPlan(env).some((shard) => shard.name === target))
    throw invalidRequest(`Invalid 'shard': '${target.slice(0, 64)}' is not listed in D1_SHARDS.`, "shard");
  const control = shardBinding(env, CONTROL_SHARD);
  const fresh: MoveProgress = {
    drainUntil: Date.now() + drainSeconds * 1000,
    cleared: false,
    table: null,
    after: null,
    copied: {},
  };
  const marked = await control
    .prepare(
      "UPDATE tenant_shards SET moving_to = ?1, move_progress = ?3 WHERE tenant_id = ?2 AND moving_to IS NULL AND shard <> ?1 RETURNING shard",
    )
    .bind(target, tenantId, JSON.stringify(fresh))
    .first<{ shard: string }>();
  let from: string;
  let saved: string;
  if (marked !== null) {
    from = marked.shard;
    saved = JSON.stringify(fresh);
  } else {
    const record = await control
      .prepare("SELECT shard, moving_to, move_progress FROM tenant_shards WHERE tenant_id = ?")
      .bind(tenantId)
      .first<{ shard: string; moving_to: string | null; move_progress: string | null }>();
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
      return { from: target, to: target, rows: {}, done: true };
    }
    if (record.moving_to !== null && record.shard === target) {
      // Calling a move off (one whose Worker died mid-move, a deploy, leaves its mark for good): the
      // tenant stays on its shard; a move still running notices at its last step and gives up.
      await control
        .prepare(
          "UPDATE tenant_shards SET moving_to = NULL, move_progress = NULL WHERE tenant_id = ? AND moving_to = ?",
        )
        .bind(tenantId, record.moving_to)
        .run();
      forgetShard(tenantId);
      return { from: target, to: target, rows: {}, done: true };
    }
    // The record changed after the mark missed it (another move ended or was called off meanwhile):
    // `target` is not the tenant's shard, so the shards other than it are no leftovers to delete.
    if (record.moving_to === null && record.shard !== target)
      throw tenantConflict(
        `Tenant '${tenantId}' changed shards while this move started (it is on ${record.shard}); send the move again.`,
      );
    if (record.moving_to === null) {
      // Sent again after a move whose Worker was stopped while it deleted the old shard's rows, or
      // whose budget ran out there (the tenant is already here): it goes on with that deletion, and
      // any copy a cut-short move left.
      const leftovers = await otherShardsHolding(env, tenantId, target);
      for (const name of leftovers)
        if (!(await deleteTenant(shardBinding(env, name)))) return { from: target, to: target, rows: {}, done: false };
      if (leftovers.length > 0) return { from: target, to: target, rows: {}, done: true };
      throw invalidRequest(`Invalid 'shard': tenant '${tenantId}' is already on ${target}.`, "shard");
    }
    // A move to `target` under way, sent again: it goes on from where its last call stopped. A mark
    // without progress is another move's (or older code's) and is only called off.
    if (record.moving_to !== target || record.move_progress === null)
      throw tenantConflict(
        `Tenant '${tenantId}' is already moving to ${record.moving_to}; to call that move off, move it to ${record.shard}.`,
      );
    // Claimed before anything is cleared or copied: an earlier call still running (its client gave
    // up, or the move was sent twice) then finds its progress taken at its next save or its record
    // and stops, rather than record the new shard over a copy this call cleared.
    saved = JSON.stringify({ ...(JSON.parse(record.move_progress) as MoveProgress), call: crypto.randomUUID() });
    const claimed = await control
      .prepare(
        "UPDATE tenant_shards SET move_progress = ?1 WHERE tenant_id = ?2 AND moving_to = ?3 AND move_progress = ?4 RETURNING shard",
      )
      .bind(saved, tenantId, target, record.move_progress)
      .first();
    if (claimed === null)
      throw tenantConflict(
        `Another call is carrying on the move of tenant '${tenantId}' to ${target}; send the move again once it has answered.`,
      );
    from = record.shard;
  }
  const progress = JSON.parse(saved) as MoveProgress;
  const copiedBefore = { ...progress.copied };
  const copiedNow = (): Record<string, number> =>
    Object.fromEntries(
      Object.entries(progress.copied)
        .map(([table, n]): [string, number] => [table, n - (copiedBefore[table] ?? 0)])
        .filter(([, n]) => n > 0),
    );
  let settle!: (shard: string) => void;
  let refuse!: (error: unknown) => void;
  holdWrites(
    tenantId,
    new Promise<string>((resolve, reject) => {
      settle = resolve;
      refuse = reject;
    }),
  );
  const source = shardBinding(env, from);
  const destination = shardBinding(env, target);
  try {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, progress.drainUntil - Date.now())));
    await runsEnded(source, tenantId);
    let finished = true;
    if (!progress.cleared) {
      // Rows an earlier move cut short left there are stale (the copy replaces rows, never deletes):
      // a response deleted since would come back with this move.
      finished = await deleteTenant(destination);
      progress.cleared = finished;
    }
    if (finished) finished = await copyTenant(source, destination, tenantId, progress, pageRows, left);
    if (!finished) {
      const kept = await control
        .prepare(
          "UPDATE tenant_shards SET move_progress = ?1 WHERE tenant_id = ?2 AND moving_to = ?3 AND move_progress = ?4 RETURNING shard",
        )
        .bind(JSON.stringify(progress), tenantId, target, saved)
        .first();
      if (kept === null) await overtaken(control, tenantId, target, from);
      // The tenant's writes in this isolate get the 503 that other isolates' get while it moves.
      refuse(storageMoving());
      return { from, to: target, rows: copiedNow(), done: false };
    }
    // Recorded only if the move was not called off meanwhile (the tenant then wrote to `from` again).
    const recorded = await control
      .prepare(
        "UPDATE tenant_shards SET shard = ?1, moving_to = NULL, move_progress = NULL WHERE tenant_id = ?2 AND moving_to = ?1 AND move_progress = ?3 RETURNING shard",
      )
      .bind(target, tenantId, saved)
      .first();
    if (recorded === null) await overtaken(control, tenantId, target, from);
  } catch (error) {
    if (error instanceof CarriedOn) {
      refuse(storageMoving());
      throw error.conflict;
    }
    // Called off and moved again meanwhile, another move may have made `target` the tenant's shard.
    const now = await control
      .prepare("SELECT shard FROM tenant_shards WHERE tenant_id = ?")
      .bind(tenantId)
      .first<{ shard: string }>();
    // A budget of its own: a failed call may have spent its own.
    if (now?.shard !== target)
      await deleteTenantRows(destination, tenantId, rowsPerStatement, { left: budget }).catch((cleanup: unknown) =>
        logFailure("move cleanup failed", cleanup, { tenant_id: tenantId }),
      );
    await control
      .prepare("UPDATE tenant_shards SET moving_to = NULL, move_progress = NULL WHERE tenant_id = ? AND moving_to = ?")
      .bind(tenantId, target)
      .run();
    settle(now?.shard ?? from);
    throw error;
  }
  settle(target);
  try {
    const deleted = await deleteTenant(source);
    return { from, to: target, rows: copiedNow(), done: deleted };
  } catch (error) {
    logFailure("move's deletion of the old shard failed", error, { tenant_id: tenantId });
    throw new ApiError(
      503,
      `Tenant '${tenantId}' was moved to ${target}, but deleting its rows on ${from} failed; send the same move again to finish deleting them.`,
      { type: "server_error", code: "tenant_move_unfinished", headers: { "retry-after": "2" } },
    );
  }
}

/** Another call of the same move saved its progress first: this one leaves the move to it. */
class CarriedOn extends Error {
  constructor(readonly conflict: ApiError) {
    super(conflict.message);
  }
}

/** Why a call's progress or record missed: the move called off (a 409, its copy deleted), or carried on by another call. */
async function overtaken(control: D1Database, tenantId: string, target: string, from: string): Promise<never> {
  const record = await control
    .prepare("SELECT shard, moving_to FROM tenant_shards WHERE tenant_id = ?")
    .bind(tenantId)
    .first<{ shard: string; moving_to: string | null }>();
  // Another call of this move recorded it first: the tenant is on `target` (the caller's catch keeps it so).
  if (record?.moving_to === null && record.shard === target)
    throw tenantConflict(`Another call of this move finished it: tenant '${tenantId}' is on ${target}.`);
  if (record?.moving_to === target)
    throw new CarriedOn(
      tenantConflict(
        `Another call is carrying on the move of tenant '${tenantId}' to ${target}; send the move again once it has answered.`,
      ),
    );
  throw tenantConflict(`The move of tenant '${tenantId}' was called off; it stays on ${from}.`);
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

/**
 * A page of the tenant's rows of `table` in key order: the first (`after` false), or the next past
 * a key (its columns as parameters from `?2`). A key that begins with `tenant_id` seeks on the rest
 * of it (SQLite seeks on no row value that holds the fixed column); a table found by its responses'
 * ids walks them in order, each response's rows by its key. Each page reads about its own rows, not
 * every row before it, as an OFFSET would.
 */
function pageQuery(table: TenantTable, pageRows: number, after: boolean): string {
  const name = quoted(table.name);
  const key = table.primaryKey;
  if (table.where !== "tenant_id = ?" && key[0] === "response_id") {
    const rest = key.slice(1).map((column) => `c.${quoted(column)}`);
    const seek = after
      ? ` AND r.id >= ?2 AND (${["c.response_id", ...rest].join(", ")}) > (${key.map((_, i) => `?${i + 2}`).join(", ")})`
      : "";
    return `SELECT c.* FROM responses r JOIN ${name} c ON c.response_id = r.id WHERE r.tenant_id = ?1${seek} ORDER BY ${["r.id", ...rest].join(", ")} LIMIT ${pageRows}`;
  }
  const seekColumns = key[0] === "tenant_id" && table.where === "tenant_id = ?" ? key.slice(1) : key;
  const seek =
    after && seekColumns.length > 0
      ? ` AND (${seekColumns.map(quoted).join(", ")}) > (${seekColumns.map((_, i) => `?${i + 2}`).join(", ")})`
      : "";
  return `SELECT * FROM ${name} WHERE ${ownedRows(table)}${seek} ORDER BY ${key.map(quoted).join(", ")} LIMIT ${pageRows}`;
}

/** The values `pageQuery`'s seek binds after the tenant id, from the last row copied. */
function seekValues(table: TenantTable, after: unknown[]): unknown[] {
  const fixed = table.primaryKey[0] === "tenant_id" && table.where === "tenant_id = ?";
  return fixed ? after.slice(1) : after;
}

/**
 * Copies the tenant's rows from where `progress` says, table by table, noting each page in it; false
 * when the budget ran out first. Blobs written before they named a tenant are written naming it.
 */
async function copyTenant(
  source: D1Database,
  destination: D1Database,
  tenantId: string,
  progress: MoveProgress,
  pageRows: number,
  budget: Budget,
): Promise<boolean> {
  const tables = await tenantTables(source);
  const start = Math.max(
    0,
    tables.findIndex((table) => table.name === progress.table),
  );
  for (const table of tables.slice(start)) {
    if (progress.table !== table.name) {
      progress.table = table.name;
      progress.after = null;
    }
    const first = source.prepare(pageQuery(table, pageRows, false));
    const next = source.prepare(pageQuery(table, pageRows, true));
    for (;;) {
      if (budget.left < 2) return false;
      budget.left -= 2;
      const query =
        progress.after === null ? first.bind(tenantId) : next.bind(tenantId, ...seekValues(table, progress.after));
      const { results: page } = await query.all<Record<string, unknown>>();
      if (page.length === 0) break;
      await destination.batch(
        page.map((row) => {
          if (table.name === "blobs" && row.tenant_id === "") row = { ...row, tenant_id: tenantId };
          const columns = Object.keys(row);
          return destination
            .prepare(
              `INSERT OR REPLACE INTO ${quoted(table.name)} (${columns.map(quoted).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
            )
            .bind(...columns.map((column) => bindable(row[column])));
        }),
      );
      const last = page[page.length - 1]!;
      progress.after = table.primaryKey.map((column) => last[column]);
      progress.copied[table.name] = (progress.copied[table.name] ?? 0) + page.length;
      if (page.length < pageRows) break;
    }
    if (budget.left < 1) return false;
    budget.left -= 1;
    const count = progress.copied[table.name] ?? 0;
    const there = await destination
      .prepare(`SELECT count(*) AS n FROM ${quoted(table.name)} WHERE ${ownedRows(table)}`)
      .bind(tenantId)
      .first<{ n: number }>();
    if ((there?.n ?? 0) < count)
      throw new Error(`move of ${tenantId}: ${table.name} has ${there?.n ?? 0} rows on the new shard, ${count} copied`);
  }
  return true;
}

/**
 * Deletes the tenant's rows on `db` in statements of up to `rowsPerStatement` rows each (one statement
 * over every row of a big tenant could pass D1's limits on a query's time), blobs written before
 * they named a tenant included; false when the budget ran out first. Each statement is whole on its
 * own: a Worker stopped midway leaves only rows, which a later call deletes.
 */
async function deleteTenantRows(
  db: D1Database,
  tenantId: string,
  rowsPerStatement: number,
  budget: Budget,
): Promise<boolean> {
  for (const table of await tenantTables(db)) {
    const statement = db.prepare(boundedDelete(table, ownedRows(table), rowsPerStatement)).bind(tenantId);
    // The budget counts statements that deleted something: a later call passes the tables an earlier
    // one emptied at one statement each (as an erasure's).
    for (;;) {
      if (budget.left < 1) return false;
      const { changes } = (await statement.run()).meta;
      if (changes > 0) budget.left -= 1;
      if (changes < rowsPerStatement) break;
    }
  }
  return true;
}
