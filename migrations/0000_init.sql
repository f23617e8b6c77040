CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`key_hash` text NOT NULL,
	`prefix` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_used_at` integer,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_key_hash_unique` ON `api_keys` (`key_hash`);--> statement-breakpoint
CREATE INDEX `api_keys_tenant` ON `api_keys` (`tenant_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `blobs` (
	`owner_id` text NOT NULL,
	`name` text NOT NULL,
	`part` integer NOT NULL,
	`data` text NOT NULL,
	PRIMARY KEY(`owner_id`, `name`, `part`)
);
--> statement-breakpoint
CREATE TABLE `conversation_items` (
	`conversation_id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`position` integer NOT NULL,
	`part` integer DEFAULT 0 NOT NULL,
	`item_id` text NOT NULL,
	`data` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`conversation_id`, `position`, `part`)
);
--> statement-breakpoint
CREATE INDEX `conversation_items_item` ON `conversation_items` (`conversation_id`,`item_id`);--> statement-breakpoint
CREATE TABLE `conversations` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`metadata` text DEFAULT '{}' NOT NULL,
	`next_position` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `conversations_tenant` ON `conversations` (`tenant_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`tenant_id` text NOT NULL,
	`key` text NOT NULL,
	`request_hash` text NOT NULL,
	`response_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `key`)
);
--> statement-breakpoint
CREATE INDEX `idempotency_keys_expires` ON `idempotency_keys` (`expires_at`);--> statement-breakpoint
CREATE TABLE `response_events` (
	`response_id` text NOT NULL,
	`first_seq` integer NOT NULL,
	`part` integer DEFAULT 0 NOT NULL,
	`last_seq` integer NOT NULL,
	`frames` text NOT NULL,
	PRIMARY KEY(`response_id`, `first_seq`, `part`)
);
--> statement-breakpoint
CREATE TABLE `response_items` (
	`response_id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`position` integer NOT NULL,
	`part` integer DEFAULT 0 NOT NULL,
	`kind` text NOT NULL,
	`item_id` text NOT NULL,
	`data` text NOT NULL,
	PRIMARY KEY(`response_id`, `position`, `part`)
);
--> statement-breakpoint
CREATE INDEX `response_items_item` ON `response_items` (`response_id`,`item_id`);--> statement-breakpoint
CREATE TABLE `responses` (
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
	`request` text NOT NULL,
	`snapshot` text,
	`input_tokens` integer,
	`output_tokens` integer,
	`event_count` integer DEFAULT 0 NOT NULL,
	`api_key_id` text
);
--> statement-breakpoint
CREATE INDEX `responses_tenant_created` ON `responses` (`tenant_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `responses_tenant_status` ON `responses` (`tenant_id`,`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `responses_tenant_model` ON `responses` (`tenant_id`,`model`,`created_at`);--> statement-breakpoint
CREATE INDEX `responses_tenant_previous` ON `responses` (`tenant_id`,`previous_response_id`);--> statement-breakpoint
CREATE INDEX `responses_created` ON `responses` (`created_at`);--> statement-breakpoint
CREATE TABLE `tenants` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `usage_daily` (
	`tenant_id` text NOT NULL,
	`api_key_id` text DEFAULT '' NOT NULL,
	`model` text NOT NULL,
	`day` text NOT NULL,
	`responses` integer DEFAULT 0 NOT NULL,
	`input_tokens` integer DEFAULT 0 NOT NULL,
	`output_tokens` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`tenant_id`, `api_key_id`, `model`, `day`)
);
--> statement-breakpoint
CREATE TABLE `webhook_attempts` (
	`delivery_id` text NOT NULL,
	`attempt` integer NOT NULL,
	`tenant_id` text NOT NULL,
	`started_at` integer NOT NULL,
	`duration_ms` integer NOT NULL,
	`status_code` integer,
	`error` text,
	PRIMARY KEY(`delivery_id`, `attempt`)
);
--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`response_id` text NOT NULL,
	`endpoint_id` text,
	`url` text NOT NULL,
	`event_id` text NOT NULL,
	`event_type` text NOT NULL,
	`payload` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer,
	`created_at` integer NOT NULL,
	`last_attempt_at` integer,
	`last_status_code` integer,
	`last_error` text
);
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_response` ON `webhook_deliveries` (`tenant_id`,`response_id`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_status` ON `webhook_deliveries` (`tenant_id`,`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_due` ON `webhook_deliveries` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE TABLE `webhook_endpoints` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`url` text NOT NULL,
	`secret` text NOT NULL,
	`event_types` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `webhook_endpoints_tenant` ON `webhook_endpoints` (`tenant_id`);