// The admin CLI against a deployed gateway's admin API (`--url`), with the token in $ADMIN_TOKEN:
// the same commands and answers as against D1, tenants found by id or by name.

import { CliError, listOf, type List, type Row } from "./queries.ts";
import type { Admin } from "./targets.ts";

/** The admin API's largest page. */
const PAGE = 100;

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
  async function tenantOf(ref: string): Promise<Row> {
    const all = await allTenants();
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

  const tenantPath = async (ref: string) => `/tenants/${encodeURIComponent(String((await tenantOf(ref)).id))}`;
  const d1Only = (): Promise<never> =>
    Promise.reject(
      new CliError(
        "responses list|show read D1 directly (the admin API has no responses route): use --local or --remote.",
      ),
    );

  return {
    createTenant: (name) => call("POST", "/tenants", { name }),
    listTenants: async () => listOf(await allTenants()),
    showTenant: tenantOf,
    createKey: async (ref, name) => call("POST", `${await tenantPath(ref)}/keys`, { name }),
    listKeys: async (ref) => (await call("GET", `${await tenantPath(ref)}/keys`)) as unknown as List<Row>,
    revokeKey: (id) => call("POST", `/keys/${encodeURIComponent(id)}/revoke`),
    addWebhook: async (ref, input) => call("POST", `${await tenantPath(ref)}/webhook_endpoints`, input),
    listWebhooks: async (ref) =>
      (await call("GET", `${await tenantPath(ref)}/webhook_endpoints`)) as unknown as List<Row>,
    removeWebhook: async (ref, id) =>
      call("DELETE", `${await tenantPath(ref)}/webhook_endpoints/${encodeURIComponent(id)}`),
    async usage(query) {
      const params = new URLSearchParams({
        start_date: query.startDay,
        end_date: query.endDay,
        group_by: query.groupBy.join(","),
      });
      if (query.tenant !== null) params.set("tenant_id", String((await tenantOf(query.tenant)).id));
      return call("GET", `/usage?${params.toString()}`);
    },
    listResponses: d1Only,
    showResponse: d1Only,
  };
}
