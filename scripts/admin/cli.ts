// The admin CLI's commands, their arguments and options (`node:util` parseArgs, strict: an unknown
// or misplaced option is an error, never ignored), and running one. Used by scripts/admin.ts.

import { parseArgs } from "node:util";
import { MAX_SECRET_BYTES, MIN_SECRET_BYTES, secretKey } from "../../src/webhooks/sign.ts";
import { d1Admin } from "./d1.ts";
import { httpAdmin } from "./http.ts";
import { wranglerExecute } from "./wrangler.ts";
import { render } from "./print.ts";
import { checkWebhookUrl } from "./webhook-url.ts";
import {
  CliError,
  USAGE_DIMENSIONS,
  type DeliveryFilters,
  type ResponseFilters,
  type Row,
  type UsageDimension,
} from "./queries.ts";
import { status } from "./status.ts";
import type { Admin } from "./targets.ts";

/** As src/webhooks/event.ts (which Node cannot load from here: its imports have no extensions). */
const EVENT_TYPES = ["response.completed", "response.failed", "response.cancelled", "response.incomplete"];
const DELIVERY_STATUSES = ["pending", "delivered", "failed"];
const STATUSES = ["queued", "in_progress", "completed", "failed", "incomplete", "cancelled"];
/** As the API: names (src/routes/admin/body.ts), usage ranges (src/routes/usage.ts), pages, metadata filters. */
const MAX_NAME_CHARS = 256;
const DEFAULT_USAGE_DAYS = 30;
const MAX_USAGE_DAYS = 366;
const MAX_PAGE_LIMIT = 100;
const MAX_METADATA_FILTERS = 16;
/** As POST /admin/tenants/{id}/move (src/routes/admin/tenant-move.ts). */
const MAX_DRAIN_SECONDS = 300;
const DAY_MS = 86_400_000;

