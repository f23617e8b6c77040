// The shard routing rule (src/db/shards.ts, docs/sharding.md): what `D1_SHARDS` accepts, where a new
// tenant goes, and that adding shards moves no tenant, through the real Worker with the setting changed.

import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { parseShardPlan, placeNewTenant, type ShardPlan } from "../../src/db/shards";
import { WebhookDispatcher } from "../../src/webhooks/dispatcher";
import type { OutboxDelivery, WebhookOutbox } from "../../src/webhooks/outbox";
import { model } from "../support/gateway";
import { captureLogLines } from "../support/log-lines";
import { managedClient, managedEnv, managedFetch, newTenantKey } from "../support/managed";
import { d1 } from "../support/shards";

const plan = (text: string): ShardPlan => {
  const parsed = parseShardPlan(text);
  if (typeof parsed === "string") throw new Error(parsed);
  return parsed;
};

/** Where each of `count` made-up tenants would go. */
async function spread(shards: ShardPlan, count: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const shard = await placeNewTenant(shards, `t_spread_${i}`);
    counts[shard] = (counts[shard] ?? 0) + 1;
  }
  return counts;
}

const responseShard = async (id: string): Promise<string[]> => {
  const found: string[] = [];
  for (const name of ["DB", "DB_2", "DB_3"])
    if ((await d1(name).prepare("SELECT 1 FROM responses WHERE id = ?").bind(id).first()) !== null) found.push(name);
  return found;
};

describe("D1_SHARDS", () => {
  it("reads a list of bindings, DB first, each with an optional weight", () => {
    expect(parseShardPlan("")).toEqual([{ name: "DB", weight: 1 }]);
    expect(parseShardPlan(" DB , DB_2:3, DB_3:0 ")).toEqual([
      { name: "DB", weight: 1 },
      { name: "DB_2", weight: 3 },
      { name: "DB_3", weight: 0 },
    ]);
    expect(parseShardPlan("DB_2,DB")).toMatch(/must start with DB/);
    expect(parseShardPlan("DB,DB")).toMatch(/DB is listed twice/);
    expect(parseShardPlan("DB,DB_2:5000")).toMatch(/weight of DB_2 is above 1000/);
    expect(parseShardPlan("DB:0")).toMatch(/nowhere to go/);
    expect(parseShardPlan("DB,shard-2")).toMatch(/'shard-2' is not a binding name/);
  });

  it("fails fast on a wrong setting, naming it and nothing internal", async () => {
    const { key } = await newTenantKey("wrong shards");
    const list = (setting: string) =>
      managedFetch(
        "http://gateway.test/v1/responses?limit=1",
        { headers: { authorization: `Bearer ${key}` } },
        { D1_SHARDS: setting },
      );
    // A list that cannot be read: the settings check (src/config.ts) names it and what is allowed.
    const unreadable = await list("DB_2,DB");
    expect(unreadable.status).toBe(500);
    expect(await unreadable.json()).toMatchObject({
      error: {
        type: "server_error",
        code: "gateway_misconfigured",
        message: expect.stringMatching(/D1_SHARDS is 'DB_2,DB'.*must start with DB/) as unknown,
      },
    });
    // A name that is not bound to a D1 database: found where the bindings are read.
    const unbound = await list("DB,DB_9");
    expect(unbound.status).toBe(500);
    expect(unbound.headers.get("x-should-retry")).toBe("false");
    expect(await unbound.json()).toEqual({
      error: {
        message:
          "The gateway is misconfigured: D1_SHARDS names 'DB_9', which is not bound to a D1 database; allowed: the bindings of [[d1_databases]] in wrangler.toml. Its operator must correct this.",
        type: "server_error",
        param: null,
        code: "d1_shards_invalid",
      },
    });
  });
});

