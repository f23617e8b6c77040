// The admin CLI against D1: the statements of scripts/admin/queries.ts run by an executor (wrangler
// for the CLI, scripts/admin/wrangler.ts; the test database in test/e2e/admin-cli.test.ts), keys
// minted and hashed exactly as the Worker does.

import { newId } from "../../src/responses/ids.ts";
import { hashGatewayKey, newGatewayKey, shownPrefix } from "../../src/tenancy/gateway-keys.ts";
import { newWebhookSecret } from "../../src/webhooks/sign.ts";
import * as q from "./queries.ts";
import type { Admin } from "./targets.ts";

/** Runs statements in order; one list of rows per statement. */
export type Execute = (statements: string[]) => Promise<q.Row[][]>;

const now = () => Math.floor(Date.now() / 1000);

/**
 * Erasure and moves are the Worker's: they check running responses, hold the tenant's writes and
 * span every shard, which statements run through wrangler cannot do safely.
 */
const apiOnly = (command: string, what: string) => (): Promise<never> =>
  Promise.reject(
    new q.CliError(
      `'${command}' ${what}, which only the gateway itself can do: run it against the admin API with --url URL (and $ADMIN_TOKEN).`,
    ),
  );

export function d1Admin(execute: Execute): Admin {
  const answer = async <T>(query: q.Query<T>): Promise<T> => query.read(await execute(query.statements));
  return {
    createTenant: (name) => answer(q.createTenant({ id: newId("tenant"), name, created_at: now() })),
    listTenants: () => answer(q.listTenants()),
    showTenant: (ref) => answer(q.showTenant(ref)),
    deleteTenant: apiOnly("tenant delete", "revokes the keys and deletes the history on every shard"),
    moveTenant: apiOnly("tenant move", "holds the tenant's writes while it copies its history between shards"),
    async createKey(ref, name) {
      const key = newGatewayKey();
      return answer(
        q.createKey(ref, {
          id: newId("key"),
          name,
          key,
          hash: await hashGatewayKey(key),
          prefix: shownPrefix(key),
          created_at: now(),
        }),
      );
    },
    listKeys: (ref) => answer(q.listKeys(ref)),
    revokeKey: (id) => answer(q.revokeKey(id, now())),
    addWebhook: (ref, input) =>
      answer(
        q.addWebhook(ref, {
          id: newId("whe"),
          url: input.url,
          name: input.name ?? "",
          event_types: input.event_types,
          secret: input.secret ?? newWebhookSecret(),
          created_at: now(),
        }),
      ),
    listWebhooks: (ref) => answer(q.listWebhooks(ref)),
    removeWebhook: (ref, id) => answer(q.removeWebhook(ref, id)),
    listDeliveries: (ref, filters) => answer(q.listDeliveries(ref, filters)),
    listAllDeliveries: (filters) => answer(q.listAllDeliveries(filters)),
    listShards: apiOnly("status", "reads every shard's migrations and the gateway's own"),
    showConfiguration: apiOnly("config", "reads the settings the deployed gateway runs on"),
    usage: (query) => answer(q.usage(query)),
    listResponses: (ref, filters) => answer(q.listResponses(ref, filters)),
    showResponse: (id, ref) => answer(q.showResponse(id, ref)),
  };
}
