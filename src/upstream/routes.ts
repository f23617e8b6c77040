// The routing table: further upstreams chosen by model name (`UPSTREAM_ROUTES`), parsed and checked
// once per raw value, with each route's key resolved from its named secret. Used by the registry;
// config keeps the raw value (src/config.ts must not depend on the upstream layer).

import type { RoutesSetting } from "../config";
import { endpointSuffix } from "../endpoint-suffix";
import { logConfigProblem } from "../observe/problems";
import { REASONING_SENT_AS, type ReasoningSentAs } from "./chat-completions/reasoning-sent-as";
import type { ProtocolName } from "./protocol";
import { REASONING_INPUT, type ReasoningInput } from "./reasoning-input";

/** One route as written by the operator: a glob on the model name and where such models go. */
export interface UpstreamRoute {
  /** The pattern as written (`*` matches any run of characters, everything else is literal). */
  pattern: string;
  matcher: RegExp;
  baseUrl: string;
  protocol: ProtocolName;
  /** Name of the Worker secret holding the key for this upstream; null = the caller's key. */
  apiKeySecret: string | null;
  /** Removed from the front of the model name before it is sent upstream (`groq/llama-3` -> `llama-3`). */
  stripPrefix: string | null;
  /** Top-level request fields this server refuses: left out (null) or sent under another name. */
  requestFields: RequestFields | null;
  /** The chat template writes the opening `<think>` into the prompt: the answer starts as reasoning. */
  templateOpensThink: boolean;
  /** How earlier turns' reasoning goes back to a chat server (src/upstream/chat-completions/reasoning-sent-as.ts). */
  reasoningSentAs: ReasoningSentAs;
  /** The chat template requires user and assistant turns to alternate: consecutive ones are merged. */
  alternateRoles: boolean;
  /** Sent as `reasoning_content` where a tool-calling turn has none (src/upstream/chat-completions/reasoning-placeholder.ts); null sends nothing. */
  reasoningPlaceholder: string | null;
  /** `responses` only: the server has no `/responses/compact`, so the gateway compacts (src/upstream/compact-support.ts). */
  gatewayCompaction: boolean;
  /** `responses` only: which earlier reasoning items go to the server, and how (src/upstream/reasoning-input.ts). */
  reasoningInput: ReasoningInput;
}

/** `request_fields` of a route: each field the gateway would send, left out (null) or renamed. */
export type RequestFields = Record<string, string | null>;

/** A route with its key looked up for this request (never stored, logged or returned). */
export interface ResolvedRoute extends UpstreamRoute {
  /** The named secret's value; undefined when the route names a secret that is not set. */
  apiKey: string | null | undefined;
}

/** What the gateway knows about its routes: the table, or why it could not be read. */
export type RoutingTable = { ok: true; routes: ResolvedRoute[] } | { ok: false; problem: string };

/** Matching is a linear scan per request; a table longer than this is a mistake, not a deployment. */
const MAX_ROUTES = 256;

const KNOWN_FIELDS: ReadonlySet<string> = new Set([
  "model",
  "base_url",
  "protocol",
  "api_key_secret",
  "strip_prefix",
  "request_fields",
  "template_opens_think",
  "reasoning_sent_as",
  "alternate_roles",
  "reasoning_placeholder",
  "compaction",
  "reasoning_input",
]);
/** Fields no route may leave out or rename: without them no request means anything. */
const ESSENTIAL_FIELDS: ReadonlySet<string> = new Set(["model", "messages", "input", "stream"]);
const MAX_REQUEST_FIELDS = 32;
/** A stand-in, not reasoning: it is sent on every tool-calling turn that lacks reasoning, so it stays short. */
const MAX_PLACEHOLDER_LENGTH = 256;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const PROTOCOLS: ReadonlySet<string> = new Set<ProtocolName>(["responses", "chat_completions"]);
/** What a Worker binding name may look like. */
const BINDING_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

class RouteProblem extends Error {}

/** A glob where only `*` is special, anchored at both ends. */
export function globMatcher(pattern: string): RegExp {
  const source = pattern
    .split("*")
    .map((literal) => literal.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${source}$`, "s");
}

function baseUrl(value: unknown, at: string): string {
  let url: URL;
  try {
    if (typeof value !== "string") throw new TypeError();
    url = new URL(value);
  } catch {
    throw new RouteProblem(`${at}.base_url must be an absolute http(s) URL.`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new RouteProblem(`${at}.base_url must be an absolute http(s) URL.`);
  // Keys belong in a secret: a URL is logged, shown in dashboards and committed to wrangler.toml.
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "")
    throw new RouteProblem(`${at}.base_url must not carry credentials, a query or a fragment.`);
  const endpoint = endpointSuffix(url);
  if (endpoint !== null)
    throw new RouteProblem(
      `${at}.base_url must not end with ${endpoint}: the gateway appends the protocol's path (give the URL up to /v1).`,
    );
  return url.href.replace(/\/+$/, "");
}

