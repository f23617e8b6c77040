// The operator's incident view: each D1 shard's migration against the one this version needs and
// the tenants being moved off it (GET /admin/shards: what /health checks, by name), the responses
// running past their bound, then every tenant's failed and pending webhook deliveries
// (GET /admin/webhook_deliveries?status=), each leading to its tenant, and the settings the
// deployment runs on (GET /admin/configuration). `npm run admin -- status` and `config` print the
// same from a shell.

import { getJson, type List } from "../api";
import { hrefOf } from "../route";
import type { Session } from "../session";
import { Show, useLoad } from "./common";
import { ConfigurationView } from "./configuration";
import { Deliveries } from "./deliveries";
import { StuckRuns } from "./stuck-runs";

export interface Shard {
  id: string;
  weight: number;
  migration: string | null;
  required_migration: string;
  migrated: boolean;
  error: string | null;
  moving_out: { tenant_id: string; moving_to: string | null }[];
}

/** A shard the other views' reads may fail on: behind on its migrations, or not read at all. */
export const needsCare = (shard: Shard): boolean => shard.error !== null || !shard.migrated;

/** Across tenants `status` is required: no "any". */
const STATUSES = ["", "failed", "pending", "delivered"];

/** Migrated, behind (writes of the newer schema fail there), or not read at all. */
function MigrationState({ shard }: { shard: Shard }) {
  if (shard.error !== null)
    return (
      <>
        <span class="status status-failed">unreadable</span> <span class="error">{shard.error}</span>
      </>
    );
  if (shard.migrated) return <span class="status status-completed">migrated</span>;
  return (
    <>
      <span class="status status-failed">behind</span> needs <code>{shard.required_migration}</code>
    </>
  );
}

function Shards({ session }: { session: Session }) {
  const [list] = useLoad(() => getJson<List<Shard>>(session, "/admin/shards"), "shards");
  return (
    <Show loaded={list}>
      {({ data }) =>
        data.length === 0 ? (
          <p class="empty">No shards.</p>
        ) : (
          <>
            <p class="muted">
              This version needs migration <code>{data[0]?.required_migration}</code> on every shard.
            </p>
            <div class="scroll-x">
              <table class="shards">
                <thead>
                  <tr>
                    <th>Shard</th>
                    <th class="num">Weight</th>
                    <th>Newest migration</th>
                    <th>State</th>
                    <th>Tenants moving off</th>
                  </tr>
                </thead>
                <tbody>
                  {data.map((shard) => (
                    <tr key={shard.id} data-shard={shard.id}>
                      <td class="mono">{shard.id}</td>
                      <td class="num">{shard.weight}</td>
                      <td class="mono">{shard.migration ?? <span class="muted">none</span>}</td>
                      <td class="state">
                        <MigrationState shard={shard} />
                      </td>
                      <td class="moves">
                        {shard.moving_out.length === 0 ? (
                          <span class="muted">none</span>
                        ) : (
                          shard.moving_out.map((move) => (
                            <div key={move.tenant_id}>
                              <a class="mono" href={hrefOf(`/tenants/${move.tenant_id}`)}>
                                {move.tenant_id}
                              </a>{" "}
                              to {move.moving_to}
                            </div>
                          ))
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )
      }
    </Show>
  );
}

export function HealthView({ session, params }: { session: Session; params: URLSearchParams }) {
  return (
    <main class="health">
      <h2>Shards</h2>
      <Shards session={session} />
      <h2>Running past their bound</h2>
      <StuckRuns session={session} />
      <h2>Webhook deliveries, every tenant</h2>
      <Deliveries
        session={session}
        base="/admin/webhook_deliveries"
        here="/health"
        params={params}
        statuses={STATUSES}
        owners
      />
      <h2>Configuration</h2>
      <ConfigurationView session={session} />
    </main>
  );
}
