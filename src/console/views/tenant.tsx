// One tenant for the operator: its shard (and a move under way), its keys and webhook endpoints
// (tenant-access.tsx), and its webhook deliveries from GET /admin/tenants/{id}/webhook_deliveries,
// by default the failed ones first, then those still being retried; one opens with its attempts
// (GET /admin/responses/{id}/webhook_deliveries).

import { useState } from "preact/hooks";
import { getJson, query, type List } from "../api";
import { hrefOf } from "../route";
import type { Session } from "../session";
import { ErrorBox, Json, Show, Status, Time, useLoad, text } from "./common";
import { Shard, TenantLinks, type Tenant } from "./tenants";
import { TenantEndpoints, TenantKeys } from "./tenant-access";
import { Attempts, type Delivery } from "./webhooks";

/** "" asks for the failed, then the pending (the two an operator acts on); "any" for every status. */
const STATUSES = ["", "failed", "pending", "delivered", "any"];
const PAGE = 20;

interface Page {
  rows: Delivery[];
  /** The statuses with more than this page shows. */
  more: string[];
  last_id: string | null;
}

async function loadDeliveries(session: Session, base: string, status: string, after: string): Promise<Page> {
  const page = (only: string | undefined, from?: string) =>
    getJson<List<Delivery>>(session, `${base}${query({ status: only, limit: PAGE, after: from })}`);
  if (status === "") {
    const [failed, pending] = await Promise.all([page("failed"), page("pending")]);
    return {
      rows: [...failed.data, ...pending.data],
      more: [failed.has_more ? "failed" : "", pending.has_more ? "pending" : ""].filter(Boolean),
      last_id: null,
    };
  }
  const list = await page(status === "any" ? undefined : status, after);
  return { rows: list.data, more: list.has_more ? [status] : [], last_id: list.last_id ?? null };
}

/**
 * An opened delivery: its attempts and event, read from its response's deliveries. What is read is
 * newer than the row, so the row is told (`onRead`) and shows it too.
 */
function DeliveryDetail({
  session,
  delivery,
  onRead,
}: {
  session: Session;
  delivery: Delivery;
  onRead: (fresh: Delivery) => void;
}) {
  const path = `/admin/responses/${encodeURIComponent(delivery.response_id)}/webhook_deliveries`;
  const [loaded] = useLoad(async () => {
    const list = await getJson<List<Delivery>>(session, path);
    const found = list.data.find((each) => each.id === delivery.id);
    if (found !== undefined) onRead(found);
    return found;
  }, path);
  return (
    <div class="delivery">
      <Show loaded={loaded}>
        {(found) =>
          found === undefined ? (
            <ErrorBox message={`Delivery ${delivery.id} is no longer recorded.`} />
          ) : (
            <Attempts attempts={found.attempts ?? []} />
          )
        }
      </Show>
      <Json value={delivery.event} />
      Response <a href={hrefOf(`/responses/${delivery.response_id}`)}>{delivery.response_id}</a>
    </div>
  );
}

/** One page of deliveries; an opened one's row shows what its opening read. */
function DeliveryTable({ session, rows }: { session: Session; rows: Delivery[] }) {
  const [open, setOpen] = useState<string | null>(null);
  const [fresh, setFresh] = useState<Record<string, Delivery>>({});
  return (
    <div class="scroll-x">
      <table class="tenant-deliveries">
        <thead>
          <tr>
            <th>Created</th>
            <th>Status</th>
            <th>Event</th>
            <th>Endpoint</th>
            <th class="num">Attempts</th>
            <th>Last attempt</th>
            <th>Last error</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((listed) => {
            const delivery = fresh[listed.id] ?? listed;
            return [
              <tr key={delivery.id} data-delivery={delivery.id}>
                <td>
                  <Time seconds={delivery.created_at} />
                </td>
                <td>
                  <Status status={delivery.status} />
                </td>
                <td class="events">
                  <code>{delivery.event.type ?? "event"}</code>
                </td>
                <td class="mono">{delivery.url ?? "the deployment's webhook"}</td>
                <td class="num">{delivery.attempt_count}</td>
                <td>
                  <Time seconds={delivery.last_attempt_at} />
                </td>
                <td class="last-error">
                  {delivery.last_error ?? ""}
                  {delivery.status === "pending" && typeof delivery.next_attempt_at === "number" && (
                    <span class="muted small next-attempt">
                      {" "}
                      next attempt <Time seconds={delivery.next_attempt_at} />
                    </span>
                  )}
                </td>
                <td>
                  <button
                    type="button"
                    aria-expanded={open === delivery.id}
                    onClick={() => setOpen(open === delivery.id ? null : delivery.id)}
                  >
                    {open === delivery.id ? "Close" : "Open"}
                  </button>
                </td>
              </tr>,
              open === delivery.id && (
                <tr key={`${delivery.id}-open`} class="opened">
                  <td colSpan={8}>
                    <DeliveryDetail
                      session={session}
                      delivery={delivery}
                      onRead={(read) => setFresh((known) => ({ ...known, [read.id]: read }))}
                    />
                  </td>
                </tr>
              ),
            ];
          })}
        </tbody>
      </table>
    </div>
  );
}

export function TenantView({ session, id, params }: { session: Session; id: string; params: URLSearchParams }) {
  const status = STATUSES.includes(params.get("status") ?? "") ? (params.get("status") ?? "") : "";
  const after = params.get("after") ?? "";
  const here = `/tenants/${id}`;
  const path = `/admin/tenants/${encodeURIComponent(id)}`;
  const base = `${path}/webhook_deliveries`;
  // A pass-through tenant (t_…) has no tenant object (nor keys or endpoints): only its history.
  const [tenant] = useLoad(async () => (id.startsWith("t_") ? null : getJson<Tenant>(session, path)), id);
  const [page] = useLoad(() => loadDeliveries(session, base, status, after), `${base}?${status}&${after}`);

  function apply(event: Event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    window.location.hash = hrefOf(here, { status: text(form.get("status")) });
  }

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
      {/* Its other reads answer the same 404 for an unknown id: the header's says it once. */}
      {tenant.state !== "error" && sections()}
    </main>
  );

  function sections() {
    return (
      <>
        {tenant.state === "ready" && tenant.value !== null && (
          <>
            <h2>Gateway keys</h2>
            <TenantKeys session={session} base={path} />
            <h2>Webhook endpoints</h2>
            <TenantEndpoints session={session} base={path} />
          </>
        )}
        <h2>Webhook deliveries</h2>
        <form class="filters" onSubmit={apply} aria-label="Deliveries">
          <label>
            Status
            <select name="status" value={status}>
              {STATUSES.map((each) => (
                <option value={each}>{each === "" ? "failed, then pending" : each}</option>
              ))}
            </select>
          </label>
          <button type="submit">Show</button>
        </form>
        <Show loaded={page}>
          {({ rows, more, last_id }) => (
            <>
              {rows.length === 0 ? (
                <p class="empty">
                  No {status === "" ? "failed or pending" : status === "any" ? "" : status} webhook deliveries.
                </p>
              ) : (
                <DeliveryTable session={session} rows={rows} />
              )}
              <nav class="pager">
                {after !== "" && <a href={hrefOf(here, { status })}>« Newest</a>}
                {status === ""
                  ? more.map((each) => <a href={hrefOf(here, { status: each })}>More {each} »</a>)
                  : more.length > 0 &&
                    last_id !== null && (
                      <a href={hrefOf(here, { status, after: last_id })} rel="next">
                        Older »
                      </a>
                    )}
              </nav>
            </>
          )}
        </Show>
      </>
    );
  }
}
