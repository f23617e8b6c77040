// Pass-through mode: has the upstream accepted the caller's key? Nothing is written for a tenant
// until it has, so invented keys create nothing. A per-isolate memory of accepted keys (by tenant
// id, itself a hash of the key; bounded, for a few minutes), and a check of a key not known yet
// that runs nothing upstream. Used by the routes that write (conversations and their items, webhook
// endpoints, delivery resends) and by the create path, whose own upstream call is the check.

import type { GatewayConfig } from "../config";
import { ApiError, isHistoryMiss } from "../errors";
import { readErrorBody, redactErrorBody } from "../upstream/client";
import { upstreamHttpError } from "../upstream/errors";
import { protocolFor } from "../upstream/registry";
import { bearerToken, passthroughCaller, type Caller } from "./auth";
import { RecentKeys } from "./recent-keys";

/** How long an acceptance is trusted: a key revoked upstream can still write for at most this long. */
export const KEY_ACCEPTANCE_TTL_MS = 5 * 60_000;
/** Keys remembered per isolate (an entry is about 100 bytes). */
const MAX_ACCEPTED_KEYS = 10_000;
/** Longest a check may take; the configured first-byte timeout bounds it too. */
const MAX_CHECK_MS = 10_000;

const accepted = new RecentKeys(KEY_ACCEPTANCE_TTL_MS, MAX_ACCEPTED_KEYS);

export type KeyVerdict =
  | { kind: "accepted" }
  /** The upstream's own error (401 or 403), its copy of the key redacted. */
  | { kind: "refused"; error: ApiError }
  /**
   * The upstream gave no verdict (429, 5xx, another status, no answer in time: `status` null);
   * `lasting` says why asking again cannot help (null when it may).
   */
  | { kind: "unverified"; status: number | null; lasting: string | null };

/**
 * Whether writes may go ahead without asking the upstream: in keys mode always (the gateway issued
 * the key), in pass-through mode once the upstream accepted the key lately.
 */
export function isKeyAccepted(caller: Caller): boolean {
  return caller.apiKeyId !== null || caller.upstreamKey === null || accepted.has(caller.tenantId);
}

/** Records that the upstream accepted the caller's key: a call made with it answered 2xx. */
export function markKeyAccepted(caller: Caller): void {
  if (caller.apiKeyId === null && caller.upstreamKey !== null) accepted.add(caller.tenantId, true);
}

/**
 * Asks the default upstream whether it accepts the caller's key, running nothing there:
 * `GET {base}/models` with it. A 2xx accepts it, a 401 refuses it. A 403 (a key that may not list
 * models, as OpenAI's restricted keys) or a 404 or 405 (a server without /models) says nothing of
 * the key, so the protocol's own endpoint (`/responses`, `/chat/completions`) is asked with an empty
 * body, which every server refuses once it has checked the key: a 400 or 422 (or a 2xx) accepts it,
 * a 401 or 403 refuses it. Anything else gives no verdict.
 */
export async function verifyKeyUpstream(caller: Caller, config: GatewayConfig): Promise<KeyVerdict> {
  const key = caller.upstreamKey;
  if (key === null || caller.apiKeyId !== null) return { kind: "accepted" };
  const { baseUrl, protocol } = config.upstream;
  const path = protocolFor(protocol).path;
  const timeoutMs = Math.min(MAX_CHECK_MS, config.firstByteTimeoutMs);
  const headers = { authorization: `Bearer ${key}`, accept: "application/json" };
  const listed = await ask(`${baseUrl}/models`, { method: "GET", headers }, key, timeoutMs);
  if (listed.kind !== "answered") return listed;
  if (listed.status === 401) return { kind: "refused", error: listed.error };
  if (listed.status !== 403 && listed.status !== 404 && listed.status !== 405) return unverified(listed.status, null);
  const probe = await ask(
    `${baseUrl}${path}`,
    { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: "{}" },
    key,
    timeoutMs,
  );
  if (probe.kind !== "answered") return probe;
  if (probe.status === 400 || probe.status === 422) return { kind: "accepted" };
  if (probe.status === 401 || probe.status === 403) return { kind: "refused", error: probe.error };
  // Neither path served: the base URL or the protocol is wrong, which no retry mends.
  if (probe.status === 404 && listed.status === 404)
    return unverified(
      404,
      protocol === "responses"
        ? `it serves neither /models nor ${path} (HTTP 404 to both): if it speaks Chat Completions, the gateway's operator must set UPSTREAM_PROTOCOL=chat_completions; else UPSTREAM_BASE_URL is not its API's base URL`
        : `it serves neither /models nor ${path} (HTTP 404 to both): UPSTREAM_BASE_URL is not its API's base URL (as https://host/v1)`,
    );
  return unverified(probe.status, null);
}

