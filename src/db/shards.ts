// Shard routing, the only way to D1: which database holds a tenant's history, and the Drizzle
// clients over it. Used by every route, run and sweep that reads or writes D1 (a lint rule keeps
// bindings out of every other file). The rule is in docs/sharding.md; in short:
// - `D1_SHARDS` lists the history databases by binding name, `DB` first: `DB,DB_2,DB_3`, each with an
//   optional weight (`DB_2:3`; `:0` takes no new tenants). Unset, it is `DB` alone.
// - Tenants and gateway keys live in `DB`, as does `tenant_shards`: each tenant's database, written
//   once before its first write. Adding a shard therefore moves no tenant; only an operator's move
//   (tenant-move.ts) changes a tenant's shard, and its writes wait while it runs.
// - A tenant with no row yet is placed by a hash of its id over the shards in proportion to their
//   weights; it is recorded there by its first write (a read writes nothing).

import { createTableRelationsHelpers, eq, extractTablesRelationalConfig } from "drizzle-orm";
import { DrizzleD1Database, SQLiteD1Session } from "drizzle-orm/d1";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import { ApiError } from "../errors";
import { logConfigProblem, logFailure, logMoveWait } from "../observe/problems";
import type { Db } from "./client";
import { noteClient } from "./prepared";
import { routedClient, type D1Client } from "./routed-client";
import { CONTROL_SHARD, parseShardPlan, placeNewTenant, type ShardPlan } from "./shard-plan";
import * as schema from "./schema";
import { tenantShards } from "./schema";

/** Shards read or swept at once by a fan-out: a Worker invocation may hold six connections to D1. */
export const SHARD_CONCURRENCY = 4;
/** Tenants whose shard an isolate remembers (about 100 bytes each); a miss costs one lookup in DB. */
const MAX_REMEMBERED_TENANTS = 20_000;
/**
 * How long an isolate trusts the shard it read for a tenant: a move waits at least this long after
 * marking the tenant (tenant-move.ts), so that no isolate still sends its new writes to the old shard.
 */
export const REMEMBER_MS = 30_000;
/** How long a write waits for another isolate's move of its tenant before answering 503, and how often it looks. */
const MOVE_WAIT_MS = 20_000;
const MOVE_POLL_MS = 200;

export { CONTROL_SHARD, parseShardPlan, placeNewTenant, type Shard, type ShardPlan } from "./shard-plan";

// ---- the setting ----

const plans = new Map<string, ShardPlan>();

/**
 * `D1_SHARDS` read and checked: its shards, or what is wrong with it (the words of its
 * config_problem line and its 500) and the shards it names that are bound (`DB` when it cannot be read).
 */
type PlanReading = { ok: true; plan: ShardPlan } | { ok: false; problem: string; bound: string[] };

function readPlan(env: Env): PlanReading {
  const setting = (env as { D1_SHARDS?: unknown }).D1_SHARDS;
  const text = typeof setting === "string" ? setting : "";
  let plan = plans.get(text);
  if (plan === undefined) {
    const parsed = parseShardPlan(text);
    if (typeof parsed === "string") {
      const bound = isD1(bindingValue(env, CONTROL_SHARD)) ? [CONTROL_SHARD] : [];
      return { ok: false, problem: `D1_SHARDS is invalid (${parsed}).`, bound };
    }
    plan = parsed;
    plans.set(text, plan);
  }
  const unbound = plan.find((shard) => !isD1(bindingValue(env, shard.name)));
  if (unbound === undefined) return { ok: true, plan };
  return {
    ok: false,
    problem: `D1_SHARDS names '${unbound.name}', which is not bound to a D1 database; allowed: the bindings of [[d1_databases]] in wrangler.toml.`,
    bound: plan.map((shard) => shard.name).filter((name) => isD1(bindingValue(env, name))),
  };
}

const D1_SHARDS_INVALID = "d1_shards_invalid";

/** Problems of `D1_SHARDS` this isolate has logged: each once, as src/config.ts logs a wrong setting's. */
const reportedProblems = new Set<string>();

