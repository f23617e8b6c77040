// Operator CLI for tenants, gateway keys, webhook endpoints and usage, from a shell:
//   npm run admin -- <command> [args] [--local | --remote | --url URL] [--persist-to DIR]
// Against D1 it runs `wrangler d1 execute DB` (hashing keys exactly as the Worker does); with
// --url it calls the admin API of a deployed gateway with $ADMIN_TOKEN.

import { execFileSync } from "node:child_process";
import { newId } from "../src/responses/ids.ts";
import { hashGatewayKey, newGatewayKey, shownPrefix } from "../src/tenancy/gateway-keys.ts";
import { MAX_SECRET_BYTES, MIN_SECRET_BYTES, newWebhookSecret, secretHint, secretKey } from "../src/webhooks/sign.ts";

const USAGE = `Usage: npm run admin -- <command> [options]

Commands:
  tenant create <name>                          create a tenant; prints its id
  tenant list                                   list tenants
  key create <tenant_id> <name>                 create a gateway key; prints it ONCE
  key list <tenant_id>                          list a tenant's keys (never the keys themselves)
  key revoke <key_id>                           revoke a key (refused at once)
  webhook add <tenant_id> <https-url> [--name NAME] [--events response.completed,...] [--secret whsec_...]
  webhook list <tenant_id>
  webhook remove <tenant_id> <endpoint_id>
  usage [--tenant <id>] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--group-by day,model,key,tenant]

Targets (D1 through wrangler, or a deployed gateway's admin API):
  --local (default)   the local D1 of \`npm run dev\`     --persist-to DIR  its directory
  --remote            the deployed D1 (wrangler login)
  --url URL           the admin API at URL, with the token in $ADMIN_TOKEN`;

/** As src/webhooks/event.ts (which Node cannot load from here: its imports have no extensions). */
const EVENT_TYPES = ["response.completed", "response.failed", "response.cancelled", "response.incomplete"];
/** As MAX_ENDPOINTS_PER_TENANT in src/routes/webhook-endpoints.ts. */
const MAX_ENDPOINTS_PER_TENANT = 16;

interface Options {
  positional: string[];
  flags: Map<string, string | true>;
}

function parseArgs(argv: string[]): Options {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split("=", 2) as [string, string | undefined];
    const next = argv[i + 1];
    if (inline !== undefined) flags.set(name, inline);
    else if (["local", "remote"].includes(name) || next === undefined || next.startsWith("--")) flags.set(name, true);
    else flags.set(name, argv[++i] as string);
  }
  return { positional, flags };
}

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

const flag = (options: Options, name: string): string | undefined => {
  const value = options.flags.get(name);
  return typeof value === "string" ? value : undefined;
};

/** An SQL string literal: single quotes doubled; NUL refused (D1 text cannot hold it reliably). */
function literal(value: string | number | null): string {
  if (value === null) return "NULL";
  if (typeof value === "number") return String(Math.trunc(value));
  if (value.includes("\u0000")) fail("Values must not contain NUL characters.");
  return `'${value.replaceAll("'", "''")}'`;
}

function checkName(name: string | undefined): string {
  if (name === undefined || name.trim() === "" || name.length > 256) fail("A name of 1 to 256 characters is required.");
  return name;
}

function checkUrl(value: string | undefined): string {
  let url: URL | undefined;
  try {
    url = new URL(value ?? "");
  } catch {
    url = undefined;
  }
  if (url === undefined || url.protocol !== "https:" || url.username !== "" || url.password !== "")
    fail("A webhook endpoint must be an https:// URL without credentials.");
  return value as string;
}

// ---- D1 through wrangler ----

