-- The compressed, cheaper layout (issue 12). Every index is a billed row on every write that touches
-- it, and a rowid table with a TEXT primary key writes two rows per insert (the table and the key's
-- index), so the tables written per response are rebuilt WITHOUT ROWID, and `responses` keeps one
-- index (plus a partial one that only rows written before this migration are in). A response's input
-- items, snapshot and last batch of events move into its row as compressed BLOBs; earlier batches of
-- long responses go to `response_event_batches`. Existing rows are kept as `legacy = 1` and read from
-- the old tables (`response_items`, `response_events`), which new responses no longer write.
CREATE TABLE `response_event_batches` (
	`response_id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`first_seq` integer NOT NULL,
	`part` integer DEFAULT 0 NOT NULL,
	`last_seq` integer NOT NULL,
	`data` blob NOT NULL,
	PRIMARY KEY(`response_id`, `first_seq`, `part`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `__new_responses` (
	`id` text PRIMARY KEY NOT NULL,
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
	`legacy` integer
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_responses`("id", "tenant_id", "status", "model", "background", "store", "created_at", "completed_at", "updated_at", "previous_response_id", "conversation_id", "metadata", "snapshot", "input_tokens", "output_tokens", "event_count", "api_key_id", "legacy") SELECT "id", "tenant_id", "status", "model", "background", "store", "created_at", "completed_at", "updated_at", "previous_response_id", "conversation_id", "metadata", "snapshot", "input_tokens", "output_tokens", "event_count", "api_key_id", 1 FROM `responses`;--> statement-breakpoint
DROP TABLE `responses`;--> statement-breakpoint
ALTER TABLE `__new_responses` RENAME TO `responses`;--> statement-breakpoint
CREATE INDEX `responses_tenant_created` ON `responses` (`tenant_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `responses_legacy_created` ON `responses` (`created_at`) WHERE legacy = 1;--> statement-breakpoint
CREATE TABLE `__new_blobs` (
	`owner_id` text NOT NULL,
	`tenant_id` text DEFAULT '' NOT NULL,
	`name` text NOT NULL,
	`part` integer NOT NULL,
	`data` blob NOT NULL,
	PRIMARY KEY(`owner_id`, `name`, `part`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_blobs`("owner_id", "tenant_id", "name", "part", "data") SELECT b."owner_id", coalesce(r."tenant_id", ''), b."name", b."part", b."data" FROM `blobs` b LEFT JOIN `responses` r ON r."id" = b."owner_id";--> statement-breakpoint
DROP TABLE `blobs`;--> statement-breakpoint
ALTER TABLE `__new_blobs` RENAME TO `blobs`;--> statement-breakpoint
CREATE TABLE `__new_conversation_items` (
	`conversation_id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`position` integer NOT NULL,
	`part` integer DEFAULT 0 NOT NULL,
	`item_id` text NOT NULL,
	`data` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`conversation_id`, `position`, `part`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_conversation_items`("conversation_id", "tenant_id", "position", "part", "item_id", "data", "created_at") SELECT "conversation_id", "tenant_id", "position", "part", "item_id", "data", "created_at" FROM `conversation_items`;--> statement-breakpoint
DROP TABLE `conversation_items`;--> statement-breakpoint
ALTER TABLE `__new_conversation_items` RENAME TO `conversation_items`;--> statement-breakpoint
CREATE TABLE `__new_idempotency_keys` (
	`tenant_id` text NOT NULL,
	`key` text NOT NULL,
	`request_hash` text NOT NULL,
	`response_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`deleted_at` integer,
	PRIMARY KEY(`tenant_id`, `key`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_idempotency_keys`("tenant_id", "key", "request_hash", "response_id", "created_at", "expires_at") SELECT "tenant_id", "key", "request_hash", "response_id", "created_at", "expires_at" FROM `idempotency_keys`;--> statement-breakpoint
DROP TABLE `idempotency_keys`;--> statement-breakpoint
ALTER TABLE `__new_idempotency_keys` RENAME TO `idempotency_keys`;--> statement-breakpoint
CREATE INDEX `idempotency_keys_expires` ON `idempotency_keys` (`expires_at`);--> statement-breakpoint
CREATE TABLE `__new_usage_daily` (
	`tenant_id` text NOT NULL,
	`api_key_id` text DEFAULT '' NOT NULL,
	`model` text NOT NULL,
	`day` text NOT NULL,
	`responses` integer DEFAULT 0 NOT NULL,
	`input_tokens` integer DEFAULT 0 NOT NULL,
	`output_tokens` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`tenant_id`, `api_key_id`, `model`, `day`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_usage_daily`("tenant_id", "api_key_id", "model", "day", "responses", "input_tokens", "output_tokens") SELECT "tenant_id", "api_key_id", "model", "day", "responses", "input_tokens", "output_tokens" FROM `usage_daily`;--> statement-breakpoint
DROP TABLE `usage_daily`;--> statement-breakpoint
ALTER TABLE `__new_usage_daily` RENAME TO `usage_daily`;
