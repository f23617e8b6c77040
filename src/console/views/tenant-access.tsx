// A managed tenant's gateway keys (GET /admin/tenants/{id}/keys) and webhook endpoints
// (GET /admin/tenants/{id}/webhook_endpoints), read-only: the gateway keeps no key's secret, and an
// endpoint's signing secret shows as its hint. Creating and revoking stay with the admin API and CLI.

import { getJson, type List } from "../api";
import type { Session } from "../session";
import { Show, Time, useLoad } from "./common";

interface Key {
  id: string;
  name: string;
  prefix: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

interface Endpoint {
  id: string;
  name: string;
  url: string;
  event_types: string[];
  created_at: number;
  signing_secret_hint?: string;
}

/** Unused keys are the first thing a "401" drill asks about, so "never" is said, not left blank. */
export function TenantKeys({ session, base }: { session: Session; base: string }) {
  const [loaded] = useLoad(() => getJson<List<Key>>(session, `${base}/keys`), base);
  return (
    <Show loaded={loaded}>
      {(list) =>
        list.data.length === 0 ? (
          <p class="empty">No gateway keys.</p>
        ) : (
          <div class="scroll-x">
            <table class="tenant-keys">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Id</th>
                  <th>Prefix</th>
                  <th>Created</th>
                  <th>Last used</th>
                  <th>Revoked</th>
                </tr>
              </thead>
              <tbody>
                {list.data.map((key) => (
                  <tr key={key.id} data-key={key.id} class={key.revoked_at === null ? "" : "revoked"}>
                    <td>{key.name}</td>
                    <td class="mono">{key.id}</td>
                    <td class="mono">{key.prefix}…</td>
                    <td>
                      <Time seconds={key.created_at} />
                    </td>
                    <td class="last-used">
                      {key.last_used_at === null ? (
                        <span class="muted">never</span>
                      ) : (
                        <Time seconds={key.last_used_at} />
                      )}
                    </td>
                    <td class="revoked-at">
                      {key.revoked_at === null ? <span class="muted">no</span> : <Time seconds={key.revoked_at} />}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      }
    </Show>
  );
}

export function TenantEndpoints({ session, base }: { session: Session; base: string }) {
  const [loaded] = useLoad(() => getJson<List<Endpoint>>(session, `${base}/webhook_endpoints`), base);
  return (
    <Show loaded={loaded}>
      {(list) =>
        list.data.length === 0 ? (
          <p class="empty">No webhook endpoints: its background responses notify the deployment's webhook, if any.</p>
        ) : (
          <div class="scroll-x">
            <table class="tenant-endpoints">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Id</th>
                  <th>URL</th>
                  <th>Events</th>
                  <th>Secret</th>
                  <th>Created</th>
                </tr>
              </thead>
              <tbody>
                {list.data.map((endpoint) => (
                  <tr key={endpoint.id} data-endpoint={endpoint.id}>
                    <td>{endpoint.name === "" ? <span class="muted">(no name)</span> : endpoint.name}</td>
                    <td class="mono">{endpoint.id}</td>
                    <td class="mono">{endpoint.url}</td>
                    <td class="events">{endpoint.event_types.join(", ")}</td>
                    <td class="mono">{endpoint.signing_secret_hint ?? ""}</td>
                    <td>
                      <Time seconds={endpoint.created_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      }
    </Show>
  );
}
