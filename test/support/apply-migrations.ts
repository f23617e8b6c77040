// Applies the D1 migrations (read from migrations/ by vitest.config.ts) to every D1 database the suite
// binds before the tests run: the shards (`DB`, `DB_2`, `DB_3`, whether `D1_SHARDS` lists them or a
// sharding test does) and the replica double's copy (`DB_REPLICA`).
import { applyD1Migrations, type D1Migration } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { d1 } from "./shards";

const migrations = (env as unknown as { TEST_MIGRATIONS: D1Migration[] }).TEST_MIGRATIONS;
for (const name of ["DB", "DB_2", "DB_3", "DB_REPLICA"]) await applyD1Migrations(d1(name), migrations);
