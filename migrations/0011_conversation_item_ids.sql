-- The ids of a conversation's items, so an `item_reference` to one resolves without an index on item ids
-- (which would cost a billed row per item appended): appends already rewrite the conversation's row.
-- Looked up among a tenant's most recent conversations (src/db/conversation-item-lookup.ts).
ALTER TABLE `conversations` ADD `item_ids` text DEFAULT ' ' NOT NULL;--> statement-breakpoint
-- The items already held, listed as appends list them (up to ITEM_IDS_MAX_CHARS, 500,000 characters).
UPDATE `conversations` SET `item_ids` = coalesce((
  SELECT CASE WHEN sum(length(`item_id`) + 1) < 500000 THEN ' ' || group_concat(`item_id`, ' ') || ' ' END FROM (
    SELECT DISTINCT `item_id` FROM `conversation_items`
     WHERE `conversation_items`.`conversation_id` = `conversations`.`id`
       AND `conversation_items`.`tenant_id` = `conversations`.`tenant_id`)), ' ');
