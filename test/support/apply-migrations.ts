// Applies the D1 migrations (read from migrations/ by vitest.config.ts) to every database before the
// tests run: each shard `D1_SHARDS` lists (`DB` alone by default) and the replica double's database.
import { applyD1Migrations, type D1Migration } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { everyD1 } from "./shards";

const migrations = (env as unknown as { TEST_MIGRATIONS: D1Migration[] }).TEST_MIGRATIONS;
for (const db of [...everyD1(), replicaD1()]) await applyD1Migrations(db, migrations);

function replicaD1(): D1Database {
  return (env as unknown as { DB_REPLICA: D1Database }).DB_REPLICA;
}
