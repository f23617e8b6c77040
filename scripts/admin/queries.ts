// The admin CLI's D1 statements and the objects it builds from their rows: the admin API's own
// shapes, so local and --url answers match (test/e2e/admin-cli.test.ts compares them). No imports,
// so both Node (scripts/admin/d1.ts) and the Workers tests load it.

export type Row = Record<string, unknown>;

/** Statements run in one `wrangler d1 execute`, and how their results (one list per statement) read. */
export interface Query<T> {
  statements: string[];
  read(results: Row[][]): T | Promise<T>;
}

/** A mistake the operator can fix; printed without a stack. */
export class CliError extends Error {}

export interface List<T> extends Row {
  object: "list";
  data: T[];
  first_id: unknown;
  last_id: unknown;
  has_more: boolean;
}

export const listOf = <T extends Row>(data: T[], hasMore = false): List<T> => ({
  object: "list",
  data,
  first_id: data[0]?.id ?? null,
  last_id: data.at(-1)?.id ?? null,
  has_more: hasMore,
});

/** An SQL literal: strings quoted with single quotes doubled; NUL refused (D1 text cannot hold it reliably). */
export function literal(value: string | number | null): string {
  if (value === null) return "NULL";
  if (typeof value === "number") return String(Math.trunc(value));
  if (value.includes("\u0000")) throw new CliError("Values must not contain NUL characters.");
  return `'${value.replaceAll("'", "''")}'`;
}

// ---- tenants, by id or by name ----

export const tenantObject = (row: Row) => ({
  object: "tenant",
  id: row.id,
  name: row.name,
  created_at: row.created_at,
  shard: row.shard ?? null,
  moving_to: row.moving_to ?? null,
});

/** The tenants of `select` (id, name, created_at) with their shard records. */
const placed = (select: string) =>
  `SELECT c.id, c.name, c.created_at, s.shard, s.moving_to FROM (${select}) c
     LEFT JOIN tenant_shards s ON s.tenant_id = c.id ORDER BY c.created_at, c.id`;

/** A pass-through tenant (`t_` and a hash of the client's key, src/http/auth.ts) has no `tenants` row. */
const PASSTHROUGH_TENANT = "t_[0-9a-f]*";
/** `PASSTHROUGH_TENANT` for the --url target, which matches in the CLI. */
export const isPassthroughTenant = (ref: string) => /^t_[0-9a-f]/.test(ref);

/**
 * The tenants `ref` names: the one with that id, else those with that name; with `passthrough`,
 * else a pass-through tenant id as it is (for reading its usage and responses).
 */
const candidates = (ref: string, passthrough = false) => {
  const r = literal(ref);
  const named = `SELECT 1 FROM tenants WHERE id = ${r} OR name = ${r}`;
  return `SELECT id, name, created_at FROM tenants WHERE id = ${r}
   UNION ALL SELECT id, name, created_at FROM tenants WHERE name = ${r} AND NOT EXISTS (SELECT 1 FROM tenants WHERE id = ${r})${
     passthrough
       ? `\n   UNION ALL SELECT ${r}, NULL, NULL WHERE ${r} GLOB '${PASSTHROUGH_TENANT}' AND NOT EXISTS (${named})`
       : ""
   }
   ORDER BY created_at, id`;
};

/** The id of the one tenant `ref` names, or NULL (so a statement using it touches nothing). */
const tenantId = (ref: string, passthrough = false) =>
  `(SELECT id FROM (${candidates(ref, passthrough)}) WHERE (SELECT count(*) FROM (${candidates(ref, passthrough)})) = 1)`;

/** The tenant of the first statement's rows, or the reason there is not exactly one. */
function theTenant(ref: string, rows: Row[] | undefined): Row {
  if (rows === undefined || rows.length === 0) throw new CliError(`No tenant with id or name '${ref}'.`);
  if (rows.length > 1)
    throw new CliError(
      `${rows.length} tenants are named '${ref}': ${rows.map((row) => String(row.id)).join(", ")}. Use an id.`,
    );
  return rows[0] as Row;
}

