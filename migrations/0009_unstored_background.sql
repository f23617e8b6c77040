-- Background responses made with store:false are kept only while a client may poll them (src/db/retention.ts
-- deletes them soon after they end): this partial index finds them; stored rows are not in it.
CREATE INDEX `responses_unstored_updated` ON `responses` (`updated_at`) WHERE store = 0;