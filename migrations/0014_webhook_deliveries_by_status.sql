-- The operator's list of deliveries across tenants by status, newest first (GET /admin/webhook_deliveries,
-- `npm run admin -- webhook deliveries --status pending`): a page reads its rows from this index and
-- stops, where webhook_deliveries_status (tenant first) serves one tenant's. Its cost: one more index
-- entry written with each delivery's row and again at each change of its status.
CREATE INDEX `webhook_deliveries_by_status` ON `webhook_deliveries` (`status`,`created_at`,`id`);