/**
 * The shard recorded for the tenant `ref` names (none before its first write). A D1 target reaches
 * `DB` alone, so a tenant whose history is on another shard is refused, not shown as empty.
 */
const shardOf = (ref: string, passthrough = false) =>
  `SELECT shard FROM tenant_shards WHERE tenant_id = ${tenantId(ref, passthrough)}`;
/** A write's condition: the tenant's history is in `DB` (see `shardOf`). */
const historyInDb = (ref: string) =>
  `NOT EXISTS (SELECT 1 FROM tenant_shards WHERE tenant_id = ${tenantId(ref)} AND shard <> 'DB')`;

/** Refuses a tenant whose history is on a shard other than `DB` (the rows of a `shardOf` statement). */
function checkShard(ref: string, rows: Row[] | undefined): void {
  const shard = rows?.[0]?.shard;
  if (typeof shard === "string" && shard !== "DB")
    throw new CliError(
      `Tenant '${ref}' lives on shard ${shard}; the D1 targets reach DB alone: use --url (docs/sharding.md).`,
    );
}

export const createTenant = (tenant: { id: string; name: string; created_at: number }): Query<Row> => ({
  statements: [
    `INSERT INTO tenants (id, name, created_at) VALUES (${literal(tenant.id)}, ${literal(tenant.name)}, ${tenant.created_at})
     RETURNING id, name, created_at`,
  ],
  read: ([rows]) => tenantObject(rows?.[0] ?? {}),
});

export const listTenants = (): Query<List<Row>> => ({
  statements: [placed("SELECT id, name, created_at FROM tenants")],
  read: ([rows = []]) => listOf(rows.map(tenantObject)),
});

export const showTenant = (ref: string): Query<Row> => ({
  statements: [placed(candidates(ref))],
  read: ([rows]) => tenantObject(theTenant(ref, rows)),
});

// ---- gateway keys ----

const KEY_COLUMNS = "id, tenant_id, name, prefix, created_at, last_used_at, revoked_at";

export const keyObject = (row: Row) => ({
  object: "api_key",
  id: row.id,
  tenant_id: row.tenant_id,
  name: row.name,
  prefix: row.prefix,
  created_at: row.created_at,
  last_used_at: row.last_used_at ?? null,
  revoked_at: row.revoked_at ?? null,
});

export interface NewKey {
  id: string;
  name: string;
  key: string;
  hash: string;
  prefix: string;
  created_at: number;
}

export const createKey = (ref: string, key: NewKey): Query<Row> => ({
  statements: [
    candidates(ref),
    `INSERT INTO api_keys (id, tenant_id, name, key_hash, prefix, created_at)
     SELECT ${literal(key.id)}, id, ${literal(key.name)}, ${literal(key.hash)}, ${literal(key.prefix)}, ${key.created_at}
       FROM tenants WHERE id = ${tenantId(ref)}
     RETURNING ${KEY_COLUMNS}`,
  ],
  read: ([tenants, rows]) => {
    theTenant(ref, tenants);
    return { ...keyObject(rows?.[0] ?? {}), key: key.key };
  },
});

export const listKeys = (ref: string): Query<List<Row>> => ({
  statements: [
    candidates(ref),
    `SELECT ${KEY_COLUMNS} FROM api_keys WHERE tenant_id = ${tenantId(ref)} ORDER BY created_at, id`,
  ],
  read: ([tenants, rows = []]) => {
    theTenant(ref, tenants);
    return listOf(rows.map(keyObject));
  },
});

export const revokeKey = (id: string, now: number): Query<Row> => ({
  statements: [
    `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ${now}) WHERE id = ${literal(id)} RETURNING ${KEY_COLUMNS}`,
  ],
  read: ([rows]) => {
    if (rows?.[0] === undefined) throw new CliError(`No API key with id '${id}'.`);
    return keyObject(rows[0]);
  },
});

