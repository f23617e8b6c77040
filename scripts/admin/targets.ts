// What the admin CLI can do, the same against D1 (scripts/admin/d1.ts) and against a deployed
// gateway's admin API (scripts/admin/http.ts): both answer with the admin API's objects.

import type { DeliveryFilters, List, ResponseFilters, Row, UsageQuery } from "./queries.ts";

export interface WebhookInput {
  url: string;
  name?: string;
  event_types: string[];
  secret?: string;
}

/** Every `tenant` argument is a tenant's id or its name. */
export interface Admin {
  createTenant(name: string): Promise<Row>;
  listTenants(): Promise<List<Row>>;
  showTenant(tenant: string): Promise<Row>;
  /** Erases a tenant (managed, or a pass-through `t_…` id): keys revoked, then its whole history. */
  deleteTenant(tenant: string): Promise<Row>;
  /** Moves a tenant's history to another D1 shard; `drainSeconds` as the API's `drain_seconds`. */
  moveTenant(tenant: string, shard: string, drainSeconds: number | undefined): Promise<Row>;
  createKey(tenant: string, name: string): Promise<Row>;
  listKeys(tenant: string): Promise<List<Row>>;
  revokeKey(keyId: string): Promise<Row>;
  addWebhook(tenant: string, input: WebhookInput): Promise<Row>;
  listWebhooks(tenant: string): Promise<List<Row>>;
  removeWebhook(tenant: string, endpointId: string): Promise<Row>;
  /** A tenant's webhook deliveries (managed, or a pass-through `t_…` id), newest first. */
  listDeliveries(tenant: string, filters: DeliveryFilters): Promise<List<Row>>;
  /** Every tenant's deliveries of one status, newest first, each with its `tenant_id`. */
  listAllDeliveries(filters: DeliveryFilters & { status: string }): Promise<List<Row>>;
  /** Each D1 shard with its migration and the tenants moving off it (GET /admin/shards; --url only). */
  listShards(): Promise<List<Row>>;
  /** The settings the deployment runs on, their problems, its routes and its stuck bound (GET /admin/configuration; --url only). */
  showConfiguration(): Promise<Row>;
  usage(query: UsageQuery): Promise<Row>;
  /** One tenant's stored responses, or (null) every tenant's. */
  listResponses(tenant: string | null, filters: ResponseFilters): Promise<List<Row>>;
  showResponse(responseId: string, tenant: string | null): Promise<Row>;
}
