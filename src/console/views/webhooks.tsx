// A response's webhook deliveries, each with every attempt (time, duration, status code, error), a
// pending one's next attempt time and, for the tenant who owns it, a button that sends a finished
// delivery again.

import { useState } from "preact/hooks";
import { getJson, postJson, type List } from "../api";
import type { Session } from "../session";
import { ErrorBox, messageOf, Show, Status, Time, useLoad } from "./common";

export interface Attempt {
  attempt: number;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
}

export interface Delivery {
  id: string;
  response_id: string;
  /** Null for a tenant's delivery to the deployment's own webhook (WEBHOOK_URL). */
  url: string | null;
  status: string;
  attempt_count: number;
  event: { type?: string };
  attempts?: Attempt[];
  created_at: number;
  last_attempt_at: number | null;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: number | null;
}

/** A delivery's attempts, oldest first: when, how long, the HTTP status and the error. */
export function Attempts({ attempts }: { attempts: Attempt[] }) {
  return (
    <table class="attempts">
      <thead>
        <tr>
          <th class="num">Attempt</th>
          <th>At</th>
          <th class="num">Duration</th>
          <th class="num">HTTP</th>
          <th>Error</th>
        </tr>
      </thead>
      <tbody>
        {attempts.map((attempt) => (
          <tr key={attempt.attempt}>
            <td class="num">{attempt.attempt}</td>
            <td>
              <Time seconds={attempt.started_at} />
            </td>
            <td class="num">{attempt.duration_ms} ms</td>
            <td class="num">{attempt.status_code ?? "—"}</td>
            <td>{attempt.error ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function WebhookDeliveries({ session, base, version }: { session: Session; base: string; version: number }) {
  const [loaded, reload] = useLoad(
    () => getJson<List<Delivery>>(session, `${base}/webhook_deliveries`),
    `${base}#${version}`,
  );
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  async function resend(id: string) {
    setBusy(id);
    setError(null);
    try {
      await postJson(session, `/v1/webhook_deliveries/${encodeURIComponent(id)}/resend`);
      reload();
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(null);
    }
  }

  return (
    <Show loaded={loaded}>
      {(list) =>
        list.data.length === 0 ? (
          <p class="muted">
            No webhook deliveries. A background response sends them when it ends, to its key's webhook endpoints or the
            deployment's webhook, when there are any.
          </p>
        ) : (
          <div class="deliveries">
            {error !== null && <ErrorBox message={error} />}
            {list.data.map((delivery) => (
              <div class="delivery" key={delivery.id} data-delivery={delivery.id}>
                <div class="delivery-head">
                  <code>{delivery.event.type ?? "event"}</code> to{" "}
                  <span class="mono">{delivery.url ?? "the deployment's webhook"}</span>{" "}
                  <Status status={delivery.status} />{" "}
                  <span class="muted">
                    {delivery.attempt_count} attempt{delivery.attempt_count === 1 ? "" : "s"}
                  </span>
                  {delivery.status === "pending" && typeof delivery.next_attempt_at === "number" && (
                    <span class="muted next-attempt">
                      {" "}
                      · next attempt <Time seconds={delivery.next_attempt_at} />
                    </span>
                  )}
                  {session.mode === "tenant" ? (
                    <button
                      type="button"
                      disabled={delivery.status === "pending" || busy === delivery.id}
                      title={delivery.status === "pending" ? "Still being attempted" : "Send the same event again"}
                      onClick={() => void resend(delivery.id)}
                    >
                      {busy === delivery.id ? "Resending…" : "Resend"}
                    </button>
                  ) : (
                    <span class="muted small"> (resend with the tenant's key)</span>
                  )}
                </div>
                <Attempts attempts={delivery.attempts ?? []} />
              </div>
            ))}
          </div>
        )
      }
    </Show>
  );
}
