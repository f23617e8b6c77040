// MAX_BACKGROUND_RUNS_PER_TENANT: a tenant with that many background runs going is refused another
// (429, nothing written, no upstream call) until one ends, however it ends; other tenants and
// foreground creates are not counted; a retry with the Idempotency-Key of a run it made is answered.

import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { readConfig } from "../../src/config";
import { liveBackgroundRunsQuery } from "../../src/db/responses";
import { tenantDb } from "../../src/db/shards";
import { newId } from "../../src/responses/ids";
import { GATEWAY_URL, model, upstream, words } from "../support/gateway";
import { until } from "../support/hooks";
import { managedClient, managedEnv, managedFetch, newTenantKey } from "../support/managed";
import { countAll, tenantD1 } from "../support/shards";

const CAP = { MAX_BACKGROUND_RUNS_PER_TENANT: "2" };
/** Models whose gate a test left shut: opened after it, so no run stays held. */
const held: string[] = [];
afterEach(async () => {
  for (const m of held.splice(0)) await upstream.release(m);
});

const gated = (): string => {
  const m = model("gate:1:3");
  held.push(m);
  return m;
};

/** A background create as raw HTTP, for the refusal's status, headers and envelope. */
async function createRaw(key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await managedFetch(
    `${GATEWAY_URL}/responses`,
    {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
      body: JSON.stringify({ input: "x", background: true, ...body }),
    },
    CAP,
  );
  return { status: res.status, headers: res.headers, body: await res.json<Record<string, unknown>>() };
}

/** Fills the tenant's two places with held runs. */
async function fill(openai: OpenAI): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < 2; i++)
    ids.push((await openai.responses.create({ model: gated(), input: "x", background: true })).id);
  return ids;
}

