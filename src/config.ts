// Gateway configuration read from Worker vars and secrets, with defaults and their reasons.
// Read once per request (no module-scope state); `wrangler dev --var NAME:VALUE` overrides vars.

import type { ProtocolName } from "./upstream/protocol";
import { readRoutes, type RoutingTable } from "./upstream/routes";

export interface UpstreamConfig {
  baseUrl: string;
  protocol: ProtocolName;
  /** Key sent upstream instead of the client's (secret `UPSTREAM_API_KEY`); null = pass-through. */
  apiKey: string | null;
}

export interface GatewayConfig {
  upstream: UpstreamConfig;
  /** Further upstreams by model name (`UPSTREAM_ROUTES`); the default upstream serves the rest. */
  routes: RoutingTable;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** Time allowed for the upstream to answer with headers. */
  firstByteTimeoutMs: number;
  /** Longest silence allowed inside an upstream stream. */
  idleTimeoutMs: number;
  /** Longest a response may run before it is stopped and marked failed. */
  maxRunMs: number;
  /** Retries of an upstream call that failed before its first byte (connection errors, 429, 5xx). */
  upstreamRetries: number;
  /** Bytes accepted from one upstream response before the run is stopped and marked failed. */
  maxUpstreamBodyBytes: number;
  /** Largest single upstream event (or non-streamed JSON body), in bytes. */
  maxUpstreamEventBytes: number;
  /** How long a finished response's Durable Object keeps its log before the cleanup alarm. */
  retainRunLogMs: number;
  /** A running response's events reach D1 at least this often (and its heartbeat as often). */
  recordFlushMs: number;
  /** Pending event characters that send a batch to D1 before the interval is up. */
  recordFlushChars: number;
  /** How long a stored foreground response runs on after its client disconnected (`ctx.waitUntil` allows ~30 s). */
  disconnectGraceMs: number;
  /**
   * `passthrough`: the client's key goes upstream; `keys`: gateway keys, upstream keys stay in
   * secrets. Null when `AUTH_MODE` holds anything else: requests are refused, not let through.
   */
  authMode: AuthMode | null;
  /** Secret `ADMIN_TOKEN` guarding `/admin/`; null: the admin API does not exist (404). */
  adminToken: string | null;
  /** Days a stored response is kept before the cron deletes it; 0 keeps responses forever. */
  retentionDays: number;
  /** The window of the `RATE_LIMITER` binding (10 or 60 s, as in wrangler.toml), for `retry-after`. */
  rateLimitPeriodSeconds: number;
  /** How often the watchdog alarm looks at a running response (bounds how long an orphan stays in progress). */
  watchdogMs: number;
  webhooks: WebhookConfig;
  /** Secret `COMPACTION_SECRET`: the key of the compaction items the gateway makes for chat upstreams; null: none. */
  compactionSecret: string | null;
}

export interface WebhookConfig {
  /** Deployment-wide endpoint (var `WEBHOOK_URL`) for tenants without endpoints of their own; null = none. */
  defaultUrl: string | null;
  /** Its `whsec_` secret (secret `WEBHOOK_SECRET`). */
  defaultSecret: string | null;
  /** `WEBHOOK_ALLOW_LOOPBACK=true` allows http to 127.0.0.1/localhost/::1, for local development. */
  allowLoopback: boolean;
  /** First retry delay; each further one doubles (with jitter), capped at an hour. */
  retryBaseMs: number;
}

export type AuthMode = "passthrough" | "keys";

/** 16 MiB: room for image data URLs, well under the 32 MiB a Durable Object call may carry. */
const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** 1 MiB of frames: a batch compresses to well under a D1 row's 2 MB, and is little memory to hold. */
const DEFAULT_RECORD_FLUSH_CHARS = 1024 * 1024;

