// The lines for what went wrong on the side of a request or a run: a D1 write retried or given up, a
// webhook attempt that failed, an upstream event dropped, a sweep or retention pass, a wrong setting, a
// crash. Each names its cause in `msg`. Used by the recorder, the runs, the webhook dispatcher, the
// cron and the settings' readers.

import { causeOf, emit, hostOf, stackOf, type LogFields } from "./log";

/** A setting that is wrong, named in `setting` (the message shows a URL by its host, a secret by its length). */
export function logConfigProblem(setting: string, msg: string, fields: LogFields = {}): void {
  emit("error", "config_problem", msg, { setting, ...fields });
}

/** Where a D1 write stands: attempt `attempt` of `of` (both 1-based). */
export interface WriteAttempt {
  attempt: number;
  of: number;
}

/**
 * A D1 write failed: `d1_retry` while it will be tried again (an attempt left, or a progress flush
 * whose events wait for the next one), `d1_failure` once it is given up.
 */
export function logD1Problem(fields: LogFields, what: string, error: unknown, attempt?: WriteAttempt): void {
  const givenUp = attempt !== undefined && attempt.attempt >= attempt.of;
  // Error level either way, as D1 refusing a write is never expected.
  emit("error", givenUp ? "d1_failure" : "d1_retry", `${what}: ${causeOf(error)}`, {
    ...fields,
    attempt: attempt?.attempt ?? null,
    max_attempts: attempt?.of ?? null,
    cause: causeOf(error),
  });
}

/** A write D1 had refused (with `refusal`, its d1_failure line) landed on a later try; `what` says which. */
export function logD1Recovered(fields: LogFields, what: string, refusal: unknown): void {
  emit("warn", "d1_recovered", what, { ...fields, cause: causeOf(refusal) });
}

/** Something failed that the code did not expect (a bug, a binding that threw); `what` says where. */
export function logFailure(what: string, error: unknown, fields: LogFields = {}): void {
  emit("error", "failure", `${what}: ${causeOf(error)}`, { ...fields, cause: causeOf(error), stack: stackOf(error) });
}

/** The upstream sent something the gateway dropped or repaired (an unknown event type...). */
export function logAnomaly(responseId: string, message: string): void {
  emit("warn", "upstream_anomaly", message, { response_id: responseId });
}

/** A webhook delivery as its lines name it. */
interface LoggedDelivery {
  id: string;
  responseId: string;
  tenantId: string;
  endpointId: string | null;
}

/** The fields every line about one attempt of a delivery carries. */
const attemptFields = (
  delivery: LoggedDelivery,
  host: string,
  attempt: { number: number; statusCode: number | null; durationMs: number },
) => ({
  delivery_id: delivery.id,
  response_id: delivery.responseId,
  tenant: delivery.tenantId,
  endpoint_id: delivery.endpointId,
  endpoint_host: host,
  attempt: attempt.number,
  status_code: attempt.statusCode,
  duration_ms: attempt.durationMs,
});

/** A webhook attempt that did not deliver; `next` is the delivery's state after it (`pending`: retried). */
export function logWebhookFailure(
  delivery: LoggedDelivery,
  url: string,
  attempt: { number: number; statusCode: number | null; error: string | null; durationMs: number },
  next: { status: string; nextAttemptAt: number | null },
): void {
  const host = hostOf(url);
  const cause = attempt.error ?? (attempt.statusCode === null ? "no answer" : `HTTP ${attempt.statusCode}`);
  const then = next.status === "pending" ? "retried later" : "given up";
  emit("warn", "webhook_failure", `webhook to ${host} failed: ${cause.replace(/\.$/, "")}; ${then}`, {
    ...attemptFields(delivery, host, attempt),
    cause,
    delivery_status: next.status,
    next_attempt_at: next.nextAttemptAt === null ? null : new Date(next.nextAttemptAt).toISOString(),
  });
}

/**
 * A delivery delivered after failed attempts: the end of its `webhook_failure` lines. A delivery
 * delivered at its first attempt writes nothing (that would be a line per webhook).
 */
export function logWebhookRecovered(
  delivery: LoggedDelivery,
  url: string,
  attempt: { number: number; statusCode: number | null; durationMs: number },
): void {
  const host = hostOf(url);
  emit("log", "webhook_recovered", `webhook to ${host} delivered at attempt ${attempt.number}, after failed ones`, {
    ...attemptFields(delivery, host, attempt),
    delivery_status: "delivered",
  });
}

/**
 * A tenant's move ended: its history is on `to` (`rows` copied, per table). `from` equal to `to`: a
 * move called off, a tenant with no history placed, or one already there; the tenant's writes go on.
 */
export function logTenantMoved(
  tenantId: string,
  from: string,
  to: string,
  rows: Record<string, number>,
  done = true,
): void {
  const copied = Object.values(rows).reduce((sum, n) => sum + n, 0);
  // A call that ran out of its budget moved nothing yet: it says so, not "moved".
  const msg =
    from === to
      ? `tenant is on ${to}, no move pending`
      : done
        ? `tenant moved from ${from} to ${to}`
        : `tenant moving from ${from} to ${to}, not done (send the move again)`;
  emit("log", "tenant_move", `${msg}: ${copied} rows copied`, { tenant: tenantId, from, to, rows: copied, done });
}

/**
 * A tenant's write gave up waiting for its move: the mark outlived the wait, as a move's drain and
 * copy rarely do, and a move whose Worker was stopped (a deploy mid-move) always does. Says how to
 * call it off, as nothing else would tell an operator why one tenant's writes all answer 503.
 */
export function logMoveWait(tenantId: string, shard: string, movingTo: string, waitedMs: number): void {
  emit(
    "warn",
    "tenant_move",
    `a write of tenant ${tenantId} was refused (503 storage_unavailable): the tenant is marked moving from ${shard} to ${movingTo} and the move did not end within ${Math.round(waitedMs / 1000)} s; if no move is running (its Worker was stopped), call it off by moving the tenant to ${shard}`,
    { tenant: tenantId, shard, moving_to: movingTo, waited_ms: waitedMs },
  );
}

/** What a cron sweep did: `action` names it (ended, left, deleted...), `msg` says it in words. */
export function logSweep(
  event: "sweep" | "retention" | "usage_rollup",
  msg: string,
  fields: LogFields,
  failed = false,
): void {
  emit(failed ? "error" : "log", event, msg, fields);
}