describe("MAX_BACKGROUND_RUNS_PER_TENANT", () => {
  it("refuses a background create over the cap with a 429 before anything is written or sent upstream", async () => {
    const tenant = await newTenantKey("capped");
    const openai = managedClient(tenant.key, CAP);
    await fill(openai);
    const refusedModel = model("text:3");
    const refused = await createRaw(tenant.key, { model: refusedModel });
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({
      error: {
        message:
          "This account has 2 background responses running, the most MAX_BACKGROUND_RUNS_PER_TENANT allows. Wait for one to end (or cancel one) and try again.",
        type: "rate_limit_error",
        param: null,
        code: "background_runs_limit_exceeded",
      },
    });
    expect(refused.headers.get("retry-after")).toBe("10");
    // The SDK sees OpenAI's rate-limit error (which it would retry after `retry-after`).
    await expect(openai.responses.create({ model: refusedModel, input: "x", background: true })).rejects.toBeInstanceOf(
      OpenAI.RateLimitError,
    );
    expect(await upstream.requests(refusedModel)).toEqual([]);
    expect(await countAll("SELECT count(*) AS n FROM responses WHERE model = ?", refusedModel)).toBe(0);
    // Foreground and store:false creates are not background runs; another tenant has its own count.
    const foreground = await openai.responses.create({ model: model("text:2"), input: "x" });
    expect(foreground.output_text).toBe(words(2));
    const stateless = await openai.responses.create({ model: model("text:2"), input: "x", store: false });
    expect(stateless.status).toBe("completed");
    const other = managedClient((await newTenantKey("neighbour")).key, CAP);
    expect((await other.responses.create({ model: gated(), input: "x", background: true })).status).toBe("queued");
  });

  it("lets no more than the cap through when creates race it, and keeps nothing of those refused", async () => {
    const tenant = await newTenantKey("capped");
    // Each counts the tenant's runs before any of the others has written its row: all see room.
    const models = Array.from({ length: 6 }, () => gated());
    const results = await Promise.all(models.map((m) => createRaw(tenant.key, { model: m })));
    const started = results.filter((result) => result.status === 200);
    expect(started.length).toBeLessThanOrEqual(2);
    for (const result of results.filter((each) => each.status !== 200)) {
      expect(result.status).toBe(429);
      expect((result.body.error as { code: string }).code).toBe("background_runs_limit_exceeded");
    }
    const refusedModels = models.filter((_, i) => results[i]?.status !== 200);
    for (const m of refusedModels) expect(await upstream.requests(m)).toEqual([]);
    expect(await countAll("SELECT count(*) AS n FROM responses WHERE tenant_id = ?", tenant.tenantId)).toBe(
      started.length,
    );
  });

  it("counts a run no more once it ended: cancelled, completed or failed", async () => {
    const tenant = await newTenantKey("capped");
    const openai = managedClient(tenant.key, CAP);
    const [first] = await fill(openai);
    expect((await createRaw(tenant.key, { model: gated() })).status).toBe(429);
    await openai.responses.cancel(first!);
    const afterCancel = await openai.responses.create({ model: model("text:2"), input: "x", background: true });
    await until(
      () => openai.responses.retrieve(afterCancel.id),
      (response) => response.status === "completed",
      "the run's end",
    );
    const failing = await openai.responses.create({ model: model("status:400"), input: "x", background: true });
    await until(
      () => openai.responses.retrieve(failing.id),
      (response) => response.status === "failed",
      "the run's failure",
    );
    expect((await createRaw(tenant.key, { model: gated() })).status).toBe(200);
  });

  it("counts a run whose object was lost only until its heartbeat has been silent as long as the sweep waits", async () => {
    const tenant = await newTenantKey("capped");
    const openai = managedClient(tenant.key, CAP);
    await openai.responses.create({ model: gated(), input: "x", background: true });
    // A row that says it runs, as a run whose object died leaves it: no object heartbeats it.
    const d1 = await tenantD1(tenant.tenantId);
    const lost = newId("resp");
    const now = Math.floor(Date.now() / 1000);
    await d1
      .prepare(
        "INSERT INTO responses (id, tenant_id, status, model, background, store, created_at, updated_at) VALUES (?, ?, 'in_progress', 'lost', 1, 1, ?, ?)",
      )
      .bind(lost, tenant.tenantId, now, now)
      .run();
    expect((await createRaw(tenant.key, { model: gated() })).status).toBe(429);
    // Silent for a minute (three flush intervals if longer): the sweep would end it; it no longer counts.
    await d1
      .prepare("UPDATE responses SET updated_at = ? WHERE id = ?")
      .bind(now - 61, lost)
      .run();
    expect((await createRaw(tenant.key, { model: gated() })).status).toBe(200);
  });

  it("answers a retry with the Idempotency-Key of a run it made, at the cap", async () => {
    const tenant = await newTenantKey("capped");
    const openai = managedClient(tenant.key, CAP);
    const m = gated();
    const headers = { "idempotency-key": crypto.randomUUID() };
    const first = await createRaw(tenant.key, { model: m }, headers);
    expect(first.status).toBe(200);
    await openai.responses.create({ model: gated(), input: "x", background: true });
    const retried = await createRaw(tenant.key, { model: m }, headers);
    expect(retried.status).toBe(200);
    expect(retried.headers.get("idempotent-replayed")).toBe("true");
    expect(retried.body.id).toBe(first.body.id);
    // A new key is a new create: refused.
    expect((await createRaw(tenant.key, { model: m }, { "idempotency-key": crypto.randomUUID() })).status).toBe(429);
  });

  it("sets no cap at 0", async () => {
    const tenant = await newTenantKey("uncapped");
    const openai = managedClient(tenant.key, { MAX_BACKGROUND_RUNS_PER_TENANT: "0" });
    for (let i = 0; i < 3; i++)
      expect((await openai.responses.create({ model: gated(), input: "x", background: true })).status).toBe("queued");
  });

  it("refuses background creates (with a 500 naming it) while the setting is wrong", async () => {
    const tenant = await newTenantKey("misconfigured");
    const openai = managedClient(tenant.key, { MAX_BACKGROUND_RUNS_PER_TENANT: "many" });
    await expect(openai.responses.create({ model: model("text:2"), input: "x", background: true })).rejects.toThrow(
      /MAX_BACKGROUND_RUNS_PER_TENANT is 'many'; allowed: an integer from 0 to 1000000/,
    );
  });

  it("reads the tenant's key from the window's start, with no table scan or sort", async () => {
    const tenantId = "tenant_cap_plan";
    const config = readConfig(managedEnv());
    const query = liveBackgroundRunsQuery(await tenantDb(managedEnv(), tenantId), tenantId, {
      sinceMs: Date.now() - config.maxRunMs,
      heartbeatSince: 0,
      limit: config.maxBackgroundRuns,
    }).toSQL();
    const explained = await (
      await tenantD1(tenantId)
    )
      .prepare(`EXPLAIN QUERY PLAN ${query.sql}`)
      .bind(...query.params)
      .all<{ detail: string }>();
    const details = explained.results.map((row) => row.detail).join(" | ");
    expect(details).toMatch(/SEARCH responses USING PRIMARY KEY \(tenant_id=\? AND id>\?\)/);
    expect(details).not.toMatch(/TEMP B-TREE|SCAN responses/);
  });
});
