// Admin API, the shards: GET /admin/shards, each D1 shard of `D1_SHARDS` with its newest applied
// migration against the one this version needs, and the tenants being moved off it. What /health
// checks, told to the operator (who may see names and versions): which shard to migrate, which
// moves are under way or were stopped by a deploy.

import { isNotNull } from "drizzle-orm";
import { controlDb, newestMigration, readShardPlan, REQUIRED_MIGRATION } from "../../db/shards";
import { tenantShards } from "../../db/schema";
import { json, type RouteContext } from "../context";
import { listObject } from "../list";

/** Moves listed: there are seldom more than a few at once. */
const MAX_MOVES = 100;

/** The migration's name as `wrangler d1 migrations` lists it, or why it could not be read. */
async function migrationOf(env: Env, name: string): Promise<{ migration: string | null; error: string | null }> {
  try {
    return { migration: await newestMigration(env, name), error: null };
  } catch (error) {
    return { migration: null, error: error instanceof Error ? error.message : String(error) };
  }
}

export async function listShards({ env }: RouteContext): Promise<Response> {
  // tenant_shards has no index on moving_to: one read of its rows (one per tenant), in DB.
  const moves = await controlDb(env)
    .select({ tenantId: tenantShards.tenantId, shard: tenantShards.shard, movingTo: tenantShards.movingTo })
    .from(tenantShards)
    .where(isNotNull(tenantShards.movingTo))
    .limit(MAX_MOVES);
  const data = await Promise.all(
    readShardPlan(env).map(async (shard) => {
      const { migration, error } = await migrationOf(env, shard.name);
      return {
        id: shard.name,
        object: "shard",
        weight: shard.weight,
        migration,
        required_migration: REQUIRED_MIGRATION,
        migrated: migration !== null && migration >= REQUIRED_MIGRATION,
        error,
        moving_out: moves
          .filter((move) => move.shard === shard.name)
          .map((move) => ({ tenant_id: move.tenantId, moving_to: move.movingTo })),
      };
    }),
  );
  return json(listObject(data, false));
}
