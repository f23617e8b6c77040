-- How far a tenant's move got (src/db/tenant-move.ts), while one runs: a big tenant's move takes
-- several calls, each copying a bounded number of rows, and the next call goes on from here. Nullable,
-- no default and no index: instant, no row rewritten; only a move writes it. Code from before it
-- ignores the column.
ALTER TABLE `tenant_shards` ADD `move_progress` text;