function optionalString(entry: Record<string, unknown>, field: string, at: string): string | null {
  const value = entry[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== "string" || value === "") throw new RouteProblem(`${at}.${field} must be a non-empty string.`);
  return value;
}

function parseRoute(entry: unknown, index: number): UpstreamRoute {
  const at = `UPSTREAM_ROUTES[${index}]`;
  if (typeof entry !== "object" || entry === null || Array.isArray(entry))
    throw new RouteProblem(`${at} must be an object.`);
  const fields = entry as Record<string, unknown>;
  for (const field of Object.keys(fields))
    if (!KNOWN_FIELDS.has(field))
      throw new RouteProblem(
        `${at} has an unknown field '${field.slice(0, 64)}' (the fields are ${[...KNOWN_FIELDS].join(", ")}).`,
      );
  const pattern = optionalString(fields, "model", at);
  if (pattern === null) throw new RouteProblem(`${at}.model must be a non-empty string (a glob such as 'llama-*').`);
  if (typeof fields.protocol !== "string" || !PROTOCOLS.has(fields.protocol))
    throw new RouteProblem(`${at}.protocol must be 'responses' or 'chat_completions'.`);
  const opensThink = fields.template_opens_think;
  if (opensThink !== undefined && opensThink !== null && typeof opensThink !== "boolean")
    throw new RouteProblem(`${at}.template_opens_think must be true or false.`);
  if (opensThink === true && fields.protocol !== "chat_completions")
    throw new RouteProblem(`${at}.template_opens_think applies to chat_completions routes only.`);
  const sentAs = fields.reasoning_sent_as === undefined ? "reasoning_content" : fields.reasoning_sent_as;
  if (!REASONING_SENT_AS.includes(sentAs as ReasoningSentAs))
    throw new RouteProblem(`${at}.reasoning_sent_as must be 'reasoning_content', 'thinking' or null (left out).`);
  if (sentAs !== "reasoning_content" && fields.protocol !== "chat_completions")
    throw new RouteProblem(`${at}.reasoning_sent_as applies to chat_completions routes only.`);
  const alternate = fields.alternate_roles;
  if (alternate !== undefined && alternate !== null && typeof alternate !== "boolean")
    throw new RouteProblem(`${at}.alternate_roles must be true or false.`);
  if (alternate === true && fields.protocol !== "chat_completions")
    throw new RouteProblem(`${at}.alternate_roles applies to chat_completions routes only.`);
  const placeholder = reasoningPlaceholder(fields, at);
  if (placeholder !== null && sentAs !== "reasoning_content")
    throw new RouteProblem(
      `${at}.reasoning_placeholder goes as reasoning_content: it needs reasoning_sent_as 'reasoning_content' (the default).`,
    );
  const compaction = fields.compaction ?? "upstream";
  if (compaction !== "upstream" && compaction !== "gateway")
    throw new RouteProblem(`${at}.compaction must be 'upstream' or 'gateway'.`);
  // A chat server has no compaction of its own: the gateway always compacts for it.
  if (fields.compaction !== undefined && fields.protocol !== "responses")
    throw new RouteProblem(`${at}.compaction applies to responses routes only.`);
  const reasoningInput = fields.reasoning_input ?? "keep";
  if (!REASONING_INPUT.includes(reasoningInput as ReasoningInput))
    throw new RouteProblem(
      `${at}.reasoning_input must be one of ${REASONING_INPUT.map((mode) => `'${mode}'`).join(", ")}.`,
    );
  // A chat server gets reasoning as text only already (src/upstream/chat-completions/messages.ts).
  if (fields.reasoning_input !== undefined && fields.protocol !== "responses")
    throw new RouteProblem(`${at}.reasoning_input applies to responses routes only.`);
  const apiKeySecret = optionalString(fields, "api_key_secret", at);
  if (apiKeySecret !== null && !BINDING_NAME.test(apiKeySecret))
    throw new RouteProblem(`${at}.api_key_secret must be the name of a Worker secret.`);
  return {
    pattern,
    matcher: globMatcher(pattern),
    baseUrl: baseUrl(fields.base_url, at),
    protocol: fields.protocol as ProtocolName,
    apiKeySecret,
    stripPrefix: optionalString(fields, "strip_prefix", at),
    requestFields: requestFields(fields.request_fields, `${at}.request_fields`),
    templateOpensThink: opensThink === true,
    reasoningSentAs: sentAs as ReasoningSentAs,
    alternateRoles: alternate === true,
    reasoningPlaceholder: placeholder,
    gatewayCompaction: compaction === "gateway",
    reasoningInput: reasoningInput as ReasoningInput,
  };
}

