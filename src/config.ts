// Every setting of the gateway (Worker vars and secrets): its default, what is allowed and what a
// wrong value stops, checked in one place. Read per request by the router, auth, the DO and the cron.

import { MIN_SECRET_LENGTH } from "./sealing";
import { parseShardPlan } from "./db/shard-plan";
import { gatewayMisconfigured } from "./errors";
import { endpointSuffix } from "./endpoint-suffix";
import { emit, type LogFields } from "./observe/log";
import { logConfigProblem } from "./observe/problems";
import { urlHost } from "./url-host";
import { refusalOf } from "./webhooks/target";
import { secretKey } from "./webhooks/sign";

/** The upstream protocols (as `ProtocolName` in src/upstream/protocol.ts, which config may not import). */
const PROTOCOLS = ["responses", "chat_completions"] as const;
/** A Responses upstream's compaction, as a route's `compaction` (src/upstream/routes.ts). */
const COMPACTIONS = ["upstream", "gateway"] as const;
/** A Responses upstream's `reasoning_input` values (src/upstream/reasoning-input.ts, which takes them from here). */
export const REASONING_INPUTS = ["keep", "drop_encrypted", "raw_text_only", "drop"] as const;
export type AuthMode = "passthrough" | "keys";

export interface UpstreamConfig {
  baseUrl: string;
  protocol: (typeof PROTOCOLS)[number];
  /** Key sent upstream instead of the client's (secret `UPSTREAM_API_KEY`); null = pass-through. */
  apiKey: string | null;
  /** `UPSTREAM_COMPACTION`, as a route's `compaction` (responses only). */
  compaction: (typeof COMPACTIONS)[number];
  /** `UPSTREAM_REASONING_INPUT`, as a route's `reasoning_input` (responses only). */
  reasoningInput: (typeof REASONING_INPUTS)[number];
}

/** `UPSTREAM_ROUTES` as given; src/upstream/routes.ts parses and checks it (see the registry). */
export interface RoutesSetting {
  /** A JSON array as a string, the array itself (a JSON var), or undefined. */
  raw: unknown;
  /** The value of the Worker secret a route names for its key, trimmed; null when it is not set or blank. */
  secret(name: string): string | null;
}

