// The response line: one per response that ends (stored or store:false, foreground or background,
// or a lost run ended by the sweep), the same record as the response's Analytics Engine data point.
// A run keeps a `RunTrace` from its start; it counts nothing per event (the event count is the
// normalizer's next sequence number). Used by src/stream/ and src/run/.

import { wrappedApiError } from "../db/failures";
import { TERMINAL_STATUSES, type FailedBy, type ResponseError, type ResponseObject } from "../responses/types";
import type { RunSpec } from "../run/spec";
import type { FinishOutcome } from "../stream/recorder";
import { causeOf, emit, hostOf } from "./log";
import { writeResponseMetric } from "./metrics";
import { logFailure } from "./problems";
import { UpstreamCall } from "./upstream-call";

/** What D1 holds of the response: its end, an end another writer made first, nothing (refused), or nothing by design. */
export type Recorded = "written" | "ended_elsewhere" | "storage_failed" | "not_kept";

export interface ResponseEnd {
  request_id: string | null;
  response_id: string;
  tenant: string;
  key_id: string | null;
  model: string;
  /** The upstream's host (never its URL, which may carry credentials). */
  upstream: string | null;
  protocol: string | null;
  status: string;
  error_code: string | null;
  /** What failed it (null unless `failed`): the client sees `server_error` for most of them alike. */
  failed_by: FailedBy | null;
  background: boolean;
  stream: boolean;
  store: boolean;
  recorded: Recorded;
  /** `run`: the run ended it; `recovery`: its executor died and the sweep (or a read) ended it. */
  ended_by: "run" | "recovery";
  /** From the run's start to the upstream's headers; null when none came. */
  ttfb_ms: number | null;
  /** From the run's start to the first events of the upstream's body; null when none came. */
  first_event_ms: number | null;
  duration_ms: number;
  events: number;
  input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cached_tokens: number;
  /** Upstream attempts beyond each call's first (the response's call and its compaction's summary calls). */
  retries: number;
}

/** What a run's normalizer says of its end. */
export interface EndedRun {
  nextSeq: number;
  failedBy: FailedBy | null;
}

/** The ids a run's lines carry. */
export const runIds = (spec: RunSpec) => ({
  request_id: spec.requestId,
  response_id: spec.responseId,
  tenant: spec.tenantId,
  key_id: spec.apiKeyId,
});

/** What D1 holds after the recorder's end write. */
export const recordedOf = (outcome: FinishOutcome): Recorded => (outcome === "failed" ? "storage_failed" : outcome);

/** Metrics binding, when the deployment has one (`[[analytics_engine_datasets]]` named `METRICS`). */
const metricsOf = (env: object): AnalyticsEngineDataset | undefined =>
  (env as { METRICS?: AnalyticsEngineDataset }).METRICS;

/** One run, from its start to its end line. */
export class RunTrace {
  readonly #spec: RunSpec;
  readonly #metrics: AnalyticsEngineDataset | undefined;
  readonly #startedAt = Date.now();
  #firstEventAt: number | null = null;
  #ended = false;
  /** Filled by the upstream client (src/upstream/client.ts). */
  readonly upstream: UpstreamCall;
  /** The summary calls of create-time compaction (src/compaction/), made before `upstream`'s. */
  readonly summary: UpstreamCall;

  constructor(spec: RunSpec, env: object) {
    this.#spec = spec;
    this.#metrics = metricsOf(env);
    this.upstream = new UpstreamCall(runIds(spec));
    this.summary = new UpstreamCall(runIds(spec));
  }

  /** `sink`, noting when the upstream's first events reach it (one check per chunk, none per event). */
  watch<T, R>(sink: (events: T) => R): (events: T) => R {
    return (events) => {
      this.#firstEventAt ??= Date.now();
      return sink(events);
    };
  }

  /**
   * The run ended with `snapshot` after `run.nextSeq` events, failed by `run.failedBy` (null: by the
   * upstream's own `response.failed`, or not failed); writes its line and data point (once).
   * `refusal`: what refused its end's write (the recorder's), for a `storage_failed` line to say.
   */
  end(snapshot: ResponseObject, run: EndedRun, recorded: Recorded, refusal?: unknown): void {
    const outcome = outcomeOf(snapshot);
    this.#write({ ...outcome, failedBy: run.failedBy }, snapshot.usage, run.nextSeq, recorded, refusal);
  }

  /** The create was refused (`failedBy`: by the upstream or the gateway): it ends `failed` with `error`, nothing streamed. */
  refused(error: ResponseError, failedBy: FailedBy, recorded: Recorded): void {
    // A create refused before any call (an invalid chain, a locked conversation) is no response,
    // unless it was kept as a failed one (a compaction refused before its summary call).
    if (this.upstream.attempts + this.summary.attempts === 0 && recorded !== "written") return;
    this.#write({ status: "failed", error, failedBy }, null, 0, recorded);
  }