/**
 * The shards `D1_SHARDS` names; a wrong setting is a 500 that names it and the binding at fault,
 * and one config_problem line per isolate (not one per request it refuses).
 */
export function readShardPlan(env: Env): ShardPlan {
  const reading = readPlan(env);
  if (reading.ok) return reading.plan;
  if (!reportedProblems.has(reading.problem)) {
    reportedProblems.add(reading.problem);
    logConfigProblem("D1_SHARDS", `gateway misconfigured (every request refused): ${reading.problem}`);
  }
  throw invalidSetting(reading.problem);
}

/** The error of a wrong `D1_SHARDS` (no D1 failure: nothing was asked of D1, and a retry meets it again). */
export const isShardSettingError = (error: unknown): boolean =>
  error instanceof ApiError && error.code === D1_SHARDS_INVALID;

/**
 * The cron's shards: every shard when `D1_SHARDS` is right. When it is wrong, one line names the
 * setting and the shards still swept (those of it that are bound; `DB` when it cannot be read):
 * the sweeps and retention go on where they can, as requests cannot.
 */
export function sweptShards(env: Env): { name: string; db: Db }[] {
  const reading = readPlan(env);
  if (reading.ok) return everyShard(env);
  const { problem, bound } = reading;
  logConfigProblem(
    "D1_SHARDS",
    `${problem} The cron sweeps ${bound.length === 0 ? "no shard" : bound.join(", ")} until it is fixed.`,
  );
  return bound.map((name) => ({ name, db: primaryClient(bindingOf(env, name)) }));
}

/** A binding name is no secret: the answer names it, as src/config.ts names a wrong setting's value. */
const invalidSetting = (problem: string): ApiError =>
  new ApiError(500, `The gateway is misconfigured: ${problem} Its operator must correct this.`, {
    type: "server_error",
    code: D1_SHARDS_INVALID,
    // The operator's to fix: a retry would get the same answer.
    headers: { "x-should-retry": "false" },
  });

// ---- Drizzle clients ----

const dialect = new SQLiteAsyncDialect();
const relations = (() => {
  const tables = extractTablesRelationalConfig(schema, createTableRelationsHelpers);
  return { fullSchema: schema, schema: tables.tables, tableNamesMap: tables.tableNamesMap };
})();

/**
 * A Drizzle client over a binding or a session. What `drizzle()` does, with the schema's relational
 * config derived once per isolate: deriving it per client cost 0.4 ms of CPU, a session per request 0.07.
 * Its `db.query` builders (one per table, which Drizzle's constructor makes) are made on first use:
 * every request makes a tenant client and few use them (about 0.03 ms a client, V8 profile).
 */
function clientOver(d1: D1Client): Db {
  const session = new SQLiteD1Session(d1 as D1Database, dialect, relations, {});
  const db: Db = new DrizzleD1Database("async", dialect, session as never, undefined);
  // The constructor reads `_` only to make the builders; it is set as `drizzle()` would have it.
  Object.assign(db, { _: { schema: relations.schema, fullSchema: schema, tableNamesMap: relations.tableNamesMap } });
  Object.defineProperty(db, "query", {
    configurable: true,
    get(): Db["query"] {
      const { query }: Db = new DrizzleD1Database("async", dialect, session as never, relations as never);
      Object.defineProperty(db, "query", { value: query });
      return query;
    },
  });
  noteClient(db, d1);
  return db;
}

/** One client per binding: it holds configuration only, so isolates share it between requests. */
const bindingClients = new WeakMap<D1Database, Db>();

function primaryClient(binding: D1Database): Db {
  let db = bindingClients.get(binding);
  if (db === undefined) {
    db = clientOver(binding);
    bindingClients.set(binding, db);
  }
  return db;
}

const bindingValue = (env: Env, name: string): unknown => (env as unknown as Record<string, unknown>)[name];

const isD1 = (value: unknown): value is D1Database =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as D1Database).prepare === "function" &&
  typeof (value as D1Database).batch === "function";