export interface GatewayConfig {
  upstream: UpstreamConfig;
  /** Further upstreams by model name; the default upstream serves the rest. */
  routes: RoutesSetting;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** Time allowed for the upstream to answer with headers. */
  firstByteTimeoutMs: number;
  /** Longest silence allowed inside an upstream stream. */
  idleTimeoutMs: number;
  /** Longest a response may run before it is stopped and marked failed. */
  maxRunMs: number;
  /** Background responses a tenant may have running at once; a create past it is a 429. 0: no cap. */
  maxBackgroundRuns: number;
  /** Retries of an upstream call that failed before its first byte (connection errors, 429, 5xx). */
  upstreamRetries: number;
  /** Bytes accepted from one upstream response before the run is stopped and marked failed. */
  maxUpstreamBodyBytes: number;
  /** Largest single upstream event (or non-streamed JSON body), in bytes. */
  maxUpstreamEventBytes: number;
  /** A running response's events reach D1 at least this often (and its heartbeat as often). */
  recordFlushMs: number;
  /** A client stream that sent nothing this long gets an SSE comment (src/stream/keepalive.ts); 0: none. */
  streamKeepaliveMs: number;
  /** Pending event characters that send a batch to D1 before the interval is up (and a waiting row at once). */
  recordFlushChars: number;
  /**
   * A stored foreground response's row is written with its end when it ends this soon after its
   * upstream call began (one D1 call for the whole response), else at this point, or once
   * `recordFlushChars` of events wait for it.
   */
  recordStartMs: number;
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
  /** `RATE_LIMITER`'s `simple.limit` in wrangler.toml (a binding cannot be asked), for the `x-ratelimit-*` headers. */
  rateLimitRequests: number;
  /** `ADDRESS_RATE_LIMITER`'s `simple.limit`, for the headers of a 429 it gives. */
  addressRateLimitRequests: number;
  /** `D1_SHARDS` as given (checked here); src/db/shards.ts routes by it. */
  d1Shards: string;
  webhooks: WebhookConfig;
  /** Secret `COMPACTION_SECRET`: the key of the compaction items the gateway makes for chat upstreams; null: none. */
  compactionSecret: string | null;
  /**
   * WebSocket mode on `/v1/responses` (var `WEBSOCKETS`): `on` (default) or `off` (upgrades get a
   * 426, so Codex falls back to HTTP at once). Any other value refuses upgrades with a 500 naming it.
   */
  websockets: "on" | "off";
  /** Longest a WebSocket connection may stay open (OpenAI: 60 minutes); then `websocket_connection_limit_reached`. */
  websocketMaxConnectionMs: number;
  /**
   * `RECORD_STORE_FALSE=on`: a `store: false` create (not a warm-up) is recorded as a stored one is,
   * its client's view unchanged (docs/configuration.md#recording-store-false). Off by default.
   */
  recordStoreFalse: boolean;
  /** Settings whose values are wrong; the requests each one affects are refused (see `refuseIfMisconfigured`). */
  problems: readonly ConfigProblem[];
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

/**
 * Which requests a wrong setting stops: `every request` (settings every request depends on, and the
 * cron's, which could tell nobody otherwise), `upstream calls` (creates, input_tokens, compact:
 * stored history stays readable), `the admin API`, or `compactions` (those a chat upstream needs the
 * gateway's secret for, refused by src/compaction/seal.ts with a 503 that names it).
 */
export type ConfigScope = "every request" | "upstream calls" | "the admin API" | "WebSocket upgrades" | "compactions";

export interface ConfigProblem {
  setting: string;
  scope: ConfigScope;
  /** Names the setting, its value (a secret's only by length) and what is allowed. */
  message: string;
}

// ---- one kind per shape of value; each says what it allows ----

type Parsed<T> = { ok: true; value: T } | { ok: false; why?: string };

interface Setting<T> {
  scope: ConfigScope;
  /** The value when unset (or blank). */
  default: T;
  /** What code that cannot refuse (alarms, the cron) runs with while the value is wrong. */
  fallback?: T;
  secret?: boolean;
  /** A URL: shown by its host only (a webhook URL's path often carries a token). */
  url?: boolean;
  /** What is allowed, for the message. */
  allowed: string;
  parse(raw: string | number | boolean): Parsed<T>;
}

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });

function integer(scope: ConfigScope, fallback: number, min: number, max: number, unit: string): Setting<number> {
  return {
    scope,
    default: fallback,
    allowed: `an integer from ${min} to ${max} (${unit})`,
    parse(raw) {
      const value =
        typeof raw === "number" ? raw : typeof raw === "string" && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
      return Number.isSafeInteger(value) && value >= min && value <= max ? ok(value) : { ok: false };
    },
  };
}

function oneOf<const T extends string>(scope: ConfigScope, values: readonly T[], fallback: T): Setting<T> {
  return {
    scope,
    default: fallback,
    allowed: values.map((value) => `'${value}'`).join(" or "),
    parse: (raw) => (values.includes(String(raw) as T) ? ok(String(raw) as T) : { ok: false }),
  };
}

const flag = (scope: ConfigScope): Setting<boolean> => ({
  scope,
  default: false,
  allowed: "'true' or 'false'",
  parse: (raw) =>
    raw === true || raw === "true" ? ok(true) : raw === false || raw === "false" ? ok(false) : { ok: false },
});

/** An upstream's base URL: the protocol's path is appended to it, so nothing may follow the path. */
const baseUrl = (fallback: string): Setting<string> => ({
  scope: "upstream calls",
  default: fallback,
  url: true,
  allowed:
    "an absolute http:// or https:// URL without credentials, query or fragment, such as https://api.openai.com/v1",
  parse(raw) {
    const text = String(raw).trim();
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return { ok: false, why: text.includes("://") ? undefined : "it has no scheme" };
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      return { ok: false, why: text.includes("://") ? `'${url.protocol}' is not http or https` : "it has no scheme" };
    if (url.username !== "" || url.password !== "") return { ok: false, why: "a key belongs in UPSTREAM_API_KEY" };
    if (url.search !== "" || url.hash !== "") return { ok: false, why: "it has a query or fragment" };
    const endpoint = endpointSuffix(url);
    if (endpoint !== null)
      return { ok: false, why: `its path ends with ${endpoint}, which the gateway appends itself` };
    return ok(url.href.replace(/\/+$/, ""));
  },
});

