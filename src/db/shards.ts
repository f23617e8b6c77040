// Shard routing, the only way to D1: which database holds a tenant's history, and the Drizzle
// clients over it. Used by every route, run and sweep that reads or writes D1 (a lint rule keeps
// bindings out of every other file). The rule is in docs/sharding.md; in short:
// - `D1_SHARDS` lists the history databases by binding name, `DB` first: `DB,DB_2,DB_3`, each with an
//   optional weight (`DB_2:3`; `:0` takes no new tenants). Unset, it is `DB` alone.
// - Tenants and gateway keys live in `DB`, as does `tenant_shards`: each tenant's database, written
//   once before its first write and never changed. Adding a shard therefore moves no tenant.
// - A tenant with no row yet is placed by a hash of its id over the shards in proportion to their
//   weights; it is recorded there by its first write (a read writes nothing).

import { createTableRelationsHelpers, eq, extractTablesRelationalConfig } from "drizzle-orm";
import { DrizzleD1Database, SQLiteD1Session } from "drizzle-orm/d1";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import { ApiError } from "../errors";
import type { Db } from "./client";
import { guardFirstWrite, type D1Client } from "./first-write";
import * as schema from "./schema";
import { tenantShards } from "./schema";

/** The first database: tenants, gateway keys and `tenant_shards`, and the history of its own tenants. */
export const CONTROL_SHARD = "DB";
/** Shards read or swept at once by a fan-out: a Worker invocation may hold six connections to D1. */
export const SHARD_CONCURRENCY = 4;
/** Largest weight: enough to say "ten times as many new tenants", small enough to catch typos. */
const MAX_WEIGHT = 1000;
/** Tenants whose shard an isolate remembers (about 100 bytes each); a miss costs one lookup in DB. */
const MAX_REMEMBERED_TENANTS = 20_000;

export interface Shard {
  /** Its binding name, as `D1_SHARDS` lists it. */
  name: string;
  /** Share of new tenants it takes (0: none). */
  weight: number;
}

/** The history databases, `DB` first, as `D1_SHARDS` lists them. */
export type ShardPlan = readonly Shard[];

// ---- the setting ----

const plans = new Map<string, ShardPlan>();

/** The shards `D1_SHARDS` names; a wrong setting is a 500 that names it (the cause is logged). */
export function readShardPlan(env: Env): ShardPlan {
  const setting = (env as { D1_SHARDS?: unknown }).D1_SHARDS;
  const text = typeof setting === "string" ? setting : "";
  let plan = plans.get(text);
  if (plan === undefined) {
    const parsed = parseShardPlan(text);
    if (typeof parsed === "string") {
      console.error(`D1_SHARDS is invalid: ${parsed}`);
      throw invalidSetting();
    }
    plan = parsed;
    plans.set(text, plan);
  }
  for (const shard of plan)
    if (!isD1(bindingValue(env, shard.name))) {
      console.error(`D1_SHARDS is invalid: '${shard.name}' is not bound to a D1 database ([[d1_databases]])`);
      throw invalidSetting();
    }
  return plan;
}

const invalidSetting = (): ApiError =>
  new ApiError(500, "The gateway's D1_SHARDS setting is invalid; its log says why.", {
    type: "server_error",
    code: "d1_shards_invalid",
  });

/** `DB,DB_2:3,...` as a plan, or what is wrong with it. Empty means `DB` alone. */
export function parseShardPlan(text: string): ShardPlan | string {
  if (text.trim() === "") return [{ name: CONTROL_SHARD, weight: 1 }];
  const shards: Shard[] = [];
  for (const entry of text.split(",").map((part) => part.trim())) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)(?::(\d{1,4}))?$/.exec(entry);
    if (match === null) return `'${entry.slice(0, 64)}' is not a binding name with an optional ':weight'`;
    const name = match[1]!;
    const weight = match[2] === undefined ? 1 : Number(match[2]);
    if (weight > MAX_WEIGHT) return `the weight of ${name} is above ${MAX_WEIGHT}`;
    if (shards.some((shard) => shard.name === name)) return `${name} is listed twice`;
    shards.push({ name, weight });
  }
  if (shards[0]?.name !== CONTROL_SHARD) return `the list must start with ${CONTROL_SHARD}, the first database`;
  if (shards.every((shard) => shard.weight === 0))
    return "every shard has weight 0: new tenants would have nowhere to go";
  return shards;
}

// ---- the rule for new tenants ----

/**
 * Where a tenant without a record goes: a SHA-256 of its id, read as a number in [0, 1), picks a
 * shard in proportion to the weights, in list order. Pure: every isolate with the same setting
 * places a tenant alike, so two first writes at once agree (and `tenant_shards` settles a race anyway).
 */
