// Webhook deliveries as the operator reads them, a tenant's (tenant.tsx) or every tenant's
// (health.tsx): by default the failed ones first, then those still being retried, or one status
// paged `Older »`; one opens with its attempts (GET /admin/responses/{id}/webhook_deliveries).

import { useState } from "preact/hooks";
import { getJson, query, type List } from "../api";
import { hrefOf } from "../route";
import type { Session } from "../session";
import { ErrorBox, Json, Show, Status, Time, useLoad, text } from "./common";
import { Attempts, type Delivery } from "./webhooks";

/** A delivery listed across tenants names its owner. */
type Listed = Delivery & { tenant_id?: string };

const PAGE = 20;

interface Page {
  rows: Listed[];
  /** The statuses with more than this page shows. */
  more: string[];
  last_id: string | null;
}

/** "" asks for the failed, then the pending (the two an operator acts on); "any" for every status. */
async function loadDeliveries(session: Session, base: string, status: string, after: string): Promise<Page> {
  const page = (only: string | undefined, from?: string) =>
    getJson<List<Listed>>(session, `${base}${query({ status: only, limit: PAGE, after: from })}`);
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
function DeliveryTable({ session, rows, owners }: { session: Session; rows: Listed[]; owners: boolean }) {
  const [open, setOpen] = useState<string | null>(null);
  const [fresh, setFresh] = useState<Record<string, Delivery>>({});
  return (
    <div class="scroll-x">
      <table class="tenant-deliveries">
        <thead>
          <tr>
            <th>Created</th>
            {owners && <th>Tenant</th>}
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
                {owners && (
                  <td class="mono tenant">
                    {listed.tenant_id !== undefined && (
                      <a href={hrefOf(`/tenants/${listed.tenant_id}`)}>{listed.tenant_id}</a>
                    )}
                  </td>
                )}
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
                  <td colSpan={owners ? 9 : 8}>
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

/**
 * The status filter, the table and its pager, from `base` (a deliveries route) at `here` (the view's
 * path; its hash's `status` and `after`). `statuses` are the filter's choices, "" first; `owners`
 * adds each delivery's tenant.
 */
export function Deliveries({
  session,
  base,
  here,
  params,
  statuses,
  owners = false,
}: {
  session: Session;
  base: string;
  here: string;
  params: URLSearchParams;
  statuses: string[];
  owners?: boolean;
}) {
  const status = statuses.includes(params.get("status") ?? "") ? (params.get("status") ?? "") : "";
  const after = params.get("after") ?? "";
  const [page] = useLoad(() => loadDeliveries(session, base, status, after), `${base}?${status}&${after}`);

  function apply(event: Event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    window.location.hash = hrefOf(here, { status: text(form.get("status")) });
  }

  return (
    <>
      <form class="filters" onSubmit={apply} aria-label="Deliveries">
        <label>
          Status
          <select name="status" value={status}>
            {statuses.map((each) => (
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
              <DeliveryTable session={session} rows={rows} owners={owners} />
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
