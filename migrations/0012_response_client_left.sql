-- Marks a stored foreground response whose client left (null for every other): a create continuing
-- from it ends it at once instead of refusing `previous_response_in_progress` for the disconnect grace.
-- No default to fill and no index: existing rows are not rewritten, and a response whose client stays
-- never writes it.
ALTER TABLE `responses` ADD `client_left` integer;