describe("a wrong D1_SHARDS in the logs", () => {
  it("is one config_problem line per isolate, and the webhook dispatcher's retry of it no d1_retry", async () => {
    const { key, tenantId } = await newTenantKey("wrong shards, logged once");
    // The tenant has written, so its deliveries are not dropped as an erased tenant's.
    await managedClient(key).responses.create({ model: model("text:1"), input: "x" });
    const setting = `DB,DB_X${crypto.randomUUID().slice(0, 8)}`;
    const logs = captureLogLines();
    try {
      for (let i = 0; i < 3; i++) {
        const refused = await managedFetch(
          "http://gateway.test/v1/responses?limit=1",
          { headers: { authorization: `Bearer ${key}` } },
          { D1_SHARDS: setting },
        );
        expect(refused.status).toBe(500);
      }
      const delivery = { id: "wd_1", tenantId, endpointId: "we_1", nextAttemptAt: 0 } as OutboxDelivery;
      const put = vi.fn();
      const outbox = { due: () => [delivery], put } as unknown as WebhookOutbox;
      await new WebhookDispatcher(outbox, managedEnv({ D1_SHARDS: setting })).deliverDue();
      expect(put).toHaveBeenCalledOnce();
      const problems = logs.matching({ event: "config_problem", setting: "D1_SHARDS" });
      expect(problems.filter((line) => line.msg.includes(setting.slice(3)))).toHaveLength(1);
      expect(logs.all().filter((line) => line.event.startsWith("d1_"))).toEqual([]);
    } finally {
      logs.stop();
    }
  });
});

describe("the rule for new tenants", () => {
  it("places a tenant by its id alone, the same way every time", async () => {
    const three = plan("DB,DB_2,DB_3");
    const first = await placeNewTenant(three, "t_same");
    for (let i = 0; i < 5; i++) expect(await placeNewTenant(three, "t_same")).toBe(first);
  });

  it("spreads new tenants in proportion to the weights, and none to a shard of weight 0", async () => {
    const even = await spread(plan("DB,DB_2,DB_3"), 3000);
    for (const name of ["DB", "DB_2", "DB_3"]) expect(even[name]).toBeGreaterThan(900);
    const weighted = await spread(plan("DB:0,DB_2:1,DB_3:3"), 4000);
    expect(weighted.DB).toBeUndefined();
    expect(weighted.DB_2! / 4000).toBeCloseTo(0.25, 1);
    expect(weighted.DB_3! / 4000).toBeCloseTo(0.75, 1);
  });

  it("moves no tenant when shards are added: history and new writes stay on the tenant's shard", async () => {
    const old = await newTenantKey("before sharding");
    const m = model("text:2");
    const before = await managedClient(old.key, { D1_SHARDS: "DB" }).responses.create({ model: m, input: "one" });
    expect(await responseShard(before.id)).toEqual(["DB"]);

    // DB is full: it takes no new tenant, DB_2 and DB_3 take them all.
    const grown = { D1_SHARDS: "DB:0,DB_2,DB_3" };
    const oldClient = managedClient(old.key, grown);
    expect((await oldClient.responses.retrieve(before.id)).output_text).toBe("w0 w1 ");
    const after = await oldClient.responses.create({ model: m, input: "two", previous_response_id: before.id });
    expect(await responseShard(after.id)).toEqual(["DB"]);

    const newcomers = await Promise.all([1, 2, 3, 4].map((i) => newTenantKey(`after sharding ${i}`)));
    for (const tenant of newcomers) {
      const created = await managedClient(tenant.key, grown).responses.create({ model: m, input: "hi" });
      const [shard] = await responseShard(created.id);
      expect(["DB_2", "DB_3"]).toContain(shard);
      const recorded = await env.DB.prepare("SELECT shard FROM tenant_shards WHERE tenant_id = ?")
        .bind(tenant.tenantId)
        .first<{ shard: string }>();
      expect(recorded).toEqual({ shard });
    }
  });

  it("records nothing for a tenant that only reads", async () => {
    const reader = await newTenantKey("reader only");
    const list = await managedFetch(
      "http://gateway.test/v1/responses",
      { headers: { authorization: `Bearer ${reader.key}` } },
      { D1_SHARDS: "DB,DB_2,DB_3" },
    );
    expect(await list.json()).toMatchObject({ object: "list", data: [] });
    const recorded = await env.DB.prepare("SELECT count(*) AS n FROM tenant_shards WHERE tenant_id = ?")
      .bind(reader.tenantId)
      .first<{ n: number }>();
    expect(recorded).toEqual({ n: 0 });
  });
});
