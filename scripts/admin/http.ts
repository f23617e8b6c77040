// The admin CLI against a deployed gateway's admin API (`--url`), with the token in $ADMIN_TOKEN:
// the same commands and answers as against D1, tenants found by id or by name.

import {
  CliError,
  isPassthroughTenant,
  listOf,
  snapshotSummary,
  type List,
  type ResponseFilters,
  type Row,
} from "./queries.ts";
import type { Admin } from "./targets.ts";

/** The admin API's largest page. */
const PAGE = 100;
/** DELETE calls an erasure makes before giving up (each deletes up to about 100,000 rows). */
const MAX_ERASE_CALLS = 1000;
/** Calls `tenant move` makes at most: some 30 million rows copied. */
const MAX_MOVE_CALLS = 5000;

/** `send` is the global fetch (a test hands in the Worker's own). */
export function httpAdmin(baseUrl: string, token: string | undefined, send: typeof fetch): Admin {
  if (token === undefined || token === "")
    throw new CliError("Set ADMIN_TOKEN to the gateway's admin token: ADMIN_TOKEN=... npm run admin -- ... --url URL");
  const origin = baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "");

  async function call(method: string, path: string, body?: unknown): Promise<Row> {
    let response: Response;
    try {
      response = await send(`${origin}/admin${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new CliError(`Could not reach ${origin}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const text = await response.text();
    let payload: Row;
    try {
      payload = JSON.parse(text) as Row;
    } catch {
      throw new CliError(
        `${origin} answered HTTP ${response.status} with something other than JSON: ${text.slice(0, 200)}`,
      );
    }
    if (!response.ok) {
      const error = payload.error as Row | undefined;
      const message = typeof error?.message === "string" ? error.message : text;
      // Without its ADMIN_TOKEN secret a gateway answers every admin path as an unknown URL.
      const hint = message.startsWith("Invalid URL") ? " (is the gateway's ADMIN_TOKEN secret set?)" : "";
      throw new CliError(`HTTP ${response.status}: ${message}${hint}`);
    }
    return payload;
  }

  async function allTenants(): Promise<Row[]> {
    const tenants: Row[] = [];
    for (let after: string | null = null; ;) {
      const page = (await call(
        "GET",
        `/tenants?limit=${PAGE}${after === null ? "" : `&after=${encodeURIComponent(after)}`}`,
      )) as unknown as List<Row>;
      tenants.push(...page.data);
      if (!page.has_more) return tenants;
      after = typeof page.last_id === "string" ? page.last_id : null;
      if (after === null) return tenants;
    }
  }

  /** As the D1 target: the tenant with that id, else the one with that name. */
  function pick(all: Row[], ref: string): Row {
    const byId = all.find((tenant) => tenant.id === ref);
    if (byId !== undefined) return byId;
    const named = all.filter((tenant) => tenant.name === ref);
    if (named.length === 0) throw new CliError(`No tenant with id or name '${ref}'.`);
    if (named.length > 1)
      throw new CliError(
        `${named.length} tenants are named '${ref}': ${named.map((t) => String(t.id)).join(", ")}. Use an id.`,
      );
    return named[0] as Row;
  }

  const tenantOf = async (ref: string) => pick(await allTenants(), ref);
  const tenantPath = async (ref: string) => `/tenants/${encodeURIComponent(String((await tenantOf(ref)).id))}`;

  /** As the D1 target reads usage and responses: a tenant by id or name, else a pass-through tenant's id (no tenant row). */
  async function ownerOf(ref: string): Promise<string> {
    const all = await allTenants();
    if (isPassthroughTenant(ref) && !all.some((tenant) => tenant.id === ref || tenant.name === ref)) return ref;
    return String(pick(all, ref).id);
  }

  /**
   * As ownerOf, for a command that cannot be taken back (erase, move): a ref that is one tenant's id
   * (a managed id, or a pass-through `t_…` id) and another's name is refused, not read as the id.
   */
  async function onlyOwnerOf(ref: string): Promise<string> {
    const all = await allTenants();
    const named = all.filter((tenant) => tenant.name === ref && tenant.id !== ref).map((tenant) => String(tenant.id));
    const isId = isPassthroughTenant(ref) || all.some((tenant) => tenant.id === ref);
    if (isId && named.length > 0)
      throw new CliError(
        `'${ref}' is a tenant's id and the name of ${named.join(", ")}: give the id of the tenant you mean${isPassthroughTenant(ref) ? ` (for the pass-through tenant '${ref}', call the admin API itself: /admin/tenants/${ref})` : ""}.`,
      );
    return ownerOf(ref);
  }

  function responseQuery(tenantId: string | null, filters: ResponseFilters): string {
    const params = new URLSearchParams({ limit: String(filters.limit), order: filters.order });
    if (tenantId !== null) params.set("tenant_id", tenantId);
    if (filters.after !== null) params.set("after", filters.after);
    if (filters.model !== undefined) params.set("model", filters.model);
    if (filters.status !== undefined) params.set("status", filters.status);
    if (filters.previousResponseId !== undefined) params.set("previous_response_id", filters.previousResponseId);
    if (filters.conversation !== undefined) params.set("conversation", filters.conversation);
    if (filters.background !== undefined) params.set("background", String(filters.background));
    if (filters.createdAfter !== undefined) params.set("created_after", String(filters.createdAfter));
    if (filters.createdBefore !== undefined) params.set("created_before", String(filters.createdBefore));
    for (const [key, value] of filters.metadata) params.append(`metadata[${key}]`, value);
    return params.toString();
  }

  return {
    createTenant: (name) => call("POST", "/tenants", { name }),
    listTenants: async () => listOf(await allTenants()),
    showTenant: tenantOf,
    async deleteTenant(ref) {
      const path = `/tenants/${encodeURIComponent(await onlyOwnerOf(ref))}`;
      // A large history takes several calls (`deleted: false`): the CLI makes them, adding up the rows.
      const rows: Record<string, number> = {};
      for (let made = 0; made < MAX_ERASE_CALLS; made++) {
        const answer = await call("DELETE", path);
        for (const [table, count] of Object.entries((answer.rows ?? {}) as Record<string, number>))
          rows[table] = (rows[table] ?? 0) + count;
        if (answer.deleted === true) return { ...answer, rows };
      }
      throw new CliError(
        `The tenant's history is not all deleted after ${MAX_ERASE_CALLS} calls: run the command again.`,
      );
    },
    async moveTenant(ref, shard, drainSeconds) {
      const path = `/tenants/${encodeURIComponent(await onlyOwnerOf(ref))}/move`;
      // A big tenant's move takes several calls (`done: false`), each going on where the last stopped:
      // the CLI makes them (the drain is the first call's), keeping the first `from`, adding up the rows.
      const rows: Record<string, number> = {};
      let from: unknown;
      for (let made = 0; made < MAX_MOVE_CALLS; made++) {
        const answer = await call("POST", path, {
          shard,
          ...(drainSeconds === undefined ? {} : { drain_seconds: drainSeconds }),
        });
        from ??= answer.from;
        for (const [table, count] of Object.entries((answer.rows ?? {}) as Record<string, number>))
          rows[table] = (rows[table] ?? 0) + count;
        if (answer.done !== false) return { ...answer, from, rows };
      }
      throw new CliError(`The tenant's move is not done after ${MAX_MOVE_CALLS} calls: run the command again.`);
    },
    createKey: async (ref, name) => call("POST", `${await tenantPath(ref)}/keys`, { name }),
    listKeys: async (ref) => (await call("GET", `${await tenantPath(ref)}/keys`)) as unknown as List<Row>,
    revokeKey: (id) => call("POST", `/keys/${encodeURIComponent(id)}/revoke`),
    addWebhook: async (ref, input) => call("POST", `${await tenantPath(ref)}/webhook_endpoints`, input),
    listWebhooks: async (ref) =>
      (await call("GET", `${await tenantPath(ref)}/webhook_endpoints`)) as unknown as List<Row>,
    removeWebhook: async (ref, id) =>
      call("DELETE", `${await tenantPath(ref)}/webhook_endpoints/${encodeURIComponent(id)}`),
    async listDeliveries(ref, filters) {
      const params = new URLSearchParams({ limit: String(filters.limit) });
      if (filters.status !== undefined) params.set("status", filters.status);
      if (filters.after !== null) params.set("after", filters.after);
      const path = `/tenants/${encodeURIComponent(await ownerOf(ref))}/webhook_deliveries?${params.toString()}`;
      return (await call("GET", path)) as unknown as List<Row>;
    },
    async listAllDeliveries(filters) {
      const params = new URLSearchParams({ status: filters.status, limit: String(filters.limit) });
      if (filters.after !== null) params.set("after", filters.after);
      return (await call("GET", `/webhook_deliveries?${params.toString()}`)) as unknown as List<Row>;
    },
    listShards: async () => (await call("GET", "/shards")) as unknown as List<Row>,
    showConfiguration: () => call("GET", "/configuration"),
    async usage(query) {
      const params = new URLSearchParams({
        start_date: query.startDay,
        end_date: query.endDay,
        group_by: query.groupBy.join(","),
      });
      if (query.tenant !== null) params.set("tenant_id", await ownerOf(query.tenant));
      return call("GET", `/usage?${params.toString()}`);
    },
    async listResponses(ref, filters) {
      const page = (await call(
        "GET",
        `/responses?${responseQuery(ref === null ? null : await ownerOf(ref), filters)}`,
      )) as unknown as List<Row>;
      return listOf(page.data.map(snapshotSummary), page.has_more);
    },
    async showResponse(id, ref) {
      const owner = ref === null ? null : await ownerOf(ref);
      const response = await call("GET", `/responses/${encodeURIComponent(id)}`);
      if (owner !== null && response.tenant_id !== owner)
        throw new CliError(`No response with id '${id}' for this tenant.`);
      return response;
    },
  };
}
