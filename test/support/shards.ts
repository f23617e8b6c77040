// Which D1 database holds what, for tests that read or write D1 directly: the suite runs on one shard
// and on three (vitest.shards.config.ts). A tenant's database is the one the gateway routes it to
// (its `tenant_shards` row, or the rule's choice before its first write); queries by a response id or
// a model go to every shard.

import { env } from "cloudflare:workers";
import { placeNewTenant, readShardPlan } from "../../src/db/shards";

const bindings = env as unknown as Record<string, D1Database | undefined>;

/** The binding names of the shards, `DB` first. */
export const shardNames = (): string[] => readShardPlan(env).map((shard) => shard.name);

/** The D1 binding named `name`. */
export function d1(name: string): D1Database {
  const binding = bindings[name];
  if (binding === undefined) throw new Error(`no D1 binding ${name}`);
  return binding;
}

/** Every shard's D1 binding, `DB` first. */
export const everyD1 = (): D1Database[] => shardNames().map(d1);

/** The tenant of a pass-through key, as src/http/auth.ts derives it. */
export async function passthroughTenant(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`tenant:${key}`));
  const hex = [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `t_${hex.slice(0, 32)}`;
}

/** The name of the tenant's shard: recorded in `tenant_shards` (in DB), else where the rule places it. */
export async function tenantShard(tenantId: string): Promise<string> {
  const row = await env.DB.prepare("SELECT shard FROM tenant_shards WHERE tenant_id = ?")
    .bind(tenantId)
    .first<{ shard: string }>();
  return row?.shard ?? (await placeNewTenant(readShardPlan(env), tenantId));
}

/** The tenant's D1 database. */
export const tenantD1 = async (tenantId: string): Promise<D1Database> => d1(await tenantShard(tenantId));

/** The D1 database of a pass-through key's tenant. */
export const keyD1 = async (key: string): Promise<D1Database> => tenantD1(await passthroughTenant(key));

/** The first row `sql` finds on any shard (each asked in turn), or null. */
export async function firstRow<T>(sql: string, ...values: unknown[]): Promise<T | null> {
  for (const db of everyD1()) {
    const row = await db
      .prepare(sql)
      .bind(...values)
      .first<T>();
    if (row !== null) return row;
  }
  return null;
}

/** Every row `sql` finds on every shard. */
export async function allRows<T>(sql: string, ...values: unknown[]): Promise<T[]> {
  const rows: T[] = [];
  for (const db of everyD1())
    rows.push(
      ...(
        await db
          .prepare(sql)
          .bind(...values)
          .all<T>()
      ).results,
    );
  return rows;
}

/** The sum over every shard of `SELECT count(*) AS n ...`. */
export async function countAll(sql: string, ...values: unknown[]): Promise<number> {
  let total = 0;
  for (const db of everyD1())
    total +=
      (
        await db
          .prepare(sql)
          .bind(...values)
          .first<{ n: number }>()
      )?.n ?? 0;
  return total;
}

/** Runs `sql` (a write, a trigger) on every shard. */
export async function runEverywhere(sql: string, ...values: unknown[]): Promise<void> {
  for (const db of everyD1())
    await db
      .prepare(sql)
      .bind(...values)
      .run();
}

/** Runs a script of statements (`exec`) on every shard. */
export async function execEverywhere(sql: string): Promise<void> {
  for (const db of everyD1()) await db.exec(sql);
}