/** Whether a secret (surrounding whitespace dropped) can go in a header as one token: no spaces or control characters. */
export const isHeaderToken = (text: string): boolean => !/[\s\p{Cc}]/u.test(text);

/** A secret used as given, but for surrounding whitespace (a pasted newline), which headers drop anyway. */
const secretText = (scope: ConfigScope, minLength: number): Setting<string | null> => ({
  scope,
  default: null,
  secret: true,
  allowed: `${minLength > 1 ? `at least ${minLength} characters, ` : ""}without spaces or control characters`,
  parse(raw) {
    const text = String(raw).trim();
    return text.length >= minLength && isHeaderToken(text) ? ok(text) : { ok: false };
  },
});

/** The same setting with another value for code that cannot refuse while it is wrong. */
const withFallback = <T, F>(setting: Setting<T>, fallback: F): Setting<T | F> => ({ ...setting, fallback });

const optionalUrl = (scope: ConfigScope): Setting<string | null> => ({
  scope,
  default: null,
  url: true,
  allowed: "a URL",
  parse: (raw) => ok(String(raw).trim()),
});

/** The D1 bindings that hold history (src/db/shard-plan.ts); that each is bound is checked where it is used. */
const shardList: Setting<string> = {
  scope: "every request",
  default: "DB",
  allowed: "D1 binding names separated by commas, DB first, each with an optional ':weight' from 0 to 1000",
  parse(raw) {
    const plan = parseShardPlan(String(raw));
    return typeof plan === "string" ? { ok: false, why: plan } : ok(String(raw).trim());
  },
};

const webhookSecret: Setting<string | null> = {
  scope: "upstream calls",
  default: null,
  secret: true,
  allowed: "a Standard Webhooks secret: 'whsec_' followed by base64 of 24 to 64 bytes",
  parse: (raw) => (secretKey(String(raw).trim()) !== null ? ok(String(raw).trim()) : { ok: false }),
};

// ---- the settings ----

/** 16 MiB: room for image data URLs, well under the 32 MiB a Durable Object call may carry. */
const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
const MAX_BODY_BYTES_LIMIT = 32 * 1024 * 1024;

/** 1 MiB of frames: a batch compresses to well under a D1 row's 2 MB, and is little memory to hold. */
const DEFAULT_RECORD_FLUSH_CHARS = 1024 * 1024;
/** A second: most answers without tools end sooner, and a run that dies in it has shown little. */
const DEFAULT_RECORD_START_MS = 1_000;

/** 256 MiB: a runaway stream is stopped; far above any real answer (it streams, nothing is held). */
const DEFAULT_MAX_UPSTREAM_BODY_BYTES = 256 * 1024 * 1024;
/** 32 MiB: one `response.completed` carries the whole Response; an event is held in memory whole. */
const DEFAULT_MAX_UPSTREAM_EVENT_BYTES = 32 * 1024 * 1024;
/** An event is held whole in an isolate of 128 MB: twice the default is the most that is safe. */
const MAX_UPSTREAM_EVENT_BYTES_LIMIT = 64 * 1024 * 1024;
/** Above any limit a rate-limiting binding is given; past it a value is a typo. */
const MAX_RATE_LIMIT = 1_000_000_000;
const HOUR_MS = 3_600_000;
const WEEK_SECONDS = 7 * 86_400;

