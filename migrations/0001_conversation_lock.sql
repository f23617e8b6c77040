ALTER TABLE `conversations` ADD `active_response_id` text;--> statement-breakpoint
ALTER TABLE `conversations` ADD `active_until` integer;