// ---- webhook endpoints ----

/** As MAX_ENDPOINTS_PER_TENANT in src/routes/webhook-endpoints.ts. */
export const MAX_ENDPOINTS_PER_TENANT = 16;
/** The secret never leaves D1 for a list: only its hint, as src/webhooks/sign.ts `secretHint` makes it. */
const ENDPOINT_COLUMNS =
  "id, tenant_id, name, url, event_types, created_at, updated_at, 'whsec_…' || substr(secret, -4) AS signing_secret_hint";

/** As the admin API shows an endpoint (src/webhooks/resources.ts, with `tenant_id`). */
export const endpointObject = (row: Row, secret?: string) => ({
  id: row.id,
  object: "webhook_endpoint",
  name: row.name ?? "",
  url: row.url,
  event_types: JSON.parse(String(row.event_types)) as unknown,
  created_at: row.created_at,
  updated_at: row.updated_at ?? row.created_at,
  signing_secret_hint: row.signing_secret_hint,
  ...(secret === undefined ? {} : { signing_secret: secret }),
  tenant_id: row.tenant_id,
});

export interface NewEndpoint {
  id: string;
  url: string;
  name: string;
  event_types: string[];
  secret: string;
  created_at: number;
}

export const addWebhook = (ref: string, endpoint: NewEndpoint): Query<Row> => ({
  statements: [
    candidates(ref),
    shardOf(ref),
    `SELECT count(*) AS n FROM webhook_endpoints WHERE tenant_id = ${tenantId(ref)}`,
    `INSERT INTO webhook_endpoints (id, tenant_id, url, secret, event_types, created_at, name, updated_at)
     SELECT ${literal(endpoint.id)}, id, ${literal(endpoint.url)}, ${literal(endpoint.secret)},
            ${literal(JSON.stringify(endpoint.event_types))}, ${endpoint.created_at}, ${literal(endpoint.name)}, ${endpoint.created_at}
       FROM tenants WHERE id = ${tenantId(ref)}
        AND (SELECT count(*) FROM webhook_endpoints WHERE tenant_id = ${tenantId(ref)}) < ${MAX_ENDPOINTS_PER_TENANT}
        AND ${historyInDb(ref)}
     RETURNING ${ENDPOINT_COLUMNS}`,
  ],
  read: ([tenants, shard, count, rows]) => {
    theTenant(ref, tenants);
    checkShard(ref, shard);
    if (rows?.[0] === undefined)
      throw new CliError(
        `The tenant has ${String(count?.[0]?.n)} webhook endpoints, the most it may have (${MAX_ENDPOINTS_PER_TENANT}).`,
      );
    return endpointObject(rows[0], endpoint.secret);
  },
});

export const listWebhooks = (ref: string): Query<List<Row>> => ({
  statements: [
    candidates(ref),
    shardOf(ref),
    `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ${tenantId(ref)} ORDER BY created_at, rowid`,
  ],
  read: ([tenants, shard, rows = []]) => {
    theTenant(ref, tenants);
    checkShard(ref, shard);
    return listOf(rows.map((row) => endpointObject(row)));
  },
});

export const removeWebhook = (ref: string, id: string): Query<Row> => ({
  statements: [
    candidates(ref),
    shardOf(ref),
    `DELETE FROM webhook_endpoints WHERE id = ${literal(id)} AND tenant_id = ${tenantId(ref)} AND ${historyInDb(ref)} RETURNING id`,
  ],
  read: ([tenants, shard, rows]) => {
    theTenant(ref, tenants);
    checkShard(ref, shard);
    if (rows?.[0] === undefined) throw new CliError(`No webhook endpoint with id '${id}'.`);
    return { id, object: "webhook_endpoint.deleted", deleted: true };
  },
});

// ---- webhook deliveries (as GET /admin/tenants/{id}/webhook_deliveries) ----

/** `--status`, `--limit` and `--after` of a tenant's deliveries, as the API's `status`, `limit`, `after`. */
export interface DeliveryFilters {
  status?: string;
  limit: number;
  after: string | null;
}

