// The operator's tenants (GET /admin/tenants): each with the D1 shard that holds its history and a
// move under way (`moving_to`), leading to its responses, usage and webhook deliveries.

import { getJson, query, type List } from "../api";
import { hrefOf } from "../route";
import type { Session } from "../session";
import { Show, Time, useLoad } from "./common";

export interface Tenant {
  id: string;
  name: string;
  created_at: number;
  shard: string | null;
  moving_to: string | null;
}

/** Its shard, and a move's target: a mark that stays with no move running is a stopped move (its writes answer 503). */
export function Shard({ tenant }: { tenant: Tenant }) {
  return (
    <>
      {tenant.shard ?? <span class="muted">none yet</span>}
      {tenant.moving_to !== null && (
        <span
          class="status status-in_progress moving"
          title="Its writes wait while the move runs. Set with no move running: a move stopped by a deploy, whose writes answer 503 until it is called off (docs/sharding.md)."
        >
          moving to {tenant.moving_to}
        </span>
      )}
    </>
  );
}

/** Where to go from a tenant: its responses, its usage, its webhook deliveries. */
export function TenantLinks({ id }: { id: string }) {
  return (
    <span class="tenant-links">
      <a href={hrefOf("/", { tenant_id: id })}>Responses</a> <a href={hrefOf("/usage", { tenant_id: id })}>Usage</a>{" "}
      <a href={hrefOf(`/tenants/${id}`)}>Webhook deliveries</a>
    </span>
  );
}

export function TenantList({ session, params }: { session: Session; params: URLSearchParams }) {
  const after = params.get("after") ?? "";
  const path = `/admin/tenants${query({ limit: 50, after })}`;
  const [page] = useLoad(() => getJson<List<Tenant>>(session, path), path);
  return (
    <main>
      <Show loaded={page}>
        {(list) => (
          <>
            {list.data.length === 0 ? (
              <p class="empty">No tenants. Pass-through tenants (t_…) have none: open one from the responses list.</p>
            ) : (
              <div class="scroll-x">
                <table class="tenants">
                  <thead>
                    <tr>
                      <th>Name</th>
                      <th>Tenant</th>
                      <th>Created</th>
                      <th>Shard</th>
                      <th />
                    </tr>
                  </thead>
                  <tbody>
                    {list.data.map((tenant) => (
                      <tr key={tenant.id} data-id={tenant.id}>
                        <td>{tenant.name}</td>
                        <td class="mono">{tenant.id}</td>
                        <td>
                          <Time seconds={tenant.created_at} />
                        </td>
                        <td class="shard">
                          <Shard tenant={tenant} />
                        </td>
                        <td>
                          <TenantLinks id={tenant.id} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            <nav class="pager">
              {after !== "" && <a href="#/tenants">« First</a>}
              {list.has_more && list.last_id && (
                <a href={hrefOf("/tenants", { after: list.last_id })} rel="next">
                  More »
                </a>
              )}
            </nav>
          </>
        )}
      </Show>
    </main>
  );
}