const OPTIONS = {
  local: { type: "boolean" },
  remote: { type: "boolean" },
  url: { type: "string" },
  "persist-to": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  name: { type: "string" },
  events: { type: "string" },
  secret: { type: "string" },
  tenant: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  "group-by": { type: "string" },
  model: { type: "string" },
  status: { type: "string" },
  "previous-response-id": { type: "string" },
  conversation: { type: "string" },
  background: { type: "string" },
  "created-after": { type: "string" },
  "created-before": { type: "string" },
  metadata: { type: "string", multiple: true },
  limit: { type: "string" },
  order: { type: "string" },
  after: { type: "string" },
  yes: { type: "boolean" },
  "drain-seconds": { type: "string" },
  since: { type: "string" },
  "older-than": { type: "string" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];
type Option = keyof typeof OPTIONS;

const GLOBAL: Option[] = ["local", "remote", "url", "persist-to", "json", "help"];
const RESPONSE_FILTERS: Option[] = [
  "model",
  "status",
  "previous-response-id",
  "conversation",
  "background",
  "created-after",
  "created-before",
  "metadata",
  "limit",
  "order",
  "after",
];

interface Command {
  args: string[];
  /** Arguments after `args` that may be left out. */
  optional?: string[];
  options: Option[];
  help: string;
  run(admin: Admin, args: string[], values: Values): Promise<Row>;
  /** Printed after the answer in table mode. */
  note?: string;
}

const COMMANDS: Record<string, Command> = {
  "tenant create": {
    args: ["name"],
    options: [],
    help: "create a tenant",
    run: (admin, [name]) => admin.createTenant(checkName(name)),
  },
  "tenant list": { args: [], options: [], help: "list tenants", run: (admin) => admin.listTenants() },
  "tenant show": {
    args: ["tenant"],
    options: [],
    help: "one tenant",
    run: (admin, [ref]) => admin.showTenant(ref ?? ""),
  },
  "tenant delete": {
    args: ["tenant"],
    options: ["yes"],
    help: "erase a tenant: revoke its keys, delete its history (--yes; --url only)",
    run: (admin, [ref], values) => admin.deleteTenant(confirmed(ref ?? "", values)),
  },
  "tenant move": {
    args: ["tenant", "shard"],
    options: ["drain-seconds"],
    help: "move a tenant's history to another D1 shard [--drain-seconds N] (--url only)",
    run: (admin, [ref, shard], values) =>
      admin.moveTenant(ref ?? "", shard ?? "", drainSeconds(values["drain-seconds"])),
  },
  "key create": {
    args: ["tenant", "name"],
    options: [],
    help: "create a gateway key; it is shown ONCE",
    run: (admin, [ref, name]) => admin.createKey(ref ?? "", checkName(name)),
    note: "The key is shown only this once: only its SHA-256 is stored.",
  },
  "key list": {
    args: ["tenant"],
    options: [],
    help: "a tenant's keys (never the keys themselves)",
    run: (admin, [ref]) => admin.listKeys(ref ?? ""),
  },
  "key revoke": {
    args: ["key_id"],
    options: [],
    help: "revoke a key (refused from the next request)",
    run: (admin, [id]) => admin.revokeKey(id ?? ""),
  },
  "webhook add": {
    args: ["tenant", "https-url"],
    options: ["name", "events", "secret"],
    help: "add a webhook endpoint [--name NAME] [--events response.completed,...] [--secret whsec_...]",
    run: (admin, [ref, url], values) => admin.addWebhook(ref ?? "", webhookInput(url, values)),
    note: "The signing secret is shown only this once.",
  },
  "webhook list": {
    args: ["tenant"],
    options: [],
    help: "a tenant's webhook endpoints",
    run: (admin, [ref]) => admin.listWebhooks(ref ?? ""),
  },
  "webhook remove": {
    args: ["tenant", "endpoint_id"],
    options: [],
    help: "remove a webhook endpoint",
    run: (admin, [ref, id]) => admin.removeWebhook(ref ?? "", id ?? ""),
  },
  "webhook deliveries": {
    args: [],
    optional: ["tenant"],
    options: ["status", "limit", "after"],
    help: "webhook deliveries, newest first: a tenant's, or every tenant's of one --status [--status pending|delivered|failed] [--limit N] [--after ID]",
    run: (admin, [ref], values) =>
      ref === undefined
        ? admin.listAllDeliveries(everyTenantsDeliveries(values))
        : admin.listDeliveries(ref, deliveryFilters(values)),
  },
  usage: {
    args: [],
    options: ["tenant", "from", "to", "group-by"],
    help: "tokens and responses [--tenant T] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--group-by day,model,key,tenant]",
    run: (admin, _args, values) => admin.usage(usageQuery(values)),
  },
  "responses list": {
    args: [],
    optional: ["tenant"],
    options: [...RESPONSE_FILTERS, "since", "older-than"],
    help: "stored responses, newest first: a tenant's, or every tenant's; GET /v1/responses's filters, --since 1h, --older-than 65m",
    run: (admin, [ref], values) => admin.listResponses(ref ?? null, responseFilters(values)),
  },
  status: {
    args: [],
    options: ["older-than"],
    help: "what is stuck right now: runs past MAX_RUN_SECONDS and 5 minutes (or --older-than 2h), moves, deliveries, shards' migrations (--url only)",
    run: (admin, _args, values) => {
      const olderThan = values["older-than"];
      return status(admin, olderThan === undefined ? null : before("older-than", olderThan));
    },
  },
  config: {
    args: [],
    options: [],
    help: "the settings the deployed gateway runs on (secrets only as set), their problems, its routes (--url only)",
    run: (admin) => admin.showConfiguration(),
  },
  "responses show": {
    args: ["response_id"],
    options: ["tenant"],
    help: "one stored response as GET /admin/responses/{id} shows it [--tenant T]",
    run: (admin, [id], values) => admin.showResponse(id ?? "", values.tenant ?? null),
  },
};

const argsOf = (command: Command) =>
  [...command.args.map((arg) => `<${arg}>`), ...(command.optional ?? []).map((arg) => `[<${arg}>]`)].join(" ");

export const USAGE = `Usage: npm run admin -- <command> [arguments] [options]

Commands (a <tenant> is a tenant's id or its name):
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${`${name} ${argsOf(command)}`.padEnd(38)} ${command.help}`)
  .join("\n")}

Response filters: --model M --status S --previous-response-id ID --conversation ID --background true|false
  --created-after UNIX (or --since 30m, 2h, 1d) --created-before UNIX (or --older-than 65m, 2h, 3d)
  --metadata key=value (repeatable)
  --limit N --order asc|desc --after ID

Targets:
  --local (default)   the local D1 of \`npm run dev\` (.wrangler/state)   --persist-to DIR  another directory
  --remote            the deployed D1 (after \`npx wrangler login\`)
  --url URL           a deployed gateway's admin API, with its token in $ADMIN_TOKEN

Output: a table; --json prints the admin API's JSON (the same with every target).`;

