-- The ids of an ended response's output items, so an `item_reference` to one resolves without an index
-- (no row more per response): looked up among a tenant's most recent responses (src/db/item-lookup.ts).
ALTER TABLE `responses` ADD `output_item_ids` text;