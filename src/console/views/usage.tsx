// Usage by day (stacked by model), by model and by key (the operator: by tenant) as charts, from
// GET /v1/usage (GET /admin/usage), with dollars where the gateway's MODEL_PRICES prices a model.

import { getJson, query, usagePath } from "../api";
import { hrefOf } from "../route";
import type { Session } from "../session";
import { BarList, StackedDays, type DaySeries } from "./charts";
import { formatDollars, formatNumber, Show, useLoad, text } from "./common";

/** A usage object's dollars, as MODEL_PRICES prices its model (also a response's, on its page). */
export interface Cost {
  currency: string;
  input: number;
  output: number;
  total: number;
  unpriced_tokens?: number;
}

interface UsageRow {
  day?: string;
  model?: string;
  api_key_id?: string | null;
  tenant_id?: string;
  responses: number;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  cost?: Cost;
}

interface UsageList {
  start_date: string;
  end_date: string;
  data: UsageRow[];
}

const DAY_MS = 86_400_000;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function byDay(rows: UsageRow[], start: string, end: string): DaySeries {
  const days: string[] = [];
  for (let ms = Date.parse(`${start}T00:00:00Z`); ms <= Date.parse(`${end}T00:00:00Z`); ms += DAY_MS)
    days.push(isoDay(ms));
  const models = [...new Set(rows.map((row) => row.model ?? ""))];
  return {
    days,
    series: models.map((name) => ({
      name,
      values: days.map((day) => rows.find((row) => row.day === day && row.model === name)?.total_tokens ?? 0),
    })),
  };
}

const costNote = (row: UsageRow): string =>
  row.cost === undefined ? "" : `${formatDollars(row.cost.total)}${row.cost.unpriced_tokens ? " + unpriced" : ""}`;

async function loadUsage(session: Session, range: Record<string, string | undefined>) {
  const path = usagePath(session);
  const [days, models, owners] = await Promise.all(
    [["day", "model"], ["model"], [session.mode === "admin" ? "tenant" : "key"]].map((groups) =>
      getJson<UsageList>(session, `${path}${query({ ...range, group_by: groups.join(",") })}`),
    ),
  );
  return { days: days as UsageList, models: models as UsageList, owners: owners as UsageList };
}

export function UsageView({ session, params }: { session: Session; params: URLSearchParams }) {
  const range = {
    start_date: params.get("start_date") ?? undefined,
    end_date: params.get("end_date") ?? undefined,
    tenant_id: session.mode === "admin" ? (params.get("tenant_id") ?? undefined) : undefined,
  };
  const key = JSON.stringify(range);
  const [loaded] = useLoad(() => loadUsage(session, range), key);

  function apply(event: Event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    window.location.hash = hrefOf("/usage", {
      start_date: text(form.get("start_date")),
      end_date: text(form.get("end_date")),
      tenant_id: text(form.get("tenant_id")),
    });
  }

  // The range as asked, else as the gateway resolved it (its defaults); the form stays when it is refused.
  const resolved = loaded.state === "ready" ? loaded.value.days : undefined;
  return (
    <main class="usage">
      <form class="filters" onSubmit={apply} aria-label="Range">
        <label>
          From <input type="date" name="start_date" value={range.start_date ?? resolved?.start_date ?? ""} />
        </label>
        <label>
          To <input type="date" name="end_date" value={range.end_date ?? resolved?.end_date ?? ""} />
        </label>
        {session.mode === "admin" && (
          <label>
            Tenant <input name="tenant_id" value={range.tenant_id ?? ""} placeholder="every tenant" />
          </label>
        )}
        <button type="submit">Show</button>
      </form>
      <Show loaded={loaded}>
        {({ days, models, owners }) => {
          const total = models.data.reduce((sum, row) => sum + row.total_tokens, 0);
          const dollars = models.data.reduce((sum, row) => sum + (row.cost?.total ?? 0), 0);
          const priced = models.data.some((row) => row.cost !== undefined);
          return (
            <>
              <p class="totals">
                <strong>{formatNumber(total)}</strong> tokens in{" "}
                <strong>{formatNumber(models.data.reduce((sum, row) => sum + row.responses, 0))}</strong> responses
                {priced && (
                  <>
                    {" "}
                    · <strong>{formatDollars(dollars)}</strong> for the priced models
                  </>
                )}
              </p>
              <section>
                <h2>Tokens by day</h2>
                <StackedDays data={byDay(days.data, days.start_date, days.end_date)} />
              </section>
              <section>
                <h2>By model</h2>
                <BarList
                  bars={models.data.map((row) => ({
                    label: row.model ?? "",
                    value: row.total_tokens,
                    note: costNote(row),
                  }))}
                />
                {/* An empty range has nothing to price: the advice would hold where MODEL_PRICES is set. */}
                {!priced && models.data.length > 0 && (
                  <p class="muted small">Set MODEL_PRICES to see dollars (docs/service-endpoints.md).</p>
                )}
              </section>
              <section>
                <h2>{session.mode === "admin" ? "By tenant" : "By key"}</h2>
                <BarList
                  bars={owners.data.map((row) => ({
                    label: (session.mode === "admin" ? row.tenant_id : row.api_key_id) ?? "(pass-through key)",
                    value: row.total_tokens,
                    note: costNote(row),
                  }))}
                />
              </section>
            </>
          );
        }}
      </Show>
    </main>
  );
}