// ---- checks, as the API makes them ----

/** An erasure cannot be undone: it runs only when the command line says so. */
function confirmed(ref: string, values: Values): string {
  if (values.yes !== true)
    throw new CliError(
      `'tenant delete' revokes every key of '${ref}' and deletes all its history, which cannot be undone. Add --yes to do it.`,
    );
  return ref;
}

function drainSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,3}$/.test(value) || Number(value) > MAX_DRAIN_SECONDS)
    throw new CliError(`--drain-seconds takes 0 to ${MAX_DRAIN_SECONDS}, not '${value}'.`);
  return Number(value);
}

function checkName(name: string | undefined): string {
  if (name === undefined || name.trim() === "" || name.length > MAX_NAME_CHARS)
    throw new CliError(`A name of 1 to ${MAX_NAME_CHARS} characters is required.`);
  return name;
}

function webhookInput(url: string | undefined, values: Values) {
  checkWebhookUrl(url, values.remote === true);
  if (values.name !== undefined && values.name.length > MAX_NAME_CHARS)
    throw new CliError(`A webhook endpoint's name holds at most ${MAX_NAME_CHARS} characters.`);
  const events = values.events?.split(",").map((type) => type.trim()) ?? EVENT_TYPES;
  for (const type of events)
    if (!EVENT_TYPES.includes(type)) throw new CliError(`Unknown event type '${type}': ${EVENT_TYPES.join(", ")}.`);
  if (values.secret !== undefined && secretKey(values.secret) === null)
    throw new CliError(`A secret is 'whsec_' and base64 of ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes.`);
  return { url: url as string, name: values.name, event_types: events, secret: values.secret };
}

function day(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : NaN;
  if (Number.isNaN(ms)) throw new CliError(`--${option} takes a date as YYYY-MM-DD, not '${value}'.`);
  return ms;
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function usageQuery(values: Values) {
  const end = day(values.to, "to") ?? Date.parse(`${isoDay(Date.now())}T00:00:00Z`);
  const start = day(values.from, "from") ?? end - (DEFAULT_USAGE_DAYS - 1) * DAY_MS;
  if (start > end) throw new CliError("--from must not be after --to.");
  if ((end - start) / DAY_MS + 1 > MAX_USAGE_DAYS) throw new CliError(`A range holds at most ${MAX_USAGE_DAYS} days.`);
  const groupBy = (values["group-by"] ?? "day").split(",").map((group) => group.trim());
  for (const group of groupBy)
    if (!(USAGE_DIMENSIONS as readonly string[]).includes(group))
      throw new CliError(`--group-by takes ${USAGE_DIMENSIONS.join(", ")} (comma-separated), not '${group}'.`);
  return {
    tenant: values.tenant ?? null,
    startDay: isoDay(start),
    endDay: isoDay(end),
    groupBy: [...new Set(groupBy)] as UsageDimension[],
  };
}

function oneOf(option: string, value: string | undefined, allowed: string[]): string | undefined {
  if (value !== undefined && !allowed.includes(value))
    throw new CliError(`--${option} takes ${allowed.join(", ")}, not '${value}'.`);
  return value;
}

function unixSeconds(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,12}$/.test(value)) throw new CliError(`--${option} takes unix seconds, not '${value}'.`);
  return Number(value);
}

function pageLimit(values: Values): number {
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT)
    throw new CliError(`--limit takes 1 to ${MAX_PAGE_LIMIT}, not '${values.limit}'.`);
  return limit;
}

/** Across tenants, deliveries are listed one status at a time, as GET /admin/webhook_deliveries reads them. */
function everyTenantsDeliveries(values: Values): DeliveryFilters & { status: string } {
  const filters = deliveryFilters(values);
  if (filters.status === undefined)
    throw new CliError(
      "Without a <tenant>, give --status pending, delivered or failed: every tenant's deliveries are listed one status at a time.",
    );
  return { ...filters, status: filters.status };
}

