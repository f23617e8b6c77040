ALTER TABLE `webhook_endpoints` ADD `name` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `webhook_endpoints` ADD `updated_at` integer;