/** Every setting the gateway reads. Adding one: a row here, a field in `GatewayConfig`, a line in docs/configuration.md. */
const SETTINGS = {
  UPSTREAM_BASE_URL: baseUrl("https://api.openai.com/v1"),
  UPSTREAM_PROTOCOL: oneOf("upstream calls", PROTOCOLS, "responses"),
  UPSTREAM_API_KEY: secretText("upstream calls", 1),
  UPSTREAM_COMPACTION: oneOf("upstream calls", COMPACTIONS, "upstream"),
  UPSTREAM_REASONING_INPUT: oneOf("upstream calls", REASONING_INPUTS, "keep"),
  // A wrong value lets nobody in (null), rather than guess which mode was meant.
  AUTH_MODE: withFallback(oneOf<AuthMode>("every request", ["passthrough", "keys"], "passthrough"), null),
  ADMIN_TOKEN: secretText("the admin API", 16),
  MAX_REQUEST_BYTES: integer("every request", DEFAULT_MAX_BODY_BYTES, 1, MAX_BODY_BYTES_LIMIT, "bytes"),
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS: integer("upstream calls", 120_000, 1, HOUR_MS, "milliseconds"),
  UPSTREAM_IDLE_TIMEOUT_MS: integer("upstream calls", 300_000, 1, HOUR_MS, "milliseconds"),
  UPSTREAM_RETRIES: integer("upstream calls", 2, 0, 10, "retries"),
  UPSTREAM_MAX_BODY_BYTES: integer(
    "upstream calls",
    DEFAULT_MAX_UPSTREAM_BODY_BYTES,
    1,
    Number.MAX_SAFE_INTEGER,
    "bytes",
  ),
  UPSTREAM_MAX_EVENT_BYTES: integer(
    "upstream calls",
    DEFAULT_MAX_UPSTREAM_EVENT_BYTES,
    1,
    MAX_UPSTREAM_EVENT_BYTES_LIMIT,
    "bytes",
  ),
  MAX_RUN_SECONDS: integer("upstream calls", 3600, 1, WEEK_SECONDS, "seconds"),
  // Each running one is an object billed for its wall time and an upstream call on the operator's key.
  MAX_BACKGROUND_RUNS_PER_TENANT: integer("upstream calls", 100, 0, 1_000_000, "runs at once; 0 sets no cap"),
  RECORD_FLUSH_SECONDS: integer("upstream calls", 10, 1, 300, "seconds"),
  STREAM_KEEPALIVE_SECONDS: integer("upstream calls", 10, 0, 300, "seconds; 0 sends none"),
  // A Worker may finish its work for about 30 s after its client left (`ctx.waitUntil`).
  DISCONNECT_GRACE_SECONDS: integer("upstream calls", 25, 0, 28, "seconds"),
  // A wrong value keeps everything: the cron must never delete history on a guess.
  RETENTION_DAYS: withFallback(integer("every request", 30, 0, 36_500, "days; 0 keeps responses forever"), 0),
  RATE_LIMIT_PERIOD_SECONDS: oneOf("every request", ["10", "60"], "60"),
  // Repeat the [[ratelimits]] limits of wrangler.toml: headers must not advertise a limit that is not enforced.
  RATE_LIMIT_REQUESTS: integer("every request", 600, 1, MAX_RATE_LIMIT, "requests a period"),
  ADDRESS_RATE_LIMIT_REQUESTS: integer("every request", 1200, 1, MAX_RATE_LIMIT, "requests a period"),
  D1_SHARDS: shardList,
  WEBHOOK_URL: optionalUrl("upstream calls"),
  WEBHOOK_SECRET: webhookSecret,
  WEBHOOK_ALLOW_LOOPBACK: flag("upstream calls"),
  WEBHOOK_RETRY_BASE_SECONDS: integer("upstream calls", 5, 1, 3600, "seconds"),
  // Unset is fine until a compaction needs it; a short one is a problem of compactions alone (`crossCheck`).
  COMPACTION_SECRET: secretText("upstream calls", 1),
  RECORD_STORE_FALSE: oneOf("upstream calls", ["on", "off"], "off"),
  WEBSOCKETS: oneOf("WebSocket upgrades", ["on", "off"], "on"),
  WEBSOCKET_MAX_SECONDS: integer("WebSocket upgrades", 3600, 1, 86_400, "seconds"),
} satisfies Record<string, Setting<unknown>>;

