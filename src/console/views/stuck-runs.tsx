// Health's runs past their bound: responses still `in_progress` or `queued` created more than the
// deployment's MAX_RUN_SECONDS and the sweep's margin ago (GET /admin/configuration's
// `stuck_after_seconds`), across tenants (GET /admin/responses with status= and created_before=), as
// `npm run admin -- status` lists them. Each leads to its page.

import { getJson, query, type List } from "../api";
import { hrefOf } from "../route";
import type { Session } from "../session";
import { Show, Status, Time, useLoad } from "./common";
import { loadConfiguration } from "./configuration";
import type { ResponseObject } from "./response-model";

const ROWS = 20;

type Listed = ResponseObject & { tenant_id?: string };

interface Stuck {
  rows: Listed[];
  /** The statuses with more than shown. */
  more: string[];
  createdBefore: number;
  stuckAfterSeconds: number;
  maxRunSeconds: number;
}

async function loadStuck(session: Session): Promise<Stuck> {
  const { stuck_after_seconds: stuckAfterSeconds, max_run_seconds: maxRunSeconds } = await loadConfiguration(session);
  const createdBefore = Math.floor(Date.now() / 1000) - stuckAfterSeconds;
  const page = (status: string) =>
    getJson<List<Listed>>(session, `/admin/responses${query({ status, created_before: createdBefore, limit: ROWS })}`);
  const [running, queued] = await Promise.all([page("in_progress"), page("queued")]);
  return {
    rows: [...running.data, ...queued.data],
    more: [running.has_more ? "in_progress" : "", queued.has_more ? "queued" : ""].filter(Boolean),
    createdBefore,
    stuckAfterSeconds,
    maxRunSeconds,
  };
}

/** The Responses list's `Before` field takes the browser's local time, to the minute. */
function localMinute(seconds: number): string {
  const date = new Date(seconds * 1000);
  const two = (value: number) => String(value).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}T${two(date.getHours())}:${two(date.getMinutes())}`;
}

export function StuckRuns({ session }: { session: Session }) {
  const [loaded] = useLoad(() => loadStuck(session), "stuck");
  return (
    <Show loaded={loaded}>
      {({ rows, more, createdBefore, stuckAfterSeconds, maxRunSeconds }) => (
        <section class="stuck-runs">
          <p class="muted">
            Still <code>in_progress</code> or <code>queued</code> and created more than{" "}
            {Math.round(stuckAfterSeconds / 60)} minutes ago: <code>MAX_RUN_SECONDS</code> ({maxRunSeconds}) stops any
            run and the minute&apos;s sweep ends a dead one.
          </p>
          {rows.length === 0 ? (
            <p class="empty">No response is running past its bound.</p>
          ) : (
            <div class="scroll-x">
              <table class="stuck">
                <thead>
                  <tr>
                    <th>Created</th>
                    <th>Response</th>
                    <th>Status</th>
                    <th>Model</th>
                    <th>Tenant</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((response) => (
                    <tr key={response.id} data-id={response.id}>
                      <td>
                        <Time seconds={response.created_at} />
                      </td>
                      <td class="mono">
                        <a href={hrefOf(`/responses/${response.id}`)}>{response.id}</a>
                      </td>
                      <td>
                        <Status status={response.status} />
                      </td>
                      <td>{response.model}</td>
                      <td class="mono">
                        {response.tenant_id !== undefined && (
                          <a href={hrefOf(`/tenants/${response.tenant_id}`)}>{response.tenant_id}</a>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {more.length > 0 && (
            <nav class="pager">
              {more.map((status) => (
                <a key={status} href={hrefOf("/", { status, created_before: localMinute(createdBefore) })}>
                  More {status.replace("_", " ")} »
                </a>
              ))}
            </nav>
          )}
        </section>
      )}
    </Show>
  );
}