function bindingOf(env: Env, name: string): D1Database {
  const binding = bindingValue(env, name);
  if (!isD1(binding)) {
    logConfigProblem(
      name,
      `D1 binding ${name} is missing: a tenant is recorded on a shard this deployment no longer binds`,
    );
    throw invalidSetting(
      `the D1 binding '${name}' is missing, and history is recorded there; allowed: every shard that holds tenants stays bound in [[d1_databases]] in wrangler.toml.`,
    );
  }
  return binding;
}

/** The first database, for tenants, gateway keys and the admin API's tenant routes. */
export function controlDb(env: Env): Db {
  return primaryClient(bindingOf(env, CONTROL_SHARD));
}

/** Every shard's primary, `DB` first, for the operator's views and the sweeps. */
export function everyShard(env: Env): { name: string; db: Db }[] {
  return readShardPlan(env).map((shard) => ({ name: shard.name, db: primaryClient(bindingOf(env, shard.name)) }));
}

/** Runs `work` on every shard (or on `shards`), at most SHARD_CONCURRENCY at once; answers in their order. */
export async function onEveryShard<T>(
  env: Env,
  work: (shard: { name: string; db: Db }) => Promise<T>,
  shards: { name: string; db: Db }[] = everyShard(env),
): Promise<T[]> {
  const results: T[] = new Array<T>(shards.length);
  let next = 0;
  const lane = async () => {
    while (next < shards.length) {
      const index = next++;
      results[index] = await work(shards[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(SHARD_CONCURRENCY, shards.length) }, lane));
  return results;
}

/** Checks that every shard answers (GET /health). */
/**
 * The newest migration (migrations/) this version's queries need; test/e2e/models-health.test.ts
 * keeps it in step with the folder. A Worker deployed before its migrations were applied fails every
 * query that touches what they add.
 */
export const REQUIRED_MIGRATION = "0014_tenant_move_progress.sql";

/** The newest migration applied to the shard `name` (null: none); throws when D1 cannot be read. */
export async function newestMigration(env: Env, name: string): Promise<string | null> {
  const shard = bindingOf(env, name);
  try {
    const newest = await shard
      .prepare("SELECT name FROM d1_migrations ORDER BY id DESC LIMIT 1")
      .first<{ name: string }>();
    return newest?.name ?? null;
  } catch (error) {
    // wrangler creates d1_migrations with the first migration it applies: a shard added to D1_SHARDS
    // and never migrated has none, which is no failure to read it.
    if (error instanceof Error && /no such table: d1_migrations\b/.test(error.message)) return null;
    throw error;
  }
}

/**
 * Reads each shard's newest applied migration (`d1_migrations`, where wrangler records them): throws
 * when one is unreachable or older than REQUIRED_MIGRATION, naming the shard and both migrations.
 */
export async function pingShards(env: Env): Promise<void> {
  await Promise.all(
    readShardPlan(env).map(async (shard) => {
      const newest = await newestMigration(env, shard.name);
      const applied = newest ?? "none";
      if (newest === null || applied < REQUIRED_MIGRATION)
        throw new Error(
          `D1 ${shard.name} is not migrated: its newest migration is ${applied}, this version needs ${REQUIRED_MIGRATION}; apply the migrations (wrangler d1 migrations apply).`,
        );
    }),
  );
}

// ---- a tenant's shard ----

/** Tenant -> recorded shard and when it was read, in insertion order (the first entry is the oldest). */
const remembered = new Map<string, { shard: string; at: number }>();

function remember(tenantId: string, shard: string): void {
  remembered.delete(tenantId);
  remembered.set(tenantId, { shard, at: Date.now() });
  for (const oldest of remembered.keys()) {
    if (remembered.size <= MAX_REMEMBERED_TENANTS) break;
    remembered.delete(oldest);
  }
}

/** The shard this isolate read for the tenant less than REMEMBER_MS ago, unless it is moving. */
function rememberedShard(tenantId: string): string | undefined {
  const entry = remembered.get(tenantId);
  if (entry === undefined || moves.has(tenantId)) return undefined;
  if (Date.now() - entry.at < REMEMBER_MS) return entry.shard;
  remembered.delete(tenantId);
  return undefined;
}

/** Forgets what this isolate knows of the tenant's shard (a move begins or ends). */
export function forgetShard(tenantId: string): void {
  remembered.delete(tenantId);
}

interface ShardRecord {
  shard: string;
  movingTo: string | null;
}

/**
 * The tenant's record, read at the primary: a replica that lagged behind a move would send writes to
 * the shard the tenant left. One read per tenant per isolate every REMEMBER_MS.
 */
async function lookUpShard(env: Env, tenantId: string): Promise<ShardRecord | undefined> {
  return controlDb(env)
    .select({ shard: tenantShards.shard, movingTo: tenantShards.movingTo })
    .from(tenantShards)
    .where(eq(tenantShards.tenantId, tenantId))
    .get();
}

/**
 * Whether the tenant has a shard record, read at the primary: a tenant that has written anything has
 * one until an operator erases it (tenant-erase.ts). Never records one.
 */
export async function tenantRecorded(env: Env, tenantId: string): Promise<boolean> {
  return (await lookUpShard(env, tenantId)) !== undefined;
}

/**
 * Records `shard` as the tenant's, unless another write recorded one first; answers the recorded one.
 * One batch: the insert and the read back are one transaction and one round trip.
 */
async function recordShard(env: Env, tenantId: string, shard: string): Promise<string> {
  const db = controlDb(env);
  const [, recorded] = await db.batch([
    db
      .insert(tenantShards)
      .values({ tenantId, shard, createdAt: Math.floor(Date.now() / 1000) })
      .onConflictDoNothing(),
    db.select({ shard: tenantShards.shard }).from(tenantShards).where(eq(tenantShards.tenantId, tenantId)),
  ]);
  return recorded[0]?.shard ?? shard;
}

// ---- moves (src/db/tenant-move.ts) ----

/** Moves under way in this isolate: each settles with the tenant's shard once it ends. */
const moves = new Map<string, Promise<string>>();

/** Marks a move of the tenant as under way in this isolate until `ended` settles (tenant-move.ts). */
export function holdWrites(tenantId: string, ended: Promise<string>): void {
  moves.set(tenantId, ended);
  forgetShard(tenantId);
  // A call that ends with the move still under way (a big tenant's) rejects: its waiting writes get the 503.
  void ended
    .catch(() => undefined)
    .finally(() => {
      if (moves.get(tenantId) === ended) moves.delete(tenantId);
    });
}

/** The 503 of a write that a move holds past its wait: the client retries. */
export const storageMoving = (): ApiError =>
  new ApiError(503, "The gateway is moving this account's storage; try again.", {
    type: "server_error",
    code: "storage_unavailable",
    headers: { "retry-after": "2" },
  });

/** Waits (polling DB's record) for another isolate's move of the tenant to end; answers its shard. */
async function moveEnded(env: Env, tenantId: string): Promise<string> {
  const started = Date.now();
  for (;;) {
    const record = await lookUpShard(env, tenantId);
    if (record === undefined) throw storageMoving();
    if (record.movingTo === null) return record.shard;
    if (Date.now() > started + MOVE_WAIT_MS) {
      logMoveWait(tenantId, record.shard, record.movingTo, Date.now() - started);
      throw storageMoving();
    }
    await new Promise((resolve) => setTimeout(resolve, MOVE_POLL_MS));
  }
}

// ---- a tenant's store ----

export interface StoreOptions {
  /**
   * The store writes to a response that is already running (a run's recovery, ending a dead run):
   * during a move of the tenant it keeps to the shard the response began on instead of waiting for
   * the move, which itself waits for the tenant's running responses to end.
   */
  running?: boolean;
}

/** A tenant's database for one request or run. */
export interface TenantStore {
  /** The shard's binding name (its new one once a move that held this store's first write ends). */
  readonly shard: string;
  /** The primary: every write, and reads that must see the latest state (a run's own, a poll). */
  primary: Db;
  /**
   * A D1 session for reads that a replica may serve: its first query goes to the primary and every
   * later one to a replica at least as new (D1's Sessions API, `first-primary`), so the request
   * reads everything written before it began, its own writes included. Each call opens a new session.
   */
  reads(): Db;
}

/**
 * The tenant's database. A tenant this isolate has not seen lately is looked up in `tenant_shards`;
 * one with no record gets the shard the rule gives it, and its first write records that shard first,
 * so nothing is written anywhere for a tenant with no record. While an operator moves the tenant,
 * reads go to the shard it is leaving and the first write waits for the move to end, then goes to
 * the new shard; a store that wrote before the move began keeps to its shard (the move waits for
 * the tenant's running responses to end).
 */
export async function tenantStore(env: Env, tenantId: string, options: StoreOptions = {}): Promise<TenantStore> {
  const plan = readShardPlan(env);
  const waitsForMoves = options.running !== true;
  const known = rememberedShard(tenantId);
  if (known !== undefined) return storeOn(env, tenantId, known, null, waitsForMoves);
  // With one shard too: a tenant written while `DB` was alone must stay there when shards are added.
  const record = await lookUpShard(env, tenantId);
  if (record !== undefined) {
    if (record.movingTo !== null)
      return storeOn(env, tenantId, record.shard, waitsForMoves ? () => moveEnded(env, tenantId) : null, waitsForMoves);
    remember(tenantId, record.shard);
    return storeOn(env, tenantId, record.shard, null, waitsForMoves);
  }
  const placed = await placeNewTenant(plan, tenantId);
  return storeOn(
    env,
    tenantId,
    placed,
    async () => {
      const shard = await recordShard(env, tenantId, placed);
      if (shard !== placed) {
        // Another isolate, running with another D1_SHARDS, recorded this new tenant elsewhere a moment ago.
        logFailure(
          "tenant placement raced",
          new Error(`recorded on ${shard} while this request placed it on ${placed}`),
          {
            tenant_id: tenantId,
          },
        );
        throw new ApiError(503, "The gateway is placing this account's storage; try again.", {
          type: "server_error",
          code: "storage_unavailable",
          headers: { "retry-after": "1" },
        });
      }
      remember(tenantId, shard);
      return shard;
    },
    waitsForMoves,
  );
}

/**
 * A store on `shard` whose first write runs `beforeFirstWrite` (which answers the shard to write to)
 * once, over its primary and all its sessions, or waits for a move of the tenant this isolate began.
 */
function storeOn(
  env: Env,
  tenantId: string,
  shard: string,
  beforeFirstWrite: (() => Promise<string>) | null,
  waitsForMoves: boolean,
): TenantStore {
  let current = shard;
  let wrote = false;
  let firstWrite: Promise<void> | undefined;
  const ready = async (): Promise<void> => {
    if (wrote) return;
    firstWrite ??= (async () => {
      const move = waitsForMoves ? moves.get(tenantId) : undefined;
      if (move !== undefined) current = await move;
      else if (beforeFirstWrite !== null) current = await beforeFirstWrite();
      wrote = true;
    })().catch((error: unknown) => {
      firstWrite = undefined;
      throw error;
    });
    await firstWrite;
  };
  const binding = () => bindingOf(env, current);
  const primary = clientOver(
    routedClient(async (writes) => {
      if (writes) await ready();
      return binding();
    }),
  );
  const reads = (): Db => {
    let session: { shard: string; d1: D1DatabaseSession } | undefined;
    return clientOver(
      routedClient(async (writes) => {
        if (writes) await ready();
        if (session?.shard !== current) session = { shard: current, d1: binding().withSession("first-primary") };
        return session.d1;
      }),
    );
  };
  return {
    get shard() {
      return current;
    },
    primary,
    reads,
  };
}

/** The tenant's primary, for runs and sweeps (see `tenantStore`). */
export async function tenantDb(env: Env, tenantId: string, options: StoreOptions = {}): Promise<Db> {
  return (await tenantStore(env, tenantId, options)).primary;
}

/** A shard's binding by its name, for a tenant move only (tenant-move.ts copies rows of every table). */
export function shardBinding(env: Env, name: string): D1Database {
  return bindingOf(env, name);
}
