// Opt-in CORS for browser clients on other origins (`CORS_ORIGINS`: exact origins, comma-separated;
// unset: off, and browsers keep the same-origin policy). Used by the router around every request,
// for the API (`/v1`) and `/health` only: the admin API takes the operator's token and the console
// is same-origin, so no other origin is invited to either.

import { ApiError, errorResponse } from "../errors";
import { logConfigProblem } from "../observe/problems";

/** Headers a browser client may read from our answers (the SDK reads the request id and limits). */
const EXPOSED_HEADERS = [
  "x-request-id",
  "retry-after",
  "x-should-retry",
  "idempotent-replayed",
  "x-ratelimit-limit-requests",
  "x-ratelimit-remaining-requests",
  "x-ratelimit-reset-requests",
  "ratelimit-policy",
].join(", ");
const ALLOWED_METHODS = "GET, POST, DELETE, OPTIONS";
/** Request headers allowed when a preflight names none (the SDK names its own `x-stainless-*`). */
const DEFAULT_ALLOWED_HEADERS = "authorization, content-type, idempotency-key";
/** How long a browser may cache a preflight (Chromium caps it at 2 hours). */
const PREFLIGHT_MAX_AGE_SECONDS = 7200;

/** The paths CORS_ORIGINS opens: the API its browser clients call, and the unauthenticated health check. */
const isCorsPath = (request: Request): boolean => {
  const path = new URL(request.url).pathname;
  return path === "/v1" || path.startsWith("/v1/") || path === "/health";
};

export type CorsPolicy = { ok: true; origins: ReadonlySet<string> } | { ok: false; problem: string } | null;

/** An origin as browsers send it: scheme, host and port only, lower case, no trailing slash. */
function checkOrigin(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  return url.origin === value ? value : null;
}

/** The policy of `CORS_ORIGINS`; null when unset (CORS off). */
export function readCorsPolicy(env: Env): CorsPolicy {
  const raw = (env as unknown as Record<string, unknown>).CORS_ORIGINS;
  if (raw === undefined || raw === null || (typeof raw === "string" && raw.trim() === "")) return null;
  if (typeof raw !== "string")
    return { ok: false, problem: "CORS_ORIGINS must be a comma-separated string of origins." };
  const origins = new Set<string>();
  for (const [index, entry] of raw.split(",").entries()) {
    const value = entry.trim();
    if (checkOrigin(value) === null)
      return {
        ok: false,
        problem: `CORS_ORIGINS entry ${index + 1} is not an exact origin such as 'https://app.example.com' (scheme, host and port; no path, no trailing slash, no wildcard).`,
      };
    origins.add(value);
  }
  return { ok: true, origins };
}

const misconfigured = (problem: string) =>
  new ApiError(500, `The gateway's CORS setting is invalid: ${problem}`, {
    type: "server_error",
    code: "cors_misconfigured",
    // The operator's to fix: a retry would get the same answer.
    headers: { "x-should-retry": "false" },
  });

/**
 * The answer to a CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) when
 * CORS is configured; null lets the request through to the router (CORS off: OPTIONS is a 404).
 */
export function preflight(request: Request, policy: CorsPolicy, requestId: string): Response | null {
  if (policy === null || request.method !== "OPTIONS" || !isCorsPath(request)) return null;
  const origin = request.headers.get("origin");
  if (origin === null || request.headers.get("access-control-request-method") === null) return null;
  if (!policy.ok) {
    logConfigProblem("CORS_ORIGINS", `CORS disabled: ${policy.problem}`);
    return errorResponse(misconfigured(policy.problem), requestId);
  }
  const headers = new Headers({ vary: "Origin", "x-request-id": requestId });
  if (policy.origins.has(origin)) {
    headers.set("access-control-allow-origin", origin);
    headers.set("access-control-allow-methods", ALLOWED_METHODS);
    headers.set(
      "access-control-allow-headers",
      request.headers.get("access-control-request-headers") ?? DEFAULT_ALLOWED_HEADERS,
    );
    headers.set("access-control-max-age", String(PREFLIGHT_MAX_AGE_SECONDS));
  }
  // Another origin gets no allow headers: its browser refuses to send the request.
  return new Response(null, { status: 204, headers });
}

/** Adds the CORS headers to an answer for an allowed origin; copies it when its headers are immutable. */
export function withCors(request: Request, policy: CorsPolicy, response: Response): Response {
  if (policy === null || !policy.ok || !isCorsPath(request)) return response;
  const origin = request.headers.get("origin");
  const add = (headers: Headers) => {
    // A preflight's answer already varies on Origin: a second `Origin` would only repeat it.
    if (!/(?:^|,)\s*origin\s*(?:,|$)/i.test(headers.get("vary") ?? "")) headers.append("vary", "Origin");
    if (origin === null || !policy.origins.has(origin)) return;
    headers.set("access-control-allow-origin", origin);
    headers.set("access-control-expose-headers", EXPOSED_HEADERS);
  };
  try {
    add(response.headers);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    add(copy.headers);
    return copy;
  }
}