function d1(options: Options, sql: string): Record<string, unknown>[] {
  const args = ["wrangler", "d1", "execute", "DB", options.flags.has("remote") ? "--remote" : "--local", "--json"];
  const persist = flag(options, "persist-to");
  if (persist !== undefined) args.push("--persist-to", persist);
  args.push("--command", sql);
  let output: string;
  try {
    output = execFileSync("npx", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const stderr = (error as { stderr?: string; stdout?: string }).stdout ?? "";
    fail(`wrangler d1 execute failed:\n${stderr || String(error)}`);
  }
  const parsed = JSON.parse(output) as { results?: Record<string, unknown>[] }[];
  return parsed.flatMap((result) => result.results ?? []);
}

const now = () => Math.floor(Date.now() / 1000);

/** A `webhook_endpoints` row as the admin API shows it (src/webhooks/resources.ts): never the secret, only its hint. */
function endpointObject(row: Record<string, unknown>): Record<string, unknown> {
  return {
    id: row.id,
    object: "webhook_endpoint",
    tenant_id: row.tenant_id,
    name: row.name ?? "",
    url: row.url,
    event_types: JSON.parse(String(row.event_types)) as unknown,
    created_at: row.created_at,
    updated_at: row.updated_at ?? row.created_at,
    signing_secret_hint: secretHint(String(row.secret)),
  };
}

/** `tenant create`, `key list`...; `usage` is a command of one word. */
function command(options: Options): { name: string; rest: string[] } {
  const [group = "", action = "", ...rest] = options.positional;
  return group === "usage"
    ? { name: "usage", rest: options.positional.slice(1) }
    : { name: `${group} ${action}`, rest };
}

async function runD1(options: Options): Promise<unknown> {
  const { name: commandName, rest } = command(options);
  switch (commandName) {
    case "tenant create": {
      const tenant = { id: newId("tenant"), name: checkName(rest[0]), created_at: now() };
      d1(
        options,
        `INSERT INTO tenants (id, name, created_at) VALUES (${literal(tenant.id)}, ${literal(tenant.name)}, ${tenant.created_at})`,
      );
      return tenant;
    }
    case "tenant list":
      return d1(options, "SELECT id, name, created_at FROM tenants ORDER BY created_at, id");
    case "key create": {
      const [tenantId, name] = [rest[0] ?? fail("key create <tenant_id> <name>"), checkName(rest[1])];
      const key = newGatewayKey();
      const row = { id: newId("key"), tenant_id: tenantId, name, prefix: shownPrefix(key), created_at: now() };
      const inserted = d1(
        options,
        `INSERT INTO api_keys (id, tenant_id, name, key_hash, prefix, created_at)
         SELECT ${literal(row.id)}, id, ${literal(name)}, ${literal(await hashGatewayKey(key))}, ${literal(row.prefix)}, ${row.created_at}
           FROM tenants WHERE id = ${literal(tenantId)} RETURNING id`,
      );
      if (inserted.length === 0) fail(`No tenant with id '${tenantId}'.`);
      return { ...row, key, note: "Shown once: only its SHA-256 is stored." };
    }
    case "key list":
      return d1(
        options,
        `SELECT id, tenant_id, name, prefix, created_at, last_used_at, revoked_at FROM api_keys
          WHERE tenant_id = ${literal(rest[0] ?? fail("key list <tenant_id>"))} ORDER BY created_at, id`,
      );
    case "key revoke": {
      const id = rest[0] ?? fail("key revoke <key_id>");
      const rows = d1(
        options,
        `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ${now()}) WHERE id = ${literal(id)}
         RETURNING id, tenant_id, name, prefix, created_at, last_used_at, revoked_at`,
      );
      return rows[0] ?? fail(`No API key with id '${id}'.`);
    }
    case "webhook add": {
      const tenantId = rest[0] ?? fail("webhook add <tenant_id> <url>");
      const url = checkUrl(rest[1]);
      const name = flag(options, "name") ?? "";
      if (name.length > 256) fail("A webhook endpoint's name holds at most 256 characters.");
      const events = (flag(options, "events") ?? EVENT_TYPES.join(",")).split(",");
      for (const type of events) if (!EVENT_TYPES.includes(type)) fail(`Unknown event type '${type}'.`);
      const secret = flag(options, "secret") ?? newWebhookSecret();
      if (secretKey(secret) === null)
        fail(`A secret is 'whsec_' and base64 of ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes.`);
      const row = { id: newId("whe"), created_at: now() };
      // The same row, limit and object as the admin API (src/routes/webhook-endpoints.ts).
      const inserted = d1(
        options,
        `INSERT INTO webhook_endpoints (id, tenant_id, url, secret, event_types, created_at, name, updated_at)
         SELECT ${literal(row.id)}, id, ${literal(url)}, ${literal(secret)}, ${literal(JSON.stringify(events))},
                ${row.created_at}, ${literal(name)}, ${row.created_at}
           FROM tenants WHERE id = ${literal(tenantId)}
            AND (SELECT count(*) FROM webhook_endpoints WHERE tenant_id = ${literal(tenantId)}) < ${MAX_ENDPOINTS_PER_TENANT}
         RETURNING id`,
      );
      if (inserted.length === 0)
        fail(`No tenant with id '${tenantId}', or it has ${MAX_ENDPOINTS_PER_TENANT} webhook endpoints already.`);
      return {
        ...endpointObject({ ...row, tenant_id: tenantId, name, url, event_types: JSON.stringify(events), secret }),
        signing_secret: secret,
        note: "The secret is shown once.",
      };
    }
    case "webhook list":
      return d1(
        options,
        `SELECT id, tenant_id, name, url, event_types, secret, created_at, updated_at FROM webhook_endpoints
          WHERE tenant_id = ${literal(rest[0] ?? fail("webhook list <tenant_id>"))} ORDER BY created_at, rowid`,
      ).map(endpointObject);
    case "webhook remove": {
      const [tenantId, id] = [rest[0], rest[1]];
      if (tenantId === undefined || id === undefined) fail("webhook remove <tenant_id> <endpoint_id>");
      const rows = d1(
        options,
        `DELETE FROM webhook_endpoints WHERE id = ${literal(id)} AND tenant_id = ${literal(tenantId)} RETURNING id`,
      );
      return rows[0] ? { id, deleted: true } : fail(`No webhook endpoint '${id}' for tenant '${tenantId}'.`);
    }
    case "usage": {
      const columns: Record<string, string> = { day: "day", model: "model", key: "api_key_id", tenant: "tenant_id" };
      const groups = (flag(options, "group-by") ?? "day").split(",");
      for (const group of groups) if (!(group in columns)) fail(`--group-by takes ${Object.keys(columns).join(", ")}.`);
      const selected = groups.map((group) => columns[group] as string);
      const where = [
        flag(options, "tenant") === undefined ? "1 = 1" : `tenant_id = ${literal(flag(options, "tenant") as string)}`,
        flag(options, "from") === undefined ? "1 = 1" : `day >= ${literal(flag(options, "from") as string)}`,
        flag(options, "to") === undefined ? "1 = 1" : `day <= ${literal(flag(options, "to") as string)}`,
      ].join(" AND ");
      return d1(
        options,
        `SELECT ${selected.join(", ")}, sum(responses) AS responses, sum(input_tokens) AS input_tokens,
                sum(output_tokens) AS output_tokens FROM usage_daily WHERE ${where}
          GROUP BY ${selected.join(", ")} ORDER BY ${selected.join(", ")}`,
      );
    }
    default:
      return fail(USAGE);
  }
}

// ---- the admin API of a deployed gateway ----

async function api(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const token = process.env.ADMIN_TOKEN ?? fail("Set ADMIN_TOKEN to the gateway's admin token.");
  const response = await fetch(`${base.replace(/\/+$/, "")}/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = (await response.json()) as unknown;
  if (!response.ok) fail(`HTTP ${response.status}: ${JSON.stringify(payload)}`);
  return payload;
}

async function runApi(options: Options, base: string): Promise<unknown> {
  const { name: commandName, rest } = command(options);
  const need = (value: string | undefined, usage: string): string => value ?? fail(usage);
  switch (commandName) {
    case "tenant create":
      return api(base, "POST", "/tenants", { name: checkName(rest[0]) });
    case "tenant list":
      return api(base, "GET", "/tenants?limit=100");
    case "key create":
      return api(base, "POST", `/tenants/${need(rest[0], "key create <tenant_id> <name>")}/keys`, {
        name: checkName(rest[1]),
      });
    case "key list":
      return api(base, "GET", `/tenants/${need(rest[0], "key list <tenant_id>")}/keys`);
    case "key revoke":
      return api(base, "POST", `/keys/${need(rest[0], "key revoke <key_id>")}/revoke`);
    case "webhook add":
      return api(base, "POST", `/tenants/${need(rest[0], "webhook add <tenant_id> <url>")}/webhook_endpoints`, {
        url: checkUrl(rest[1]),
        name: flag(options, "name"),
        event_types: flag(options, "events")?.split(","),
        secret: flag(options, "secret"),
      });
    case "webhook list":
      return api(base, "GET", `/tenants/${need(rest[0], "webhook list <tenant_id>")}/webhook_endpoints`);
    case "webhook remove":
      return api(
        base,
        "DELETE",
        `/tenants/${need(rest[0], "webhook remove <tenant_id> <id>")}/webhook_endpoints/${need(rest[1], "webhook remove <tenant_id> <id>")}`,
      );
    case "usage": {
      const query = new URLSearchParams();
      for (const [flagName, param] of [
        ["tenant", "tenant_id"],
        ["from", "start_date"],
        ["to", "end_date"],
        ["group-by", "group_by"],
      ] as const) {
        const value = flag(options, flagName);
        if (value !== undefined) query.set(param, value);
      }
      return api(base, "GET", `/usage?${query}`);
    }
    default:
      return fail(USAGE);
  }
}

const options = parseArgs(process.argv.slice(2));
if (options.positional.length === 0 || options.flags.has("help")) {
  console.log(USAGE);
} else {
  const url = flag(options, "url");
  const result = url === undefined ? await runD1(options) : await runApi(options, url);
  console.log(JSON.stringify(result, null, 2));
}
