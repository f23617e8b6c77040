-- Usage is rolled up hourly instead of counted by each response's terminal write (one billed row
-- fewer per response): rows written from now on carry `usage_deferred`, and `usage_rollups` holds how
-- far each tenant's rows are counted in `usage_daily`. Rows written before keep being counted at their end.
CREATE TABLE `usage_rollups` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`counted_before` text NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
ALTER TABLE `responses` ADD `usage_deferred` integer;