/** No verdict: lasting when the upstream's answer will not change (a 4xx other than 408, 409 or 429). */
function unverified(status: number | null, lasting: string | null): KeyVerdict {
  const settled = status !== null && status >= 400 && status < 500 && ![408, 409, 429].includes(status);
  return {
    kind: "unverified",
    status,
    lasting: lasting ?? (settled ? `it answered ${status}, and would again` : null),
  };
}

/**
 * Lets a write go ahead only for a key the upstream has accepted: checks a key not known yet, and
 * remembers the acceptance. Throws the upstream's 401/403 for a refused key, a retryable 503
 * (`key_unverified`) when the upstream gave no verdict.
 */
export async function requireAcceptedKey(caller: Caller, config: GatewayConfig): Promise<void> {
  if (isKeyAccepted(caller)) return;
  const verdict = await verifyKeyUpstream(caller, config);
  if (verdict.kind === "refused") throw verdict.error;
  if (verdict.kind === "unverified") throw keyUnverified(verdict.status, verdict.lasting);
  markKeyAccepted(caller);
}

/**
 * The upstream's refusal of the key behind a /v1 request that found nothing of the caller's own
 * (a `historyMiss`: a previous response, an item, a conversation... not found), or null. In
 * pass-through mode a wrong key's tenant (its hash) has an empty history, so "not found" would send
 * its user looking for the id while OpenAI answers a wrong key 401 whatever it asked for (as a
 * conversation turn here, which checks the key first). Asks the upstream only on such a miss, and
 * only for a key not accepted lately, and once a minute for a key it refused (repeating a wrong key
 * waits for no upstream); with no verdict the miss stands. Never for another path: an admin token
 * must not be sent upstream.
 */
export async function refusalBehindMiss(
  request: Request,
  config: GatewayConfig,
  error: ApiError,
): Promise<ApiError | null> {
  if (config.authMode !== "passthrough" || !isHistoryMiss(error)) return null;
  if (!new URL(request.url).pathname.startsWith("/v1/")) return null;
  const key = bearerToken(request);
  // (The operator's admin token never gets here: authentication refuses it on /v1, src/http/auth.ts.)
  if (key === null) return null;
  const caller = await passthroughCaller(key);
  if (isKeyAccepted(caller)) return null;
  const known = refused.get(caller.tenantId);
  if (known !== undefined) return known;
  const verdict = await verifyKeyUpstream(caller, config);
  if (verdict.kind === "accepted") markKeyAccepted(caller);
  if (verdict.kind !== "refused") return null;
  refused.add(caller.tenantId, verdict.error);
  return verdict.error;
}

/** How long a refusal answers a wrong key's misses without asking the upstream again. */
const REFUSAL_TTL_MS = 60_000;
/** Refusals remembered per isolate (by tenant id, a hash of the key), each with the upstream's error. */
const refused = new RecentKeys<ApiError>(REFUSAL_TTL_MS, 1_000);

/**
 * A retryable 503, or, when retrying cannot help (`lasting`), a 502 the SDKs do not retry
 * (`x-should-retry: false`) that says what the operator must fix.
 */
const keyUnverified = (status: number | null, lasting: string | null): ApiError =>
  lasting === null
    ? new ApiError(
        503,
        `The upstream model server could not confirm this API key just now (${status === null ? "it did not answer" : `it answered ${status}`}), so nothing was written. Please try again.`,
        { type: "server_error", code: "key_unverified" },
      )
    : new ApiError(
        502,
        `The upstream model server cannot confirm this API key (${lasting}), so nothing was written. Retrying will not help.`,
        { type: "server_error", code: "key_unverified", headers: { "x-should-retry": "false" } },
      );

type Asked =
  | { kind: "accepted" }
  | { kind: "unverified"; status: null; lasting: null }
  | { kind: "answered"; status: number; error: ApiError };

/** One request of a check: a 2xx accepts; other answers are read (errors bounded) for the caller to judge. */
async function ask(url: string, init: RequestInit, key: string, timeoutMs: number): Promise<Asked> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), timeoutMs);
  try {
    const response = await fetch(url, { ...init, signal: timeout.signal });
    if (response.ok) {
      await response.body?.cancel();
      return { kind: "accepted" };
    }
    const body = redactErrorBody(await readErrorBody(response), key);
    return {
      kind: "answered",
      status: response.status,
      error: upstreamHttpError(response.status, body, response.headers),
    };
  } catch {
    return { kind: "unverified", status: null, lasting: null };
  } finally {
    clearTimeout(timer);
  }
}
