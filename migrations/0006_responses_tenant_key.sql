-- A response row is keyed by (tenant_id, id) and `responses_tenant_created` is dropped (issue 12): every
-- index is a billed written row on every insert, and ids carry their creation time, so a tenant's rows in
-- key order are its rows in time order and the key alone serves every list (filters are conditions on
-- the rows read in that order). Rows from before ids were timed (`legacy = 1`) are listed by their time
-- from a partial index that only they are in. Reads by id all name the tenant; the sweep, retention and
-- the admin reads, which do not, go tenant by tenant.
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_responses` (
	`id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`status` text NOT NULL,
	`model` text NOT NULL,
	`background` integer NOT NULL,
	`store` integer NOT NULL,
	`created_at` integer NOT NULL,
	`completed_at` integer,
	`updated_at` integer NOT NULL,
	`previous_response_id` text,
	`conversation_id` text,
	`metadata` text DEFAULT '{}' NOT NULL,
	`input` blob,
	`snapshot` blob,
	`output` blob,
	`input_tokens` integer,
	`output_tokens` integer,
	`event_count` integer DEFAULT 0 NOT NULL,
	`events_tail` blob,
	`tail_seq` integer,
	`api_key_id` text,
	`legacy` integer,
	PRIMARY KEY(`tenant_id`, `id`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_responses`("id", "tenant_id", "status", "model", "background", "store", "created_at", "completed_at", "updated_at", "previous_response_id", "conversation_id", "metadata", "input", "snapshot", "output", "input_tokens", "output_tokens", "event_count", "events_tail", "tail_seq", "api_key_id", "legacy") SELECT "id", "tenant_id", "status", "model", "background", "store", "created_at", "completed_at", "updated_at", "previous_response_id", "conversation_id", "metadata", "input", "snapshot", "output", "input_tokens", "output_tokens", "event_count", "events_tail", "tail_seq", "api_key_id", "legacy" FROM `responses`;--> statement-breakpoint
DROP TABLE `responses`;--> statement-breakpoint
ALTER TABLE `__new_responses` RENAME TO `responses`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `responses_legacy_created` ON `responses` (`tenant_id`,`created_at`,`id`) WHERE legacy = 1;