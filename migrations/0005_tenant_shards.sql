-- Shard routing (issue 17, src/db/shards.ts): which D1 database holds each tenant's history. Read and
-- written in the first database (DB) only; the table exists in every shard because every shard gets
-- the same migrations. A tenant's row is written once, before its first write, so adding a shard
-- moves no tenant; only an operator's move changes it (`moving_to` is set while one runs). Tenants
-- with history from before sharding live in DB: recorded here from every table that holds tenant
-- data, one statement each (D1 allows few terms in a compound SELECT); on a new, empty shard this
-- records nothing.
CREATE TABLE `tenant_shards` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`shard` text NOT NULL,
	`created_at` integer NOT NULL,
	`moving_to` text
) WITHOUT ROWID;
--> statement-breakpoint
INSERT OR IGNORE INTO `tenant_shards` (`tenant_id`, `shard`, `created_at`) SELECT DISTINCT `tenant_id`, 'DB', unixepoch() FROM `responses`;
--> statement-breakpoint
INSERT OR IGNORE INTO `tenant_shards` (`tenant_id`, `shard`, `created_at`) SELECT DISTINCT `tenant_id`, 'DB', unixepoch() FROM `conversations`;
--> statement-breakpoint
INSERT OR IGNORE INTO `tenant_shards` (`tenant_id`, `shard`, `created_at`) SELECT DISTINCT `tenant_id`, 'DB', unixepoch() FROM `webhook_endpoints`;
--> statement-breakpoint
INSERT OR IGNORE INTO `tenant_shards` (`tenant_id`, `shard`, `created_at`) SELECT DISTINCT `tenant_id`, 'DB', unixepoch() FROM `webhook_deliveries`;
--> statement-breakpoint
INSERT OR IGNORE INTO `tenant_shards` (`tenant_id`, `shard`, `created_at`) SELECT DISTINCT `tenant_id`, 'DB', unixepoch() FROM `idempotency_keys`;
--> statement-breakpoint
INSERT OR IGNORE INTO `tenant_shards` (`tenant_id`, `shard`, `created_at`) SELECT DISTINCT `tenant_id`, 'DB', unixepoch() FROM `usage_daily`;
