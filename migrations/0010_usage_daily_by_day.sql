-- usage_daily keyed by (tenant, day, key, model), was (tenant, key, model, day): a usage read of a range of
-- days seeks that range in the key (each tenant's in turn for the admin's), where it read every row of the
-- tenant's history (every row of the table for the admin's). No index is added, so a write costs what it did.
CREATE TABLE `__new_usage_daily` (
	`tenant_id` text NOT NULL,
	`api_key_id` text DEFAULT '' NOT NULL,
	`model` text NOT NULL,
	`day` text NOT NULL,
	`responses` integer DEFAULT 0 NOT NULL,
	`input_tokens` integer DEFAULT 0 NOT NULL,
	`output_tokens` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`tenant_id`, `day`, `api_key_id`, `model`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_usage_daily`("tenant_id", "api_key_id", "model", "day", "responses", "input_tokens", "output_tokens") SELECT "tenant_id", "api_key_id", "model", "day", "responses", "input_tokens", "output_tokens" FROM `usage_daily`;--> statement-breakpoint
DROP TABLE `usage_daily`;--> statement-breakpoint
ALTER TABLE `__new_usage_daily` RENAME TO `usage_daily`;