/** `reasoning_placeholder`: a string, empty allowed (DeepSeek's own API and Kimi accept `""`), or null. */
function reasoningPlaceholder(fields: Record<string, unknown>, at: string): string | null {
  const value = fields.reasoning_placeholder;
  if (value === undefined || value === null) return null;
  if (typeof value !== "string" || value.length > MAX_PLACEHOLDER_LENGTH)
    throw new RouteProblem(
      `${at}.reasoning_placeholder must be a string of at most ${MAX_PLACEHOLDER_LENGTH} characters, or null.`,
    );
  if (fields.protocol !== "chat_completions")
    throw new RouteProblem(`${at}.reasoning_placeholder applies to chat_completions routes only.`);
  return value;
}

/** `{"stream_options": null, "max_completion_tokens": "max_tokens"}`: fields to leave out or rename. */
function requestFields(value: unknown, at: string): RequestFields | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "object" || Array.isArray(value))
    throw new RouteProblem(`${at} must be an object of field names, each null (left out) or a new name.`);
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_REQUEST_FIELDS)
    throw new RouteProblem(`${at} names more than ${MAX_REQUEST_FIELDS} fields.`);
  for (const [field, to] of entries) {
    if (!FIELD_NAME.test(field) || ESSENTIAL_FIELDS.has(field))
      throw new RouteProblem(
        `${at} names a field that cannot be left out or renamed (model, messages, input and stream cannot).`,
      );
    if (to !== null && (typeof to !== "string" || !FIELD_NAME.test(to) || ESSENTIAL_FIELDS.has(to)))
      throw new RouteProblem(
        `${at}.${field} must be null (left out) or a field name that is not model, messages, input or stream.`,
      );
  }
  return Object.fromEntries(entries) as RequestFields;
}

/**
 * Parses the table: a JSON array as a string, or the array itself (a JSON value in `[vars]`
 * arrives parsed). Unset or blank means no routes. Throws a `RouteProblem` whose message
 * names the entry and field at fault but quotes no value (a misplaced key must not reach a log).
 */
function parseRoutes(value: unknown): UpstreamRoute[] {
  if (value === undefined || value === null || (typeof value === "string" && value.trim() === "")) return [];
  let table: unknown = value;
  if (typeof value === "string") {
    try {
      table = JSON.parse(value);
    } catch {
      throw new RouteProblem("UPSTREAM_ROUTES is not valid JSON.");
    }
  }
  if (!Array.isArray(table)) throw new RouteProblem("UPSTREAM_ROUTES must be a JSON array of routes.");
  if (table.length > MAX_ROUTES) throw new RouteProblem(`UPSTREAM_ROUTES has more than ${MAX_ROUTES} routes.`);
  const routes = table.map(parseRoute);
  routes.forEach((route, index) => {
    const first = routes.findIndex((earlier) => earlier.pattern === route.pattern);
    // The first match wins, so a repeated pattern's route would never be used: a mistake, not a choice.
    if (first !== index)
      throw new RouteProblem(
        `UPSTREAM_ROUTES[${index}].model is the same as UPSTREAM_ROUTES[${first}].model: the first match wins, so UPSTREAM_ROUTES[${index}] would never be used.`,
      );
  });
  return routes;
}

type Parsed = { ok: true; routes: UpstreamRoute[] } | { ok: false; problem: string };

/** The last string parsed and its result: configuration, not request state (same input, same output). */
let cached: { raw: string; parsed: Parsed } | undefined;

function parsedTable(value: unknown): Parsed {
  if (typeof value === "string" && cached?.raw === value) return cached.parsed;
  let parsed: Parsed;
  try {
    parsed = { ok: true, routes: parseRoutes(value) };
  } catch (error) {
    if (!(error instanceof RouteProblem)) throw error;
    parsed = { ok: false, problem: error.message };
    logConfigProblem("UPSTREAM_ROUTES", `upstream routing disabled: ${error.message}`);
  }
  if (typeof value === "string") cached = { raw: value, parsed };
  return parsed;
}

/** The routing table of `UPSTREAM_ROUTES`, each route's key read from the secret it names. */
export function readRoutes(setting: RoutesSetting): RoutingTable {
  const parsed = parsedTable(setting.raw);
  if (!parsed.ok) return parsed;
  return {
    ok: true,
    routes: parsed.routes.map((route) => ({
      ...route,
      apiKey: route.apiKeySecret === null ? null : (setting.secret(route.apiKeySecret) ?? undefined),
    })),
  };
}

/** The first route whose pattern matches the whole model name. */
export const matchRoute = (routes: readonly ResolvedRoute[], model: string): ResolvedRoute | undefined =>
  routes.find((route) => route.matcher.test(model));
