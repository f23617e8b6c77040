// The request line: one per HTTP request the Worker answers, written by the router once the answer's
// headers are ready (a stream's end is the response line's). What the route learns on the way (the
// caller, the response it created, the error it threw) is noted on the request itself, never in module scope.

import type { IRequest } from "itty-router";
import type { ApiError } from "../errors";
import type { RunSpec } from "../run/spec";
import { emit, hostOf } from "./log";

/** What the request line reports, gathered while the request is handled. */
interface RequestTrace {
  requestId: string;
  startedAt: number;
  tenant: string | null;
  keyId: string | null;
  responseId: string | null;
  /** What a create asked for and where it went (upstream and protocol null for a warm-up, which went nowhere). */
  run: { model: string; upstream: string | null; protocol: string | null } | null;
  error: { type: string; code: string | null; source: ErrorSource } | null;
}

/** Who made the error answered: the gateway (its limits, checks, its own 502/504), or the upstream (passed on). */
type ErrorSource = "gateway" | "upstream";

const TRACE = Symbol("request trace");

type Traced = Request & { [TRACE]?: RequestTrace };

/** Starts the request's trace (the router, first thing). */
export function beginRequest(request: Request, requestId: string): void {
  (request as Traced)[TRACE] = {
    requestId,
    startedAt: Date.now(),
    tenant: null,
    keyId: null,
    responseId: null,
    run: null,
    error: null,
  };
}

/** The caller the request acts for: its tenant and managed key id (never the key). */
export function noteCaller(request: Request, caller: { tenantId: string; apiKeyId: string | null }): void {
  const trace = (request as Traced)[TRACE];
  if (trace === undefined) return;
  trace.tenant = caller.tenantId;
  trace.keyId = caller.apiKeyId;
}

/** The response a create made (with its model and upstream), or an idempotent retry answered with. */
export function noteResponse(request: Request, responseId: string, spec?: RunSpec): void {
  const trace = (request as Traced)[TRACE];
  if (trace === undefined) return;
  trace.responseId = responseId;
  // A warm-up calls no upstream (the gateway answers it): none is named.
  const called = spec?.upstream.warmUp !== true;
  if (spec !== undefined)
    trace.run = {
      model: spec.request.model,
      upstream: called ? hostOf(spec.upstream.baseUrl) : null,
      protocol: called ? spec.upstream.protocol : null,
    };
}

/** The error the route threw (the answer is its envelope). */
export function noteError(request: Request, error: ApiError): void {
  const trace = (request as Traced)[TRACE];
  if (trace !== undefined)
    trace.error = { type: error.type, code: error.code, source: error.fromUpstream ? "upstream" : "gateway" };
}

/** Longest response id taken from a path: a real one is 53 characters; anything longer is not one. */
const MAX_PATH_ID_CHARS = 64;

/**
 * Writes the request line for `answer`. An error answer the route built itself (not thrown) has its
 * envelope read from a copy, after the answer is sent; it is the gateway's (an upstream's error is thrown).
 */
export function logRequest(request: Request, answer: Response, ctx: ExecutionContext): void {
  const trace = (request as Traced)[TRACE];
  if (trace === undefined) return;
  const durationMs = Date.now() - trace.startedAt;
  const json = answer.headers.get("content-type")?.includes("application/json") === true;
  if (answer.status >= 400 && trace.error === null && json && answer.body !== null) {
    ctx.waitUntil(
      answer
        .clone()
        .json<{ error?: { type?: unknown; code?: unknown } }>()
        .then(
          ({ error }) => write(request, trace, answer.status, durationMs, envelopeError(error)),
          () => write(request, trace, answer.status, durationMs, null),
        ),
    );
    return;
  }
  write(request, trace, answer.status, durationMs, trace.error);
}

function envelopeError(error: { type?: unknown; code?: unknown } | undefined): RequestTrace["error"] {
  if (typeof error?.type !== "string") return null;
  return { type: error.type, code: typeof error.code === "string" ? error.code : null, source: "gateway" };
}

function write(
  request: Request,
  trace: RequestTrace,
  status: number,
  durationMs: number,
  error: RequestTrace["error"],
): void {
  // The pattern the router matched (`/v1/responses/:id`), never the path with its ids.
  const { route, params } = request as IRequest & { route?: string };
  const pathId = params?.id;
  const responseId =
    trace.responseId ??
    (route?.includes("/responses/:id") === true &&
    typeof pathId === "string" &&
    pathId.startsWith("resp_") &&
    pathId.length <= MAX_PATH_ID_CHARS
      ? pathId
      : null);
  const pattern = route ?? (request.method === "OPTIONS" ? "(preflight)" : "(no route)");
  const outcome = error === null ? "" : ` ${error.code ?? error.type}`;
  // A 5xx is a warning: the crash behind a 500 has its own `failure` line at error level.
  emit(status >= 500 ? "warn" : "log", "request", `${request.method} ${pattern} ${status}${outcome}`, {
    request_id: trace.requestId,
    route: pattern,
    method: request.method,
    http_status: status,
    error_type: error?.type ?? null,
    error_code: error?.code ?? null,
    error_source: error?.source ?? null,
    duration_ms: durationMs,
    tenant: trace.tenant,
    key_id: trace.keyId,
    response_id: responseId,
    model: trace.run?.model ?? null,
    upstream: trace.run?.upstream ?? null,
    protocol: trace.run?.protocol ?? null,
  });
}