type SettingName = keyof typeof SETTINGS;
type Values = { [Name in SettingName]: (typeof SETTINGS)[Name] extends Setting<infer T> ? T : never };

/** Longest value quoted in a message: enough to recognise it, not a whole pasted document. */
const MAX_QUOTED_CHARS = 200;

/** A URL's host, also from a value that is not quite a URL (no scheme): never its path or credentials. */
function hostPart(text: string): string {
  const host = text.includes("://") ? urlHost(text.trim()) : null;
  if (host !== null && host !== "") return host;
  return /^\s*(?:[a-z][a-z0-9+.-]*:\/\/)?(?:[^/@\s]*@)?([^/?#\s]*)/i.exec(text)?.[1] ?? "";
}

/** How a value appears in messages and logs: a secret only by its length, a URL by its host. */
function display(name: SettingName, raw: unknown): string {
  const setting: Setting<unknown> = SETTINGS[name];
  if (setting.secret === true) return `(secret, ${String(raw).length} characters)`;
  let text = typeof raw === "string" ? raw : JSON.stringify(raw);
  if (setting.url === true) text = hostPart(text);
  return text.length > MAX_QUOTED_CHARS ? `${text.slice(0, MAX_QUOTED_CHARS)}…` : text;
}

/** `display`, quoted in a message unless it is a secret's length. */
const shown = (name: SettingName, raw: unknown): string =>
  SETTINGS[name].secret === true ? display(name, raw) : `'${display(name, raw)}'`;

/** Unset: absent, or a blank string (a `--var NAME:` or a secret of only a newline). */
const isBlank = (raw: unknown): boolean =>
  raw === undefined || raw === null || (typeof raw === "string" && raw.trim() === "");

function readSettings(vars: Record<string, unknown>): { values: Values; problems: ConfigProblem[] } {
  const values: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, Setting<unknown>][]) {
    const raw = vars[name];
    if (isBlank(raw)) {
      values[name] = setting.default;
      continue;
    }
    const parsed: Parsed<unknown> =
      typeof raw === "string" || typeof raw === "number" || typeof raw === "boolean"
        ? setting.parse(raw)
        : { ok: false };
    if (parsed.ok) {
      values[name] = parsed.value;
      continue;
    }
    values[name] = "fallback" in setting ? setting.fallback : setting.default;
    const why = parsed.why === undefined ? "" : ` (${parsed.why})`;
    problems.push({
      setting: name,
      scope: setting.scope,
      message: `${name} is ${shown(name, raw)}${why}; allowed: ${setting.allowed}.`,
    });
  }
  return { values: values as Values, problems };
}

/** Rules between settings, once each is valid on its own. */
function crossCheck(values: Values, problems: ConfigProblem[]): void {
  // As on a route: a chat server has no compaction of its own, and gets reasoning as text only.
  const responsesOnly = [
    ["UPSTREAM_COMPACTION", values.UPSTREAM_COMPACTION !== "upstream"],
    ["UPSTREAM_REASONING_INPUT", values.UPSTREAM_REASONING_INPUT !== "keep"],
  ] as const;
  for (const [setting, set] of responsesOnly)
    if (set && values.UPSTREAM_PROTOCOL !== "responses")
      problems.push({
        setting,
        scope: "upstream calls",
        message: `${setting} is '${values[setting]}', but UPSTREAM_PROTOCOL is '${values.UPSTREAM_PROTOCOL}'; allowed: only with UPSTREAM_PROTOCOL=responses.`,
      });
  const compaction = values.COMPACTION_SECRET;
  // Kept as set, so the compaction's own 503 says it is short rather than unset.
  if (compaction !== null && compaction.length < MIN_SECRET_LENGTH)
    problems.push({
      setting: "COMPACTION_SECRET",
      scope: "compactions",
      message: `COMPACTION_SECRET is ${shown("COMPACTION_SECRET", compaction)}; allowed: at least ${MIN_SECRET_LENGTH} characters, without spaces or control characters.`,
    });
  if (values.WEBHOOK_URL === null) return;
  const refusal = refusalOf(values.WEBHOOK_URL, values.WEBHOOK_ALLOW_LOOPBACK);
  if (refusal !== null) {
    problems.push({
      setting: "WEBHOOK_URL",
      scope: "upstream calls",
      message: `WEBHOOK_URL is ${shown("WEBHOOK_URL", values.WEBHOOK_URL)} (${refusal}); allowed: an https:// URL of a public host.`,
    });
    values.WEBHOOK_URL = null;
  } else if (values.WEBHOOK_SECRET === null && !problems.some((problem) => problem.setting === "WEBHOOK_SECRET")) {
    problems.push({
      setting: "WEBHOOK_SECRET",
      scope: "upstream calls",
      message: `WEBHOOK_SECRET is not set, but WEBHOOK_URL is; allowed: ${webhookSecret.allowed}.`,
    });
  }
}

