// Reads that a replica may serve (retrieve, input_items, replay, list, usage) go through D1's Sessions
// API so that a client always reads its own writes: against a replica that lags until a session's
// bookmark makes it catch up (test/support/lagging-replica.ts), a read right after a write never shows
// the older state, and the replica does serve reads.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { GATEWAY_URL, model, readEvents } from "../support/gateway";
import { managedClient, managedFetch, newTenantKey } from "../support/managed";
import { LaggingReplica } from "../support/lagging-replica";

const bindings = env as unknown as { DB: D1Database; DB_REPLICA: D1Database };

/** The keys-mode Worker on one shard whose replica lags. */
function lagging(): { replica: LaggingReplica; overrides: Record<string, unknown> } {
  const replica = new LaggingReplica(bindings.DB, bindings.DB_REPLICA);
  return { replica, overrides: { DB: replica.binding(), D1_SHARDS: "DB" } };
}

const get = async (key: string, path: string, overrides: Record<string, unknown>) =>
  managedFetch(`${GATEWAY_URL}${path}`, { headers: { authorization: `Bearer ${key}` } }, overrides);

describe("read replicas", () => {
  it("retrieves, lists input items and replays a response right after its create, though the replica lags", async () => {
    const { key } = await newTenantKey("replica retrieve");
    const { replica, overrides } = lagging();
    await replica.catchUp();
    const gateway = managedClient(key, overrides);
    const created = await gateway.responses.create({ model: model("text:3"), input: "fresh" });

    // The replica does not have it yet: a read that took the replica as it is would answer 404.
    expect(await replica.staleRead("SELECT id FROM responses WHERE id = ?", created.id)).toBeNull();

    const read = await gateway.responses.retrieve(created.id);
    expect(read).toMatchObject({ id: created.id, status: "completed", output_text: "w0 w1 w2 " });
    const items = await gateway.responses.inputItems.list(created.id);
    expect(items.data).toEqual([expect.objectContaining({ type: "message", role: "user" })]);
    const replay = await get(key, `/responses/${created.id}?stream=true`, overrides);
    const events = await readEvents(replay.body);
    expect(events.at(-1)).toMatchObject({ type: "response.completed" });
    // The reads after each session's first query were the replica's (caught up to the bookmark).
    expect(replica.replicaReads).toBeGreaterThan(0);
  });

  it("lists without a response right after its delete, and counts usage right after a create", async () => {
    const { key } = await newTenantKey("replica list");
    const { replica, overrides } = lagging();
    const gateway = managedClient(key, overrides);
    const m = model("text:1");
    const kept = await gateway.responses.create({ model: m, input: "keep" });
    const gone = await gateway.responses.create({ model: m, input: "delete me" });
    await replica.catchUp();
    await gateway.responses.delete(gone.id);
    expect(await replica.staleRead("SELECT id FROM responses WHERE id = ?", gone.id)).not.toBeNull();

    const list = await get(key, "/responses", overrides);
    expect((await list.json<{ data: { id: string }[] }>()).data.map((r) => r.id)).toEqual([kept.id]);
    await expect(gateway.responses.retrieve(gone.id)).rejects.toMatchObject({ status: 404 });

    await replica.catchUp();
    await gateway.responses.create({ model: m, input: "one more" });
    const usage = await get(key, "/usage", overrides);
    const rows = (await usage.json<{ data: { responses: number }[] }>()).data;
    expect(rows.reduce((sum, row) => sum + row.responses, 0)).toBe(3);
  });
});