const DELIVERY_COLUMNS = `id, response_id, endpoint_id, url, payload, status, attempts, created_at, last_attempt_at,
       last_status_code, last_error, next_attempt_at`;

/** As src/webhooks/resources.ts `deliveryResource` shows a delivery to the operator (its URL too). */
export const deliveryObject = (row: Row) => ({
  id: row.id,
  object: "webhook_delivery",
  response_id: row.response_id,
  endpoint_id: row.endpoint_id ?? null,
  url: row.url,
  event: JSON.parse(String(row.payload)) as unknown,
  status: row.status,
  attempt_count: row.attempts,
  created_at: row.created_at,
  last_attempt_at: row.last_attempt_at ?? null,
  last_status_code: row.last_status_code ?? null,
  last_error: row.last_error ?? null,
  next_attempt_at: row.next_attempt_at ?? null,
});

/** A tenant's deliveries, newest first (src/db/webhooks.ts `pageDeliveries`). */
export const listDeliveries = (ref: string, filters: DeliveryFilters): Query<List<Row>> => {
  const tenant = tenantId(ref, true);
  const where = [`tenant_id = ${tenant}`];
  if (filters.status !== undefined) where.push(`status = ${literal(filters.status)}`);
  const anchor = filters.after === null ? null : literal(filters.after);
  if (anchor !== null)
    where.push(
      `(created_at, id) < (SELECT created_at, id FROM webhook_deliveries WHERE id = ${anchor} AND tenant_id = ${tenant})`,
    );
  return {
    statements: [
      candidates(ref, true),
      shardOf(ref, true),
      anchor === null
        ? "SELECT 1"
        : `SELECT count(*) AS n FROM webhook_deliveries WHERE id = ${anchor} AND tenant_id = ${tenant}`,
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE ${where.join(" AND ")}
        ORDER BY created_at DESC, id DESC LIMIT ${filters.limit + 1}`,
    ],
    read: ([tenants, shard, anchors, rows = []]) => {
      theTenant(ref, tenants);
      checkShard(ref, shard);
      if (anchor !== null && anchors?.[0]?.n === 0)
        throw new CliError(`No webhook delivery with id '${filters.after ?? ""}' for this tenant (--after).`);
      return listOf(rows.slice(0, filters.limit).map(deliveryObject), rows.length > filters.limit);
    },
  };
};

/** Across tenants the D1 targets read DB alone: refused when any tenant lives on another shard. */
const OTHER_SHARD = "SELECT shard FROM tenant_shards WHERE shard <> 'DB' LIMIT 1";

function onlyDb(shard: Row[] | undefined): void {
  if (typeof shard?.[0]?.shard === "string")
    throw new CliError(
      `Some tenants live on shard ${shard[0].shard}; across tenants the D1 targets read DB alone: use --url (docs/sharding.md).`,
    );
}

/** Every tenant's deliveries of one status in DB, newest first (GET /admin/webhook_deliveries). */
export const listAllDeliveries = (filters: DeliveryFilters & { status: string }): Query<List<Row>> => {
  const where = [`status = ${literal(filters.status)}`];
  const anchor = filters.after === null ? null : literal(filters.after);
  if (anchor !== null)
    where.push(`(created_at, id) < (SELECT created_at, id FROM webhook_deliveries WHERE id = ${anchor})`);
  return {
    statements: [
      OTHER_SHARD,
      anchor === null ? "SELECT 1" : `SELECT count(*) AS n FROM webhook_deliveries WHERE id = ${anchor}`,
      `SELECT tenant_id, ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE ${where.join(" AND ")}
        ORDER BY created_at DESC, id DESC LIMIT ${filters.limit + 1}`,
    ],
    read: ([shard, anchors, rows = []]) => {
      onlyDb(shard);
      if (anchor !== null && anchors?.[0]?.n === 0)
        throw new CliError(`No webhook delivery with id '${filters.after ?? ""}' (--after).`);
      const data = rows.slice(0, filters.limit).map((row) => ({ ...deliveryObject(row), tenant_id: row.tenant_id }));
      return listOf(data, rows.length > filters.limit);
    },
  };
};

// ---- usage ----

export const USAGE_DIMENSIONS = ["day", "model", "key", "tenant"] as const;
export type UsageDimension = (typeof USAGE_DIMENSIONS)[number];
const USAGE_COLUMNS: Record<UsageDimension, string> = {
  day: "day",
  model: "model",
  key: "api_key_id",
  tenant: "tenant_id",
};

export interface UsageQuery {
  tenant: string | null;
  startDay: string;
  endDay: string;
  groupBy: UsageDimension[];
}

/** The id floor of a time, as src/responses/ids.ts `idFloorAt` builds it (ids carry their creation time). */
const responseIdFloor = (ms: number): string => `resp_${Math.floor(ms).toString(16).padStart(12, "0").slice(-12)}`;
const DAY_MS = 86_400_000;
/** Every tenant with responses (a skip-scan over the key), as src/db/tenant-scan.ts reads them. */
const TENANTS_WITH_RESPONSES = `WITH RECURSIVE t(tenant) AS (
    SELECT min(tenant_id) FROM responses
    UNION ALL
    SELECT (SELECT min(tenant_id) FROM responses WHERE tenant_id > t.tenant) FROM t WHERE t.tenant IS NOT NULL
  ) SELECT tenant FROM t WHERE tenant IS NOT NULL`;
/** Every tenant with usage rows (a skip-scan over usage_daily's key), as src/db/usage.ts reads them. */
const TENANTS_WITH_USAGE = `WITH RECURSIVE t(tenant) AS (
    SELECT min(tenant_id) FROM usage_daily
    UNION ALL
    SELECT (SELECT min(tenant_id) FROM usage_daily WHERE tenant_id > t.tenant) FROM t WHERE t.tenant IS NOT NULL
  ) SELECT tenant FROM t WHERE tenant IS NOT NULL`;
const rollupMark = (tenant: string) =>
  `coalesce((SELECT counted_before FROM usage_rollups WHERE tenant_id = ${tenant}), '')`;

/**
 * As `GET /admin/usage` answers (src/routes/usage.ts `usageList`, src/db/usage.ts `readUsage`): the
 * rolled-up rows and the ended responses past each tenant's roll-up mark.
 */
export const usage = (query: UsageQuery): Query<Row> => {
  const columns = query.groupBy.map((dimension) => USAGE_COLUMNS[dimension]);
  const chosen = query.tenant === null ? null : tenantId(query.tenant, true);
  // usage_daily is keyed by (tenant, day, ...): the days are one seek per tenant.
  const tenant = chosen === null ? `tenant_id IN (${TENANTS_WITH_USAGE})` : `tenant_id = ${chosen}`;
  const marks =
    chosen === null
      ? `SELECT t.tenant AS tenant_id, ${rollupMark("t.tenant")} AS mark FROM (${TENANTS_WITH_RESPONSES}) t`
      : `SELECT ${chosen} AS tenant_id, ${rollupMark(chosen)} AS mark`;
  const startId = literal(responseIdFloor(Date.parse(`${query.startDay}T00:00:00Z`)));
  const endId = literal(responseIdFloor(Date.parse(`${query.endDay}T00:00:00Z`) + DAY_MS));
  const days = `day >= ${literal(query.startDay)} AND day <= ${literal(query.endDay)}`;
  const grouped = columns.length === 0 ? "" : ` GROUP BY ${columns.join(", ")} ORDER BY ${columns.join(", ")}`;
  const select = [
    ...query.groupBy.map((dimension) => `${USAGE_COLUMNS[dimension]} AS ${dimension}`),
    "sum(responses) AS responses",
  ];
  return {
    statements: [
      query.tenant === null ? "SELECT 1" : candidates(query.tenant, true),
      query.tenant === null ? "SELECT 1" : shardOf(query.tenant, true),
      `SELECT ${select.join(", ")}, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens
         FROM (
           SELECT tenant_id, api_key_id, model, day, responses, input_tokens, output_tokens
             FROM usage_daily WHERE ${tenant} AND ${days}
           UNION ALL
           SELECT r.tenant_id, coalesce(r.api_key_id, ''), r.model, strftime('%Y-%m-%d', r.created_at, 'unixepoch'),
                  1, coalesce(r.input_tokens, 0), coalesce(r.output_tokens, 0)
             FROM (SELECT tenant_id, max(mark, ${startId}) AS floor FROM (${marks})) m CROSS JOIN responses r
            WHERE r.tenant_id = m.tenant_id AND r.id >= m.floor AND r.id < ${endId} AND r.usage_deferred = 1
              AND r.status IN ('completed', 'failed', 'incomplete', 'cancelled')
         )
        WHERE ${days}${grouped}`,
    ],
    read: ([tenants, shard, rows = []]) => {
      if (query.tenant !== null) {
        theTenant(query.tenant, tenants);
        checkShard(query.tenant, shard);
      }
      return {
        object: "list",
        start_date: query.startDay,
        end_date: query.endDay,
        group_by: query.groupBy,
        data: rows
          .filter((row) => row.responses !== null)
          .map((row) => {
            const fields: Row = { object: "usage" };
            for (const dimension of query.groupBy) {
              const value = String(row[dimension]);
              fields[USAGE_COLUMNS[dimension]] = dimension === "key" && value === "" ? null : value;
            }
            const [input, output] = [Number(row.input_tokens), Number(row.output_tokens)];
            return {
              ...fields,
              responses: Number(row.responses),
              input_tokens: input,
              output_tokens: output,
              total_tokens: input + output,
            };
          }),
      };
    },
  };
};

// ---- responses (as GET /admin/responses, whose list the --url target summarizes the same way) ----

/** The filters of `GET /v1/responses` (docs/listing.md). */
export interface ResponseFilters {
  limit: number;
  order: "asc" | "desc";
  after: string | null;
  model?: string;
  status?: string;
  previousResponseId?: string;
  conversation?: string;
  background?: boolean;
  createdAfter?: number;
  createdBefore?: number;
  metadata: [string, string][];
}

/** One line of a list: the indexed columns, never the snapshot (which can be megabytes). */
export const responseSummary = (row: Row, error: unknown = null) => ({
  id: row.id,
  object: "response",
  tenant_id: row.tenant_id,
  created_at: row.created_at,
  status: row.status,
  model: row.model,
  background: Boolean(row.background),
  previous_response_id: row.previous_response_id ?? null,
  conversation: row.conversation_id === null || row.conversation_id === undefined ? null : { id: row.conversation_id },
  metadata: JSON.parse(typeof row.metadata === "string" ? row.metadata : "{}") as unknown,
  usage:
    row.input_tokens === null && row.output_tokens === null
      ? null
      : { input_tokens: row.input_tokens, output_tokens: row.output_tokens },
  error,
});

/** The same line from a Response object, as GET /admin/responses lists them. */
export const snapshotSummary = (response: Row) => {
  const usage = response.usage as Row | null | undefined;
  return {
    id: response.id,
    object: "response",
    tenant_id: response.tenant_id,
    created_at: response.created_at,
    status: response.status,
    model: response.model,
    background: Boolean(response.background),
    previous_response_id: response.previous_response_id ?? null,
    conversation: response.conversation ?? null,
    metadata: response.metadata ?? {},
    usage:
      usage === null || usage === undefined
        ? null
        : { input_tokens: usage.input_tokens ?? null, output_tokens: usage.output_tokens ?? null },
    error: response.error ?? null,
  };
};

/**
 * A page of stored responses: the tenant `ref` names, or with `ref` null every tenant's in `DB` (a
 * D1 target reaches no other shard, so it refuses when any tenant lives on one). A failed response's
 * `error` is in its compressed snapshot: read for those rows alone.
 */
export const listResponses = (ref: string | null, filters: ResponseFilters): Query<List<Row>> => {
  const owner = ref === null ? null : tenantId(ref, true);
  const where = owner === null ? [] : [`tenant_id = ${owner}`];
  if (filters.model !== undefined) where.push(`model = ${literal(filters.model)}`);
  if (filters.status !== undefined) where.push(`status = ${literal(filters.status)}`);
  if (filters.previousResponseId !== undefined)
    where.push(`previous_response_id = ${literal(filters.previousResponseId)}`);
  if (filters.conversation !== undefined) where.push(`conversation_id = ${literal(filters.conversation)}`);
  if (filters.background !== undefined) where.push(`background = ${filters.background ? 1 : 0}`);
  if (filters.createdAfter !== undefined) where.push(`created_at >= ${literal(filters.createdAfter)}`);
  if (filters.createdBefore !== undefined) where.push(`created_at < ${literal(filters.createdBefore)}`);
  for (const [key, value] of filters.metadata)
    where.push(
      `EXISTS (SELECT 1 FROM json_each(metadata) WHERE json_each.key = ${literal(key)} AND json_each.value = ${literal(value)})`,
    );
  const direction = filters.order === "asc" ? "ASC" : "DESC";
  const beyond = filters.order === "asc" ? ">" : "<";
  const anchor = filters.after === null ? null : literal(filters.after);
  const anchorOwned = `id = ${anchor ?? "NULL"}${owner === null ? "" : ` AND tenant_id = ${owner}`}`;
  if (anchor !== null)
    where.push(`(created_at, id) ${beyond} (SELECT created_at, id FROM responses WHERE ${anchorOwned})`);
  const page = `SELECT id, tenant_id, created_at, status, model, background, previous_response_id, conversation_id,
              metadata, input_tokens, output_tokens, snapshot
         FROM responses${where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`}
        ORDER BY created_at ${direction}, id ${direction} LIMIT ${filters.limit + 1}`;
  return {
    statements: [
      ref === null ? "SELECT 1" : candidates(ref, true),
      ref === null ? OTHER_SHARD : shardOf(ref, true),
      anchor === null ? "SELECT 1" : `SELECT count(*) AS n FROM responses WHERE ${anchorOwned}`,
      `SELECT id, tenant_id, created_at, status, model, background, previous_response_id, conversation_id, metadata,
              input_tokens, output_tokens, iif(status = 'failed', ${hexOrText("snapshot")}, NULL) AS snapshot
         FROM (${page})`,
      // A failed response's snapshot split into parts (src/db/large-values.ts).
      `SELECT owner_id, name, part, ${hexOrText("data")} AS data FROM blobs
        WHERE name = 'snapshot' AND owner_id IN (SELECT id FROM (${page}) WHERE status = 'failed' AND snapshot IS NULL)
        ORDER BY owner_id, part`,
    ],
    read: async ([tenants, shard, anchors, rows = [], parts = []]) => {
      if (ref === null) onlyDb(shard);
      else {
        theTenant(ref, tenants);
        checkShard(ref, shard);
      }
      if (anchor !== null && anchors?.[0]?.n === 0)
        throw new CliError(
          `No response with id '${filters.after ?? ""}'${ref === null ? "" : " for this tenant"} (--after).`,
        );
      const data = [];
      for (const row of rows.slice(0, filters.limit)) {
        let error: unknown = null;
        if (row.status === "failed") {
          const own = parts.filter((part) => part.owner_id === row.id);
          error = (JSON.parse(await storedText(row, "snapshot", own)) as Row).error ?? null;
        }
        data.push(responseSummary(row, error));
      }
      return listOf(data, rows.length > filters.limit);
    },
  };
};

const TERMINAL_STATUSES = new Set(["completed", "failed", "incomplete", "cancelled"]);

/** Starts a BLOB read as hex, as src/db/codec.ts `readBlobSql` reads one: JSON text never holds a raw U+0001. */
const HEX_MARK = "\u0001";

/**
 * A BLOB column as hex text after `HEX_MARK`, a TEXT one (written before compression) as it is. The
 * column is never read raw: `wrangler d1 execute --local --json` (4.164) prints a BLOB as the string
 * "[125, 82, …]", which a TEXT value could also be, and the remote API as an array of numbers.
 */
const hexOrText = (column: string) => `iif(typeof(${column}) = 'blob', char(1) || hex(${column}), ${column})`;

/** A value `hexOrText` read: bytes, or the TEXT of a value written before compression. */
function storedValue(value: unknown): Uint8Array<ArrayBuffer> | string {
  if (typeof value !== "string") throw new CliError("A stored value is in a form this CLI does not know.");
  if (!value.startsWith(HEX_MARK)) return value;
  const bytes = new Uint8Array((value.length - HEX_MARK.length) / 2);
  for (let at = 0; at < bytes.length; at++)
    bytes[at] = parseInt(value.slice(HEX_MARK.length + at * 2, HEX_MARK.length + at * 2 + 2), 16);
  return bytes;
}

/** As src/db/codec.ts `decompressText`: raw deflate, here with the platform's DecompressionStream (no node:zlib in every runtime the CLI loads in). */
async function inflate(value: Uint8Array<ArrayBuffer> | string): Promise<string> {
  if (typeof value === "string") return value;
  const stream = new Blob([value]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  return new Response(stream).text();
}

/** A stored value's text: its column, or its `blobs` parts when the column is null (src/db/large-values.ts). */
async function storedText(row: Row, name: string, parts: Row[]): Promise<string> {
  const inline = row[name];
  if (inline !== null && inline !== undefined) return inflate(storedValue(inline));
  const pieces = parts.filter((part) => part.name === name).map((part) => storedValue(part.data));
  // Values written before compression were split as text.
  if (pieces.every((piece) => typeof piece === "string")) return pieces.join("");
  const bytes = new Uint8Array(pieces.reduce((sum, piece) => sum + (piece as Uint8Array).byteLength, 0));
  let offset = 0;
  for (const piece of pieces) {
    bytes.set(piece as Uint8Array, offset);
    offset += (piece as Uint8Array).byteLength;
  }
  return inflate(bytes);
}

/**
 * The stored Response object, as src/db/responses.ts `readSnapshot` reads it: the (compressed)
 * snapshot, and for an ended response whose snapshot is kept without it, its output.
 */
export const showResponse = (id: string, ref: string | null): Query<Row> => ({
  statements: [
    ref === null ? "SELECT 1" : candidates(ref, true),
    ref === null ? "SELECT 1" : shardOf(ref, true),
    `SELECT tenant_id, status, ${hexOrText("snapshot")} AS snapshot, ${hexOrText("output")} AS output
       FROM responses WHERE id = ${literal(id)}${ref === null ? "" : ` AND tenant_id = ${tenantId(ref, true)}`}`,
    `SELECT name, part, ${hexOrText("data")} AS data FROM blobs WHERE owner_id = ${literal(id)} AND name IN ('snapshot', 'output')
      ORDER BY name, part`,
  ],
  read: async ([tenants, shard, rows, parts = []]) => {
    if (ref !== null) {
      theTenant(ref, tenants);
      checkShard(ref, shard);
    }
    const row = rows?.[0];
    if (row === undefined) throw new CliError(`No response with id '${id}'${ref === null ? "" : " for this tenant"}.`);
    const snapshot = JSON.parse(await storedText(row, "snapshot", parts)) as Row;
    if (snapshot.output === undefined)
      snapshot.output = TERMINAL_STATUSES.has(String(row.status))
        ? (JSON.parse(await storedText(row, "output", parts)) as unknown)
        : [];
    return { ...snapshot, tenant_id: row.tenant_id };
  },
});