// ---- logging, once per isolate ----

/** Problems already logged by this isolate: each is logged once, at the first request that reads it. */
const reported = new Set<string>();
let configurationLogged = false;

/** Settings with a parser of their own, next to what uses them. */
const CHECKED_ELSEWHERE = ["UPSTREAM_ROUTES", "CORS_ORIGINS", "MODEL_PRICES"];

/** The effective value of every setting, a field each: secrets only as set or unset, URLs by host. */
export function configurationFields(vars: Record<string, unknown>): LogFields {
  const fields: LogFields = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const raw = vars[name];
    // Blank counts as unset, as `readSettings` reads it: the line shows what the gateway uses.
    const set = !isBlank(raw);
    const fallback: unknown = SETTINGS[name].default;
    if (SETTINGS[name].secret === true) fields[name] = set ? "(set)" : "(unset)";
    else if (set) fields[name] = display(name, raw);
    else fields[name] = fallback === null ? "(unset)" : `(default ${display(name, fallback)})`;
  }
  // Read and checked where they are used (the upstream registry, CORS, prices);
  // a routing table may hold hosts an operator would rather not log.
  for (const name of CHECKED_ELSEWHERE) {
    const raw = vars[name];
    fields[name] = raw === undefined || raw === null || raw === "" ? "(unset)" : "(set)";
  }
  return fields;
}

function logOnce(config: GatewayConfig, vars: Record<string, unknown>): void {
  for (const problem of config.problems) {
    if (reported.has(problem.message)) continue;
    reported.add(problem.message);
    logConfigProblem(problem.setting, `gateway misconfigured (${problem.scope} refused): ${problem.message}`, {
      scope: problem.scope,
    });
  }
  if (configurationLogged) return;
  configurationLogged = true;
  emit("log", "config", "gateway configuration", configurationFields(vars));
  for (const [name, meant] of misspeltSettings(vars))
    logConfigProblem(name, `${name} is not a setting of this gateway and is ignored; did you mean ${meant}?`);
}

/** Every setting name the gateway reads. */
const KNOWN_NAMES: readonly string[] = [...Object.keys(SETTINGS), ...CHECKED_ELSEWHERE];

/**
 * Vars that look like a setting's name mistyped (`AUTH_MODES`, `upstream_base_url`), each with the
 * setting meant: such a var is ignored, and the gateway runs on the default without saying so.
 * Other vars (a route's key secret, the bindings) are the operator's own and are left alone.
 */
export function misspeltSettings(vars: Record<string, unknown>): [string, string][] {
  const found: [string, string][] = [];
  // A route's key secret may be named anything, `UPSTREAM_API_KEY_2` too: a name the table quotes is meant.
  const routes =
    typeof vars.UPSTREAM_ROUTES === "string" ? vars.UPSTREAM_ROUTES : JSON.stringify(vars.UPSTREAM_ROUTES ?? null);
  for (const [name, value] of Object.entries(vars)) {
    if (typeof value !== "string" || KNOWN_NAMES.includes(name) || routes.includes(`"${name}"`)) continue;
    const meant = KNOWN_NAMES.find((known) => nearName(name, known));
    if (meant !== undefined) found.push([name, meant]);
  }
  return found;
}