function deliveryFilters(values: Values): DeliveryFilters {
  return {
    status: oneOf("status", values.status, DELIVERY_STATUSES),
    limit: pageLimit(values),
    after: values.after ?? null,
  };
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `--since 90m`, `--older-than 2h`: the unix time that long before now. */
function before(option: string, value: string): number {
  const match = /^(\d{1,6})([smhd])$/.exec(value);
  if (match === null)
    throw new CliError(
      `--${option} takes a duration as a whole number and s, m, h or d (30m, 2h, 7d), not '${value}'.`,
    );
  return Math.floor(Date.now() / 1000) - Number(match[1]) * (DURATION_UNITS[match[2] as string] as number);
}

/** A unix time given either as itself (`--created-after`) or relative to now (`--since`), not both. */
function oneTime(values: Values, absolute: "created-after" | "created-before", relative: "since" | "older-than") {
  const value = values[relative];
  if (value === undefined) return unixSeconds(absolute, values[absolute]);
  if (values[absolute] !== undefined) throw new CliError(`Give --${relative} or --${absolute}, not both.`);
  return before(relative, value);
}

function responseFilters(values: Values): ResponseFilters {
  const limit = pageLimit(values);
  const metadata = (values.metadata ?? []).map((pair): [string, string] => {
    const at = pair.indexOf("=");
    if (at <= 0) throw new CliError(`--metadata takes key=value, not '${pair}'.`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  });
  if (metadata.length > MAX_METADATA_FILTERS) throw new CliError(`At most ${MAX_METADATA_FILTERS} --metadata filters.`);
  const background = oneOf("background", values.background, ["true", "false"]);
  return {
    limit,
    order: (oneOf("order", values.order, ["asc", "desc"]) ?? "desc") as "asc" | "desc",
    after: values.after ?? null,
    model: values.model,
    status: oneOf("status", values.status, STATUSES),
    previousResponseId: values["previous-response-id"],
    conversation: values.conversation,
    background: background === undefined ? undefined : background === "true",
    createdAfter: oneTime(values, "created-after", "since"),
    createdBefore: oneTime(values, "created-before", "older-than"),
    metadata,
  };
}

// ---- parsing and running ----

/** The known option nearest to a mistyped one (`--groupby` → `--group-by`), if any is close. */
function nearest(option: string): string | undefined {
  const squash = (name: string) => name.replace(/[-_]/g, "").toLowerCase();
  return Object.keys(OPTIONS).find((name) => squash(name) === squash(option) || name.startsWith(option));
}

function parse(argv: string[]): { positionals: string[]; values: Values } {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const unknown = /Unknown option '(--?[^']+)'/.exec(message)?.[1];
    if (unknown !== undefined) {
      const guess = nearest(unknown.replace(/^-+/, ""));
      throw new CliError(
        `Unknown option ${unknown}${guess === undefined ? "" : ` (did you mean --${guess}?)`}. See --help.`,
      );
    }
    throw new CliError(`${message.split(". To specify")[0] ?? message}. See --help.`);
  }
}

/** Runs the command in `argv`; returns what to print. `send` makes the --url calls (a test hands in the Worker's). */
export async function run(argv: string[], env: NodeJS.ProcessEnv, send: typeof fetch = fetch): Promise<string> {
  const { positionals, values } = parse(argv);
  if (values.help === true || positionals.length === 0) return USAGE;
  const name =
    positionals[0] === "usage" || positionals[0] === "status" ? positionals[0] : positionals.slice(0, 2).join(" ");
  const command = COMMANDS[name];
  if (command === undefined) throw new CliError(`Unknown command '${positionals.join(" ")}'. See --help.`);
  const args = positionals.slice(name.split(" ").length);
  if (args.length < command.args.length || args.length > command.args.length + (command.optional?.length ?? 0))
    throw new CliError(`Usage: npm run admin -- ${name} ${argsOf(command)}`.trimEnd());
  for (const option of Object.keys(values) as Option[])
    if (!GLOBAL.includes(option) && !command.options.includes(option))
      throw new CliError(`--${option} is not an option of '${name}'. See --help.`);
  const targets = [values.local, values.remote, values.url !== undefined].filter(Boolean).length;
  if (targets > 1) throw new CliError("Choose one target: --local, --remote or --url.");
  if (values.url !== undefined && values["persist-to"] !== undefined)
    throw new CliError("--persist-to is for the local D1, not --url.");
  const admin =
    values.url === undefined
      ? d1Admin(wranglerExecute({ remote: values.remote === true, persistTo: values["persist-to"] }))
      : httpAdmin(values.url, env.ADMIN_TOKEN, send);
  const answer = await command.run(admin, args, values);
  const shown = render(
    name === "webhook deliveries" && args.length === 0 ? `${name} all` : name,
    answer,
    values.json === true,
  );
  return values.json === true || command.note === undefined ? shown : `${shown}\n\n${command.note}`;
}