/** 256 MiB: a runaway stream is stopped; far above any real answer (it streams, nothing is held). */
const DEFAULT_MAX_UPSTREAM_BODY_BYTES = 256 * 1024 * 1024;
/** 32 MiB: one `response.completed` carries the whole Response; an event is held in memory whole. */
const DEFAULT_MAX_UPSTREAM_EVENT_BYTES = 32 * 1024 * 1024;

function number(value: unknown, fallback: number): number {
  if (typeof value !== "string" || value.trim() === "") return fallback;
  const parsed = Number(value);
  return Number.isFinite(parsed) && parsed >= 0 ? parsed : fallback;
}

function text(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

function protocol(value: unknown): ProtocolName {
  return value === "chat_completions" ? "chat_completions" : "responses";
}

function authMode(value: unknown): AuthMode | null {
  if (value === undefined || value === "" || value === "passthrough") return "passthrough";
  return value === "keys" ? "keys" : null;
}

export function readConfig(env: Env): GatewayConfig {
  const vars = env as unknown as Record<string, unknown>;
  return {
    upstream: {
      baseUrl: (typeof vars.UPSTREAM_BASE_URL === "string"
        ? vars.UPSTREAM_BASE_URL
        : "https://api.openai.com/v1"
      ).replace(/\/+$/, ""),
      protocol: protocol(vars.UPSTREAM_PROTOCOL),
      apiKey: typeof vars.UPSTREAM_API_KEY === "string" && vars.UPSTREAM_API_KEY !== "" ? vars.UPSTREAM_API_KEY : null,
    },
    routes: readRoutes(vars),
    maxBodyBytes: number(vars.MAX_REQUEST_BYTES, DEFAULT_MAX_BODY_BYTES),
    firstByteTimeoutMs: number(vars.UPSTREAM_FIRST_BYTE_TIMEOUT_MS, 120_000),
    idleTimeoutMs: number(vars.UPSTREAM_IDLE_TIMEOUT_MS, 300_000),
    maxRunMs: number(vars.MAX_RUN_SECONDS, 3600) * 1000,
    upstreamRetries: number(vars.UPSTREAM_RETRIES, 2),
    maxUpstreamBodyBytes: Math.max(1, number(vars.UPSTREAM_MAX_BODY_BYTES, DEFAULT_MAX_UPSTREAM_BODY_BYTES)),
    maxUpstreamEventBytes: Math.max(1, number(vars.UPSTREAM_MAX_EVENT_BYTES, DEFAULT_MAX_UPSTREAM_EVENT_BYTES)),
    retainRunLogMs: number(vars.RUN_LOG_RETENTION_SECONDS, 600) * 1000,
    recordFlushMs: Math.max(1, number(vars.RECORD_FLUSH_SECONDS, 10)) * 1000,
    recordFlushChars: DEFAULT_RECORD_FLUSH_CHARS,
    disconnectGraceMs: Math.min(number(vars.DISCONNECT_GRACE_SECONDS, 25), 28) * 1000,
    authMode: authMode(vars.AUTH_MODE),
    adminToken: typeof vars.ADMIN_TOKEN === "string" && vars.ADMIN_TOKEN !== "" ? vars.ADMIN_TOKEN : null,
    retentionDays: number(vars.RETENTION_DAYS, 30),
    rateLimitPeriodSeconds: vars.RATE_LIMIT_PERIOD_SECONDS === "10" ? 10 : 60,
    // 30 s: an orphaned run is ended well within a minute, at one cheap alarm per half minute.
    watchdogMs: Math.max(1, number(vars.RUN_WATCHDOG_SECONDS, 30)) * 1000,
    webhooks: {
      defaultUrl: text(vars.WEBHOOK_URL),
      defaultSecret: text(vars.WEBHOOK_SECRET),
      allowLoopback: vars.WEBHOOK_ALLOW_LOOPBACK === "true",
      retryBaseMs: number(vars.WEBHOOK_RETRY_BASE_SECONDS, 5) * 1000,
    },
    compactionSecret: text(vars.COMPACTION_SECRET),
  };
}