/** Same name but for case and `-`/`_`, or (names of 6+ characters) one or two letters off. */
function nearName(name: string, known: string): boolean {
  const plain = (text: string) => text.toUpperCase().replaceAll("-", "_");
  if (plain(name) === known) return true;
  return known.length >= 6 && editDistance(plain(name), known, 2) <= 2;
}

/** Levenshtein distance, stopping early once every path is past `limit` (returns limit + 1 then). */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    if (Math.min(...current) > limit) return limit + 1;
    previous = current;
  }
  return previous[b.length]!;
}

// ---- reading ----

/** Configurations already read, by the env object they came from (the same for every request of an isolate). */
const cache = new WeakMap<object, GatewayConfig>();

export function readConfig(env: Env): GatewayConfig {
  const cached = cache.get(env);
  if (cached !== undefined) return cached;
  const vars = env as unknown as Record<string, unknown>;
  const { values, problems } = readSettings(vars);
  crossCheck(values, problems);
  const config: GatewayConfig = {
    upstream: {
      baseUrl: values.UPSTREAM_BASE_URL,
      protocol: values.UPSTREAM_PROTOCOL,
      apiKey: values.UPSTREAM_API_KEY,
      compaction: values.UPSTREAM_COMPACTION,
      reasoningInput: values.UPSTREAM_REASONING_INPUT,
    },
    routes: {
      raw: vars.UPSTREAM_ROUTES,
      secret(name) {
        // Read as the settings are: surrounding whitespace (a pasted newline) dropped, blank is unset.
        const value = vars[name];
        return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
      },
    },
    maxBodyBytes: values.MAX_REQUEST_BYTES,
    firstByteTimeoutMs: values.UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
    idleTimeoutMs: values.UPSTREAM_IDLE_TIMEOUT_MS,
    maxRunMs: values.MAX_RUN_SECONDS * 1000,
    maxBackgroundRuns: values.MAX_BACKGROUND_RUNS_PER_TENANT,
    upstreamRetries: values.UPSTREAM_RETRIES,
    maxUpstreamBodyBytes: values.UPSTREAM_MAX_BODY_BYTES,
    maxUpstreamEventBytes: values.UPSTREAM_MAX_EVENT_BYTES,
    recordFlushMs: values.RECORD_FLUSH_SECONDS * 1000,
    streamKeepaliveMs: values.STREAM_KEEPALIVE_SECONDS * 1000,
    recordFlushChars: DEFAULT_RECORD_FLUSH_CHARS,
    recordStartMs: DEFAULT_RECORD_START_MS,
    disconnectGraceMs: values.DISCONNECT_GRACE_SECONDS * 1000,
    authMode: values.AUTH_MODE,
    adminToken: values.ADMIN_TOKEN,
    retentionDays: values.RETENTION_DAYS,
    rateLimitPeriodSeconds: Number(values.RATE_LIMIT_PERIOD_SECONDS),
    rateLimitRequests: values.RATE_LIMIT_REQUESTS,
    addressRateLimitRequests: values.ADDRESS_RATE_LIMIT_REQUESTS,
    d1Shards: values.D1_SHARDS,
    websockets: values.WEBSOCKETS,
    websocketMaxConnectionMs: values.WEBSOCKET_MAX_SECONDS * 1000,
    recordStoreFalse: values.RECORD_STORE_FALSE === "on",
    webhooks: {
      defaultUrl: values.WEBHOOK_URL,
      defaultSecret: values.WEBHOOK_SECRET,
      allowLoopback: values.WEBHOOK_ALLOW_LOOPBACK,
      retryBaseMs: values.WEBHOOK_RETRY_BASE_SECONDS * 1000,
    },
    compactionSecret: values.COMPACTION_SECRET,
    problems,
  };
  logOnce(config, vars);
  cache.set(env, config);
  return config;
}

/** Refuses a request of `scope` while a setting it depends on is wrong: a 500 that names the setting. */
export function refuseIfMisconfigured(config: GatewayConfig, scope: ConfigScope): void {
  const relevant = config.problems.filter((problem) => problem.scope === scope || problem.scope === "every request");
  if (relevant.length > 0) throw gatewayMisconfigured(relevant.map((problem) => problem.message));
}
