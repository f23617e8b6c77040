DROP INDEX `responses_tenant_status`;--> statement-breakpoint
DROP INDEX `responses_tenant_model`;--> statement-breakpoint
DROP INDEX `responses_tenant_previous`;--> statement-breakpoint
CREATE INDEX `responses_tenant_background` ON `responses` (`tenant_id`,`background`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `responses_tenant_status` ON `responses` (`tenant_id`,`status`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `responses_tenant_model` ON `responses` (`tenant_id`,`model`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `responses_tenant_previous` ON `responses` (`tenant_id`,`previous_response_id`,`created_at`,`id`);