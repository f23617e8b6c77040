// One tenant for the operator: its shard (and a move under way), its keys and webhook endpoints
// (tenant-access.tsx), and its webhook deliveries from GET /admin/tenants/{id}/webhook_deliveries
// (deliveries.tsx).

import { getJson } from "../api";
import type { Session } from "../session";
import { Show, useLoad } from "./common";
import { Deliveries } from "./deliveries";
import { Shard, TenantLinks, type Tenant } from "./tenants";
import { TenantEndpoints, TenantKeys } from "./tenant-access";

/** "" asks for the failed, then the pending (the two an operator acts on); "any" for every status. */
const STATUSES = ["", "failed", "pending", "delivered", "any"];

export function TenantView({ session, id, params }: { session: Session; id: string; params: URLSearchParams }) {
  const path = `/admin/tenants/${encodeURIComponent(id)}`;
  // A pass-through tenant (t_…) has no tenant object (nor keys or endpoints): only its history.
  const [tenant] = useLoad(async () => (id.startsWith("t_") ? null : getJson<Tenant>(session, path)), id);

  return (
    <main class="tenant">
      <Show loaded={tenant}>
        {(value) => (
          <>
            <h1>{value?.name ?? "Pass-through tenant"}</h1>
            <p>
              <span class="mono">{id}</span> · shard {value === null ? "—" : <Shard tenant={value} />} ·{" "}
              <TenantLinks id={id} />
            </p>
          </>
        )}
      </Show>
      {/* Its other reads answer the same 404 for an unknown id: they wait for the header's, which says it once
          (read at the same time, a list's 404 could show under its heading before the header's). */}
      {tenant.state === "ready" && sections(tenant.value)}
    </main>
  );

  function sections(value: Tenant | null) {
    return (
      <>
        {value !== null && (
          <>
            <h2>Gateway keys</h2>
            <TenantKeys session={session} base={path} />
            <h2>Webhook endpoints</h2>
            <TenantEndpoints session={session} base={path} />
          </>
        )}
        <h2>Webhook deliveries</h2>
        <Deliveries
          session={session}
          base={`${path}/webhook_deliveries`}
          here={`/tenants/${id}`}
          params={params}
          statuses={STATUSES}
        />
      </>
    );
  }
}