  #write(
    outcome: Outcome & { failedBy: FailedBy | null },
    usage: unknown,
    events: number,
    recorded: Recorded,
    refusal?: unknown,
  ): void {
    if (this.#ended) return;
    this.#ended = true;
    const spec = this.#spec;
    const since = (at: number | null) => (at === null ? null : at - this.#startedAt);
    // A warm-up is answered by the gateway itself: no upstream was called, so none is named.
    const called = spec.upstream.warmUp !== true;
    finish(
      {
        ...runIds(spec),
        model: spec.request.model,
        upstream: called ? hostOf(spec.upstream.baseUrl) : null,
        protocol: called ? spec.upstream.protocol : null,
        // A run that stopped without an end (a store:false client gone, a crash) is `interrupted`.
        status: TERMINAL_STATUSES.has(outcome.status) ? outcome.status : "interrupted",
        error_code: outcome.error?.code ?? null,
        failed_by: outcome.status === "failed" ? (outcome.failedBy ?? "upstream_error") : null,
        background: spec.request.background,
        stream: spec.request.stream,
        store: spec.request.store,
        recorded,
        ended_by: "run",
        ttfb_ms: since(this.upstream.answeredAt),
        first_event_ms: called ? since(this.#firstEventAt) : null,
        duration_ms: Date.now() - this.#startedAt,
        events,
        ...tokensOf(usage),
        retries: this.upstream.retries + this.summary.retries,
      },
      outcome.error?.message ?? null,
      this.#metrics,
      refusal,
    );
  }

  /** Something the run could not handle (a bug, a binding that threw): logged with the run's ids. */
  failure(what: string, error: unknown): void {
    logFailure(what, error, runIds(this.#spec));
  }
}

/** The end of a run whose executor died, ended from D1 by the sweep, a read or its object. */
export function logRecoveredEnd(
  row: {
    id: string;
    tenantId: string;
    apiKeyId: string | null;
    model: string;
    background: boolean;
    store: boolean;
    createdAt: number;
  },
  snapshot: ResponseObject,
  events: number,
  recorded: Recorded,
  env?: object,
): void {
  const outcome = outcomeOf(snapshot);
  finish(
    {
      request_id: null,
      response_id: row.id,
      tenant: row.tenantId,
      key_id: row.apiKeyId,
      model: row.model,
      upstream: null,
      protocol: null,
      status: outcome.status,
      error_code: outcome.error?.code ?? null,
      // Its executor died (a deploy, a crash): the gateway's.
      failed_by: outcome.status === "failed" ? "gateway" : null,
      background: row.background,
      stream: false,
      // What its client asked, as the run's own line says: a store:false create recorded under
      // RECORD_STORE_FALSE has a stored row, and its Response says store:false.
      store: typeof snapshot.store === "boolean" ? snapshot.store : row.store,
      recorded,
      ended_by: "recovery",
      ttfb_ms: null,
      first_event_ms: null,
      duration_ms: Math.max(0, Date.now() - row.createdAt * 1000),
      events,
      ...tokensOf(snapshot.usage),
      retries: 0,
    },
    outcome.error?.message ?? null,
    env === undefined ? undefined : metricsOf(env),
  );
}

function finish(
  end: ResponseEnd,
  message: string | null,
  metrics: AnalyticsEngineDataset | undefined,
  refusal?: unknown,
): void {
  // Only an error's message needs cleaning (it may hold an upstream URL); the plain line is ours.
  const outcome =
    end.error_code === null
      ? `response ${end.status}`
      : causeOf(`response ${end.status}: ${end.error_code}${message ? `: ${message}` : ""}`);
  // A `completed` end D1 refused is no success to its client (a 503 or an `error` event instead): a
  // warning that says so, found among the failures rather than the completed responses.
  const unrecorded = end.recorded === "storage_failed";
  const msg = unrecorded ? `${outcome} but not recorded: ${whyUnrecorded(refusal)}` : outcome;
  emit(end.status === "failed" || unrecorded ? "warn" : "log", "response_end", msg, { ...end });
  if (metrics !== undefined) writeResponseMetric(metrics, end);
}

/**
 * Who refused an end's write: D1 (its d1_failure line says why), or the gateway itself (a tenant
 * move outlasting its wait, logged as a tenant_move line, not as D1's: the recorder neither retries
 * nor reports it), in the gateway's own words.
 */
function whyUnrecorded(refusal: unknown): string {
  const own = wrappedApiError(refusal);
  return own === undefined
    ? "D1 refused its end (see its d1_failure line)"
    : `the gateway refused its end's write: ${own.message}`;
}

interface Outcome {
  status: string;
  error: Pick<ResponseError, "code" | "message"> | null;
}

function outcomeOf(snapshot: ResponseObject): Outcome {
  const error = snapshot.error as Partial<ResponseError> | null | undefined;
  if (typeof error?.code !== "string") return { status: snapshot.status, error: null };
  return { status: snapshot.status, error: { code: error.code, message: String(error.message ?? "") } };
}

const count = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 0);

function tokensOf(
  usage: unknown,
): Pick<ResponseEnd, "input_tokens" | "output_tokens" | "reasoning_tokens" | "cached_tokens"> {
  const u = (typeof usage === "object" && usage !== null ? usage : {}) as Record<string, unknown>;
  const input = (u.input_tokens_details ?? {}) as Record<string, unknown>;
  const output = (u.output_tokens_details ?? {}) as Record<string, unknown>;
  return {
    input_tokens: count(u.input_tokens),
    output_tokens: count(u.output_tokens),
    reasoning_tokens: count(output.reasoning_tokens),
    cached_tokens: count(input.cached_tokens),
  };
}
