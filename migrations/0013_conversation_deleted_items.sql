-- Where a conversation's recently deleted items stood (null until one is): a list whose `after` names an
-- item deleted since its page pages on from there, so a loop that deletes each item it lists reaches
-- the end. Nullable, no default to fill and no index: no row is rewritten, and only a delete writes it
-- (in the update of the conversation's row it makes anyway). Appends and reads of items never touch it.
ALTER TABLE `conversations` ADD `deleted_items` text;