export async function placeNewTenant(plan: ShardPlan, tenantId: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`shard:${tenantId}`)));
  const fraction = new DataView(digest.buffer).getUint32(0) / 2 ** 32;
  const total = plan.reduce((sum, shard) => sum + shard.weight, 0);
  let point = fraction * total;
  for (const shard of plan) {
    if (point < shard.weight) return shard.name;
    point -= shard.weight;
  }
  return plan.findLast((shard) => shard.weight > 0)!.name;
}

// ---- Drizzle clients ----

const dialect = new SQLiteAsyncDialect();
const relations = (() => {
  const tables = extractTablesRelationalConfig(schema, createTableRelationsHelpers);
  return { fullSchema: schema, schema: tables.tables, tableNamesMap: tables.tableNamesMap };
})();

/**
 * A Drizzle client over a binding or a session. What `drizzle()` does, with the schema's relational
 * config derived once per isolate: deriving it per client cost 0.4 ms of CPU, a session per request 0.07.
 */
function clientOver(d1: D1Client): Db {
  const session = new SQLiteD1Session(d1 as D1Database, dialect, relations, {});
  return new DrizzleD1Database("async", dialect, session as never, relations as never);
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
    console.error(`D1 binding ${name} is missing: a tenant is recorded on a shard this deployment no longer binds`);
    throw invalidSetting();
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

/** Runs `work` on every shard, at most SHARD_CONCURRENCY at once; answers in `everyShard` order. */
export async function onEveryShard<T>(env: Env, work: (shard: { name: string; db: Db }) => Promise<T>): Promise<T[]> {
  const shards = everyShard(env);
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
export async function pingShards(env: Env): Promise<void> {
  await Promise.all(readShardPlan(env).map((shard) => bindingOf(env, shard.name).prepare("SELECT 1").first()));
}

// ---- a tenant's shard ----

/** Tenant -> recorded shard, in insertion order (the first entry is the oldest). */
const remembered = new Map<string, string>();

function remember(tenantId: string, shard: string): void {
  remembered.delete(tenantId);
  remembered.set(tenantId, shard);
  for (const oldest of remembered.keys()) {
    if (remembered.size <= MAX_REMEMBERED_TENANTS) break;
    remembered.delete(oldest);
  }
}

/** The tenant's recorded shard: a replica may answer (records never change); one that lacks it, the primary. */
async function lookUpShard(env: Env, tenantId: string): Promise<string | undefined> {
  const binding = bindingOf(env, CONTROL_SHARD);
  const query = (db: Db) =>
    db.select({ shard: tenantShards.shard }).from(tenantShards).where(eq(tenantShards.tenantId, tenantId)).get();
  const row =
    (await query(clientOver(binding.withSession("first-unconstrained")))) ?? (await query(primaryClient(binding)));
  return row?.shard;
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

/** A tenant's database for one request or run. */
export interface TenantStore {
  /** The shard's binding name. */
  shard: string;
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
 * The tenant's database. A tenant this isolate has not seen is looked up in `tenant_shards`; one
 * with no record gets the shard the rule gives it, and
 * its first write records that shard first, so nothing is written anywhere for a tenant with no record.
 */
export async function tenantStore(env: Env, tenantId: string): Promise<TenantStore> {
  const plan = readShardPlan(env);
  const known = remembered.get(tenantId);
  if (known !== undefined) return storeOn(env, known, null);
  // With one shard too: a tenant written while `DB` was alone must stay there when shards are added.
  const recorded = await lookUpShard(env, tenantId);
  if (recorded !== undefined) {
    remember(tenantId, recorded);
    return storeOn(env, recorded, null);
  }
  const placed = await placeNewTenant(plan, tenantId);
  return storeOn(env, placed, async () => {
    const shard = await recordShard(env, tenantId, placed);
    if (shard !== placed) {
      // Another isolate, running with another D1_SHARDS, recorded this new tenant elsewhere a moment ago.
      console.error(`tenant ${tenantId} was recorded on ${shard} while this request placed it on ${placed}`);
      throw new ApiError(503, "The gateway is placing this account's storage; try again.", {
        type: "server_error",
        code: "storage_unavailable",
        headers: { "retry-after": "1" },
      });
    }
    remember(tenantId, shard);
  });
}

function storeOn(env: Env, shard: string, beforeFirstWrite: (() => Promise<void>) | null): TenantStore {
  const binding = bindingOf(env, shard);
  if (beforeFirstWrite === null)
    return { shard, primary: primaryClient(binding), reads: () => clientOver(binding.withSession("first-primary")) };
  // One guard for both: whichever writes first records the tenant, once.
  const guard = guardFirstWrite(beforeFirstWrite);
  return {
    shard,
    primary: clientOver(guard(binding)),
    reads: () => clientOver(guard(binding.withSession("first-primary"))),
  };
}

/** The tenant's primary, for runs and sweeps (see `tenantStore`). */
export async function tenantDb(env: Env, tenantId: string): Promise<Db> {
  return (await tenantStore(env, tenantId)).primary;
}
