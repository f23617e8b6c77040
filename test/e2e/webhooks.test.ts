// Webhooks of background responses, end to end: receivers on the mock server verify every request
// with the openai SDK's `client.webhooks.unwrap()`, as a user's server would.

import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import OpenAI, { InvalidWebhookSignatureError } from "openai";
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { deleteResponse } from "../../src/db/responses";
import { tenantDb } from "../../src/db/shards";
import { client, model, untilOutput, upstream } from "../support/gateway";
import { admin, ADMIN_URL, managedClient, managedFetch, newTenantKey } from "../support/managed";
import { countAll, passthroughTenant, tenantD1 } from "../support/shards";
import {
  DEFAULT_HOOK_SECRET,
  DEFAULT_HOOK_URL,
  hookUrl,
  received,
  receivedAtLeast,
  releaseHook,
  until,
  type ReceivedHook,
} from "../support/hooks";
import { ATTEMPT_UNDER_WAY } from "../../src/webhooks/dispatcher";
import { alarmOf, resetInstance, runStub, tenantOf } from "../support/run-object";

interface Attempt {
  attempt: number;
  status_code: number | null;
  error: string | null;
}

interface Delivery {
  id: string;
  object: "webhook_delivery";
  response_id: string;
  endpoint_id: string | null;
  url: string;
  event: { id: string; type: string; created_at: number; data: { id: string } };
  status: "pending" | "delivered" | "failed";
  attempt_count: number;
  last_status_code: number | null;
  last_error: string | null;
  attempts?: Attempt[];
}

interface List<T> {
  object: "list";
  data: T[];
  has_more: boolean;
}

const tenantKey = () => `sk-test-hooks-${crypto.randomUUID()}`;
/** The pass-through key a test's client was made with (its tenant names the response's object). */
const openaiKey = (openai: OpenAI): string => openai.apiKey ?? "";

const deliveriesOf = (openai: OpenAI, responseId: string) =>
  openai.get<List<Delivery>>(`/responses/${responseId}/webhook_deliveries`);

/** Waits until every delivery of the response is settled (delivered or failed) in D1. */
const settledDeliveries = (openai: OpenAI, responseId: string, count: number) =>
  until(
    () => deliveriesOf(openai, responseId),
    (list) => list.data.length === count && list.data.every((delivery) => delivery.status !== "pending"),
    `${count} settled deliveries of ${responseId}`,
  );

async function endpoint(openai: OpenAI, url: string, eventTypes: string[]) {
  return openai.webhooks.create({
    url,
    name: "test receiver",
    event_types: eventTypes as OpenAI.Webhooks.WebhookCreateParams["event_types"],
  });
}

async function ended(openai: OpenAI, id: string) {
  return until(
    () => openai.responses.retrieve(id),
    (response) => response.status !== "queued" && response.status !== "in_progress",
    `the end of ${id}`,
  );
}

const sdk = client();
const unwrap = (hook: ReceivedHook, secret: string) => sdk.webhooks.unwrap(hook.body, hook.headers, secret);

describe("webhooks of background responses", () => {
  it("sends response.completed to the deployment default when the tenant has no endpoint, after D1 has the end", async () => {
    const openai = client(tenantKey());
    const created = await openai.responses.create({ model: model("text:2"), input: "x", background: true });
    const hook = await until(
      () => received(DEFAULT_HOOK_URL),
      (list) => list.some((request) => request.body.includes(created.id)),
      "the default webhook",
    ).then((list) => list.find((request) => request.body.includes(created.id)) as ReceivedHook);
    const event = await unwrap(hook, DEFAULT_HOOK_SECRET);
    expect(event).toMatchObject({ object: "event", type: "response.completed", data: { id: created.id } });
    expect(event.id).toMatch(/^evt_[0-9a-f]{48}$/);
    expect(hook.headers["webhook-id"]).toMatch(/^wh_[0-9a-f]{48}$/);
    expect(hook.headers["content-type"]).toBe("application/json");
    // The receiver can retrieve the response it was told about, already in its final state.
    const response = await openai.responses.retrieve(created.id);
    expect(response.status).toBe("completed");
    expect(event.created_at).toBeGreaterThanOrEqual(response.created_at);
    const [delivery] = (await settledDeliveries(openai, created.id, 1)).data;
    expect(delivery).toMatchObject({
      id: hook.headers["webhook-id"],
      endpoint_id: null,
      // The deployment's own receiver is the operator's: its URL (a path may hold a token) is not shown.
      url: null,
      status: "delivered",
      attempt_count: 1,
      event: JSON.parse(hook.body) as object,
      attempts: [{ attempt: 1, status_code: 200, error: null }],
    });
    const operatorView = await admin<{ data: { url: string }[] }>("GET", `/responses/${created.id}/webhook_deliveries`);
    expect(operatorView.body.data.map((record) => record.url)).toEqual([DEFAULT_HOOK_URL]);
    // A synchronous response sends nothing.
    const sync = await openai.responses.create({ model: model("text:1"), input: "x" });
    expect((await deliveriesOf(openai, sync.id)).data).toEqual([]);
  });

  it("retries a delivery to the default at WEBHOOK_URL as it is now, as an endpoint's go to its current URL", async () => {
    const key = tenantKey();
    const openai = client(key);
    const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    const [delivered] = (await settledDeliveries(openai, created.id, 1)).data;
    // A delivery planned while WEBHOOK_URL named another receiver (since moved by the operator) is due again.
    const movedFrom = hookUrl("status:500");
    const stub = await runStub(created.id, key);
    const record = delivered as Delivery;
    await stub.resendWebhook({
      id: record.id,
      tenantId: await tenantOf(key),
      responseId: created.id,
      endpointId: null,
      url: movedFrom,
      eventId: record.event.id,
      eventType: record.event.type,
      payload: JSON.stringify(record.event),
      status: "delivered",
      attempts: record.attempt_count,
      nextAttemptAt: null,
      createdAt: Math.floor(Date.now() / 1000),
      lastAttemptAt: null,
      lastStatusCode: null,
      lastError: null,
    });
    await runDurableObjectAlarm(stub);
    const again = await until(
      () => received(DEFAULT_HOOK_URL),
      (list) => list.filter((hook) => hook.headers["webhook-id"] === record.id).length === 2,
      "the retry at the current WEBHOOK_URL",
    );
    const retry = again.filter((hook) => hook.headers["webhook-id"] === record.id)[1] as ReceivedHook;
    expect(await unwrap(retry, DEFAULT_HOOK_SECRET)).toMatchObject({ data: { id: created.id } });
    expect(await received(movedFrom)).toEqual([]);
  });

  it("sends each endpoint exactly the event types it subscribed to, and nothing to the default", async () => {
    const openai = client(tenantKey());
    const first = hookUrl("ok");
    const second = hookUrl("ok");
    const a = await endpoint(openai, first, ["response.completed", "response.cancelled"]);
    const b = await endpoint(openai, second, ["response.failed", "response.incomplete"]);
    const gated = model("gate:6:10");
    const ids = {
      completed: (await openai.responses.create({ model: model("text:1"), input: "x", background: true })).id,
      failed: (await openai.responses.create({ model: model("status:400"), input: "x", background: true })).id,
      incomplete: (await openai.responses.create({ model: model("incomplete"), input: "x", background: true })).id,
      cancelled: (await openai.responses.create({ model: gated, input: "x", background: true })).id,
    };
    await untilOutput(openai, ids.cancelled, "w0 w1 ");
    await openai.responses.cancel(ids.cancelled);
    for (const [status, id] of Object.entries(ids)) {
      expect((await ended(openai, id)).status).toBe(status);
      await settledDeliveries(openai, id, 1);
    }
    const events = async (url: string, secret: string) =>
      (await Promise.all((await received(url)).map((hook) => unwrap(hook, secret)))) as {
        type: string;
        data: { id: string };
      }[];
    const atA = await events(first, a.signing_secret);
    const atB = await events(second, b.signing_secret);
    expect(atA.map((event) => [event.type, event.data.id]).sort()).toEqual(
      [
        ["response.cancelled", ids.cancelled],
        ["response.completed", ids.completed],
      ].sort(),
    );
    expect(atB.map((event) => [event.type, event.data.id]).sort()).toEqual(
      [
        ["response.failed", ids.failed],
        ["response.incomplete", ids.incomplete],
      ].sort(),
    );
    const atDefault = await received(DEFAULT_HOOK_URL);
    for (const id of Object.values(ids)) expect(atDefault.some((hook) => hook.body.includes(id))).toBe(false);
    await upstream.release(gated);
  });

  it("retries a failing receiver with exponential backoff: the same webhook-id and body each time, until delivered", async () => {
    const openai = client(tenantKey());
    const url = hookUrl("fail:2");
    const { signing_secret: secret } = await endpoint(openai, url, ["response.completed"]);
    const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    const hooks = await receivedAtLeast(url, 3);
    expect(new Set(hooks.map((hook) => hook.headers["webhook-id"])).size).toBe(1);
    expect(new Set(hooks.map((hook) => hook.body)).size).toBe(1);
    for (const hook of hooks) expect(await unwrap(hook, secret)).toMatchObject({ data: { id: created.id } });
    // WEBHOOK_RETRY_BASE_SECONDS is 1 in tests: waits of 0.5-1 s, then 1-2 s.
    const [first, second, third] = hooks.map((hook) => hook.at) as [number, number, number];
    expect(second - first).toBeGreaterThanOrEqual(450);
    expect(third - second).toBeGreaterThanOrEqual(950);
    const [delivery] = (await settledDeliveries(openai, created.id, 1)).data;
    expect(delivery).toMatchObject({ status: "delivered", attempt_count: 3, last_status_code: 200 });
    expect(delivery?.attempts?.map((attempt) => [attempt.attempt, attempt.status_code, attempt.error])).toEqual([
      [1, 500, "HTTP 500"],
      [2, 500, "HTTP 500"],
      [3, 200, null],
    ]);
    expect((await received(url)).length).toBe(3);
  });

  it("records a delivery's new URL once its endpoint's URL changes: at once while pending, and after the retry", async () => {
    const openai = client(tenantKey());
    const broken = hookUrl("status:503");
    const made = await endpoint(openai, broken, ["response.completed"]);
    const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    await until(
      () => deliveriesOf(openai, created.id),
      (list) => list.data[0]?.attempt_count === 1,
      "the first attempt on record",
    );
    const fixed = hookUrl("ok");
    await openai.webhooks.update(made.id, { url: fixed });
    // Where its next attempt goes, whether or not that attempt was made already.
    expect((await deliveriesOf(openai, created.id)).data[0]?.url).toBe(fixed);
    await receivedAtLeast(fixed, 1);
    const [delivered] = (await settledDeliveries(openai, created.id, 1)).data as [Delivery];
    expect(delivered).toMatchObject({ status: "delivered", url: fixed, last_status_code: 200 });
    expect(await openai.get<Delivery>(`/webhook_deliveries/${delivered.id}`)).toMatchObject({ url: fixed });
    expect((await openai.get<List<Delivery>>("/webhook_deliveries")).data.map((delivery) => delivery.url)).toEqual([
      fixed,
    ]);
    expect((await received(broken)).length).toBe(1);
  });

  it("counts a redirect as a failure and never follows it", async () => {
    const openai = client(tenantKey());
    const url = hookUrl("redirect");
    await endpoint(openai, url, ["response.completed"]);
    const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    await receivedAtLeast(url, 2);
    expect(await received(`${url}-moved`)).toEqual([]);
    const [delivery] = (await deliveriesOf(openai, created.id)).data;
    expect(delivery).toMatchObject({ status: "pending", last_status_code: 302 });
    expect(delivery?.last_error).toContain("redirects are not followed");
  });

  it("waits out a receiver's Retry-After (seconds or a date) when longer than the backoff, up to the one-hour cap", async () => {
    const openai = client(tenantKey());
    const types = ["response.completed"];
    const urls = [hookUrl("retry-after:30"), hookUrl("retry-at:40"), hookUrl("retry-after:999999999")];
    for (const url of urls) await endpoint(openai, url, types);
    const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    const list = await until(
      () => deliveriesOf(openai, created.id),
      (page) => page.data.length === 3 && page.data.every((delivery) => delivery.attempts?.[0]?.status_code != null),
      "the first attempt of each delivery on record",
    );
    const waitOf = (url: string) => {
      const delivery = list.data.find((each) => each.url === url) as Delivery & { next_attempt_at: number | null };
      expect(delivery.status).toBe("pending");
      return (
        (delivery.next_attempt_at ?? 0) - ((delivery.attempts?.[0] as Attempt & { started_at: number }).started_at ?? 0)
      );
    };
    // WEBHOOK_RETRY_BASE_SECONDS is 1 in tests: the backoff alone would retry within a second or two.
    expect(waitOf(urls[0] as string)).toBeGreaterThanOrEqual(29);
    expect(waitOf(urls[0] as string)).toBeLessThanOrEqual(32);
    expect(waitOf(urls[1] as string)).toBeGreaterThanOrEqual(38);
    expect(waitOf(urls[1] as string)).toBeLessThanOrEqual(42);
    // A huge value is held to the backoff's cap: the delivery keeps its place in the 72-hour window.
    expect(waitOf(urls[2] as string)).toBeGreaterThanOrEqual(3598);
    expect(waitOf(urls[2] as string)).toBeLessThanOrEqual(3602);
    expect(list.data.find((delivery) => delivery.url === urls[0])?.last_error).toBe("HTTP 429 (Retry-After: 30 s)");
    for (const url of urls) expect((await received(url)).length).toBe(1);
  });

  it("gives a delivery up at the receiver's 410 Gone, without retries; the endpoint's next events are still sent", async () => {
    const openai = client(tenantKey());
    const url = hookUrl("status:410");
    await endpoint(openai, url, ["response.completed"]);
    const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    const [failed] = (await settledDeliveries(openai, created.id, 1)).data;
    expect(failed).toMatchObject({ status: "failed", attempt_count: 1, last_status_code: 410 });
    expect(failed?.last_error).toBe("HTTP 410 (Gone: not retried)");
    const next = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    await settledDeliveries(openai, next.id, 1);
    expect((await received(url)).length).toBe(2);
  });

  it("loses nothing to an eviction between retries: a fresh instance makes the retry", async () => {
    const openai = client(tenantKey());
    const url = hookUrl("fail:1");
    const { signing_secret: secret } = await endpoint(openai, url, ["response.completed"]);
    const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    // The first attempt failed and is on record; the retry is due 0.5-1 s after it.
    await until(
      () => deliveriesOf(openai, created.id),
      (list) => list.data[0]?.attempt_count === 1,
      "the first attempt on record",
    );
    await evictDurableObject(await runStub(created.id, openaiKey(openai)));
    expect((await received(url)).length).toBe(1);
    const [firstTry, retry] = await receivedAtLeast(url, 2);
    expect(retry?.headers["webhook-id"]).toBe(firstTry?.headers["webhook-id"]);
    expect(retry?.body).toBe(firstTry?.body);
    expect(await unwrap(retry as ReceivedHook, secret)).toMatchObject({
      type: "response.completed",
      data: { id: created.id },
    });
    const [delivery] = (await settledDeliveries(openai, created.id, 1)).data;
    expect(delivery?.attempts?.map((attempt) => attempt.status_code)).toEqual([500, 200]);
  });

  it("makes an attempt again when a reset cuts it short (at-least-once, same webhook-id)", async () => {
    const openai = client(tenantKey());
    const url = hookUrl("hold-fail:1");
    const { signing_secret: secret } = await endpoint(openai, url, ["response.completed"]);
    const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    await receivedAtLeast(url, 1);
    // D1 has the delivery, and its attempt as it started, before the receiver answered (issue 18 item 20).
    const underWay = (await deliveriesOf(openai, created.id)).data;
    expect(underWay).toMatchObject([{ status: "pending", attempt_count: 1 }]);
    expect(underWay[0]?.attempts).toMatchObject([{ attempt: 1, status_code: null, error: ATTEMPT_UNDER_WAY }]);
    // The receiver holds the first attempt while the object is reset (a deploy, a crash).
    await resetInstance(created.id, openaiKey(openai));
    await releaseHook(url);
    // The alarm set when the cut job began (its dead man's switch, 30 s) brings a fresh instance back.
    const switchAt = await alarmOf(created.id, openaiKey(openai));
    expect(switchAt).not.toBeNull();
    expect((switchAt as number) - Date.now()).toBeLessThanOrEqual(30_000);
    expect(await runDurableObjectAlarm(await runStub(created.id, openaiKey(openai)))).toBe(true);
    const [cut, again] = await receivedAtLeast(url, 2);
    expect(again?.headers["webhook-id"]).toBe(cut?.headers["webhook-id"]);
    expect(again?.body).toBe(cut?.body);
    expect(await unwrap(again as ReceivedHook, secret)).toMatchObject({ data: { id: created.id } });
    const [delivery] = (await settledDeliveries(openai, created.id, 1)).data;
    // The cut attempt stays on record, its outcome unknown; then the attempt that got an answer.
    expect(delivery).toMatchObject({ status: "delivered", attempt_count: 2, last_status_code: 200 });
    expect(delivery?.attempts?.map(({ attempt, status_code, error }) => ({ attempt, status_code, error }))).toEqual([
      { attempt: 1, status_code: null, error: ATTEMPT_UNDER_WAY },
      { attempt: 2, status_code: 200, error: null },
    ]);
  });

  it("fails verification with a wrong secret", async () => {
    const openai = client(tenantKey());
    const url = hookUrl("ok");
    const { signing_secret: secret } = await endpoint(openai, url, ["response.completed"]);
    const other = await endpoint(openai, hookUrl("ok"), ["response.failed"]);
    await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    const [hook] = await receivedAtLeast(url, 1);
    await expect(unwrap(hook as ReceivedHook, other.signing_secret)).rejects.toBeInstanceOf(
      InvalidWebhookSignatureError,
    );
    await expect(unwrap(hook as ReceivedHook, DEFAULT_HOOK_SECRET)).rejects.toBeInstanceOf(
      InvalidWebhookSignatureError,
    );
    await expect(unwrap(hook as ReceivedHook, secret)).resolves.toMatchObject({ type: "response.completed" });
  });

  it("gives a delivery up after its window, lists it among the tenant's failures, and re-sends it by hand", async () => {
    const openai = client(tenantKey());
    const failing = hookUrl("status:503");
    const endpointCreated = await endpoint(openai, failing, ["response.completed"]);
    const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    await receivedAtLeast(failing, 1);
    // Stands in for 72 hours passing: the delivery's window closes before its next attempt.
    await runInDurableObject(await runStub(created.id, openaiKey(openai)), (_instance, state) => {
      state.storage.sql.exec(`UPDATE webhook_outbox SET give_up_at = 0`);
    });
    const [failed] = (await settledDeliveries(openai, created.id, 1)).data as [Delivery];
    expect(failed).toMatchObject({ status: "failed", last_status_code: 503 });
    const failedList = await openai.get<List<Delivery>>("/webhook_deliveries", { query: { status: "failed" } });
    expect(failedList.data.map((delivery) => delivery.id)).toEqual([failed.id]);
    expect(
      (await client(tenantKey()).get<List<Delivery>>("/webhook_deliveries", { query: { status: "failed" } })).data,
    ).toEqual([]);
    // The user fixes the endpoint, then re-sends: same webhook-id and body, attempts continue.
    const fixed = hookUrl("ok");
    await openai.webhooks.update(endpointCreated.id, { url: fixed });
    const resent = await openai.post<Delivery>(`/webhook_deliveries/${failed.id}/resend`);
    expect(resent).toMatchObject({ id: failed.id, status: "pending", url: fixed });
    const [hook] = await receivedAtLeast(fixed, 1);
    expect(hook?.headers["webhook-id"]).toBe(failed.id);
    expect(await unwrap(hook as ReceivedHook, endpointCreated.signing_secret)).toEqual(failed.event);
    const [delivered] = (await settledDeliveries(openai, created.id, 1)).data as [Delivery];
    expect(delivered.status).toBe("delivered");
    expect(delivered.attempts?.at(-1)).toMatchObject({ attempt: failed.attempt_count + 1, status_code: 200 });
    expect((await openai.get<List<Delivery>>("/webhook_deliveries", { query: { status: "failed" } })).data).toEqual([]);
    expect(await openai.get<Delivery>(`/webhook_deliveries/${failed.id}`)).toMatchObject({ status: "delivered" });
  });

  it("keeps delivering after the response is deleted: the event happened", async () => {
    const openai = client(tenantKey());
    const url = hookUrl("fail:1");
    const { signing_secret: secret } = await endpoint(openai, url, ["response.completed"]);
    const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    await receivedAtLeast(url, 1);
    await openai.responses.delete(created.id);
    const [first, retry] = await receivedAtLeast(url, 2);
    expect(retry?.headers["webhook-id"]).toBe(first?.headers["webhook-id"]);
    expect(await unwrap(retry as ReceivedHook, secret)).toMatchObject({ data: { id: created.id } });
    await expect(deliveriesOf(openai, created.id)).rejects.toMatchObject({ status: 404 });
    const delivered = await until(
      () => openai.get<Delivery>(`/webhook_deliveries/${retry?.headers["webhook-id"]}`),
      (delivery) => delivery.status === "delivered",
      "the delivery on record",
    );
    expect(delivered).toMatchObject({ response_id: created.id, attempt_count: 2 });
  });

  /**
   * A background run held by its model after two words, on a tenant with a response.completed
   * endpoint; `release` lets it end.
   */
  async function heldRun() {
    const key = tenantKey();
    const openai = client(key);
    const url = hookUrl("ok");
    await endpoint(openai, url, ["response.completed"]);
    const gated = model("gate:6:10");
    const created = await openai.responses.create({ model: gated, input: "x", background: true });
    await untilOutput(openai, created.id, "w0 w1 ");
    const tenantId = await passthroughTenant(key);
    return { key, url, created, tenantId, db: await tenantDb(env, tenantId), release: () => upstream.release(gated) };
  }

  it("sends nothing for a run that ends after its response's rows were deleted, before the object was told", async () => {
    const { key, url, created, tenantId, db, release } = await heldRun();
    // A DELETE's D1 batch has landed; its discard of the run has not reached the object yet.
    expect(await deleteResponse(db, tenantId, created.id)).toBe(true);
    await release();
    // The run ends (its end finds no row), and the object empties once nothing is left to do.
    await until(
      () => alarmOf(created.id, key),
      (alarm) => alarm === null,
      "the run's object to empty",
    );
    expect(await received(url)).toEqual([]);
    expect(await countAll("SELECT count(*) AS n FROM webhook_deliveries WHERE response_id = ?", created.id)).toBe(0);
  });

  it("sends the end of a run whose terminal write D1 committed but reported failed (its retry finds it ended)", async () => {
    const { url, created, tenantId, db, release } = await heldRun();
    // What the retry of a committed write finds: the row already ended, as this run would end it.
    await db.run(sql`UPDATE responses SET status = 'completed' WHERE tenant_id = ${tenantId} AND id = ${created.id}`);
    await release();
    const [hook] = await receivedAtLeast(url, 1);
    expect(JSON.parse(hook!.body)).toMatchObject({ type: "response.completed", data: { id: created.id } });
  });

  it("lists a tenant's deliveries newest first, page by page", async () => {
    const openai = client(tenantKey());
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await openai.responses.create({ model: model("text:1"), input: "x", background: true })).id);
    for (const id of ids) await settledDeliveries(openai, id, 1);
    const all = await openai.get<List<Delivery>>("/webhook_deliveries", { query: { status: "delivered" } });
    expect(all.data.map((delivery) => delivery.response_id).sort()).toEqual([...ids].sort());
    const first = await openai.get<List<Delivery>>("/webhook_deliveries", { query: { limit: 2 } });
    expect(first).toMatchObject({ object: "list", has_more: true });
    const second = await openai.get<List<Delivery>>("/webhook_deliveries", {
      query: { limit: 2, after: first.data.at(-1)?.id },
    });
    expect(second.has_more).toBe(false);
    expect([...first.data, ...second.data].map((delivery) => delivery.id)).toEqual(
      all.data.map((delivery) => delivery.id),
    );
    await expect(openai.get("/webhook_deliveries", { query: { status: "lost" } })).rejects.toMatchObject({
      status: 400,
      param: "status",
    });
  });

  it("lists a tenant's deliveries by status for the operator, as the tenant's own list shows them", async () => {
    const openai = client(tenantKey());
    const tenantId = await passthroughTenant(openaiKey(openai));
    const url = hookUrl("status:503");
    await endpoint(openai, url, ["response.completed"]);
    const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    await receivedAtLeast(url, 1);
    await until(
      () => deliveriesOf(openai, created.id),
      (list) => list.data[0]?.attempt_count === 1,
      "the first attempt on record",
    );
    const path = `/tenants/${tenantId}/webhook_deliveries`;
    const pending = await admin<List<Delivery>>("GET", `${path}?status=pending`);
    expect(pending.status).toBe(200);
    expect(pending.body.data.map((delivery) => delivery.response_id)).toEqual([created.id]);
    // The same page the tenant's key gets, field for field (without attempts, as the tenant's list).
    const own = await openai.get<List<Delivery>>("/webhook_deliveries", { query: { status: "pending" } });
    expect(pending.body).toEqual(JSON.parse(JSON.stringify(own)));
    expect((await admin<List<Delivery>>("GET", `${path}?status=delivered`)).body.data).toEqual([]);
    expect((await admin<List<Delivery>>("GET", `${path}?limit=1`)).body).toMatchObject({ has_more: false });
    // The list across tenants holds it too, with its tenant.
    const everyTenant = await admin<List<Delivery & { tenant_id: string }>>(
      "GET",
      "/webhook_deliveries?status=pending&limit=100",
    );
    expect(everyTenant.body.data.find((delivery) => delivery.response_id === created.id)).toMatchObject({
      ...pending.body.data[0],
      tenant_id: tenantId,
    });
    expect((await admin("GET", `${path}?status=lost`)).body).toMatchObject({ error: { param: "status" } });
    // Another tenant's list does not hold it; a tenant that never stored anything is a 404.
    const other = await newTenantKey("no hooks");
    expect((await admin<List<Delivery>>("GET", `/tenants/${other.tenantId}/webhook_deliveries`)).body.data).toEqual([]);
    expect((await admin("GET", `/tenants/t_${"0".repeat(32)}/webhook_deliveries`)).status).toBe(404);
    const anonymous = await managedFetch(`${ADMIN_URL}${path}`);
    expect(anonymous.status).toBe(401);
  });

  it("lists every tenant's deliveries of one status for the operator, on every shard, newest first, page by page", async () => {
    // Five failed deliveries of three tenants (on their shards), dated after any the suite makes,
    // two of them at the same second: pages of two hold them in (created_at, id) order.
    const at = 4_000_000_000 + Math.floor(Math.random() * 1_000_000) * 10;
    const rows: { id: string; tenant: string; createdAt: number }[] = [];
    for (const [index, createdAt] of [at + 4, at + 3, at + 3, at + 2, at + 1].entries()) {
      const tenant = await passthroughTenant(`sk-all-deliveries-${crypto.randomUUID()}`);
      rows.push({ id: `wh_${crypto.randomUUID().replaceAll("-", "")}${index}`, tenant, createdAt });
    }
    rows.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
    for (const row of rows)
      await (
        await tenantD1(row.tenant)
      )
        .prepare(
          `INSERT INTO webhook_deliveries (id, tenant_id, response_id, url, event_id, event_type, payload, status, attempts, created_at, last_error)
           VALUES (?, ?, 'resp_x', 'https://hooks.example/x', 'evt_x', 'response.completed', '{}', 'failed', 8, ?, 'HTTP 503')`,
        )
        .bind(row.id, row.tenant, row.createdAt)
        .run();
    try {
      const seen: List<Delivery & { tenant_id: string }>[] = [];
      let after = "";
      for (let page = 0; page < 3; page++) {
        const listed = await admin<List<Delivery & { tenant_id: string }>>(
          "GET",
          `/webhook_deliveries?status=failed&limit=2${after === "" ? "" : `&after=${after}`}`,
        );
        expect(listed.status).toBe(200);
        seen.push(listed.body);
        after = String(listed.body.data.at(-1)?.id);
      }
      expect(seen.flatMap((page) => page.data.map((delivery) => [delivery.id, delivery.tenant_id]))).toEqual([
        ...rows.map((row) => [row.id, row.tenant]),
        ...seen[2]!.data.slice(1).map((d) => [d.id, d.tenant_id]),
      ]);
      expect(seen.map((page) => page.has_more)).toEqual([true, true, seen[2]!.has_more]);
      expect(seen[0]!.data[0]).toMatchObject({
        object: "webhook_delivery",
        status: "failed",
        url: "https://hooks.example/x",
      });
    } finally {
      for (const row of rows)
        await (await tenantD1(row.tenant)).prepare("DELETE FROM webhook_deliveries WHERE id = ?").bind(row.id).run();
    }
    // One status at a time (each page is read from an index by it); a cursor no shard holds is a 400.
    expect((await admin("GET", "/webhook_deliveries")).body).toMatchObject({
      error: { param: "status", code: "missing_required_parameter" },
    });
    expect((await admin("GET", "/webhook_deliveries?status=lost")).body).toMatchObject({ error: { param: "status" } });
    expect((await admin("GET", "/webhook_deliveries?status=failed&after=wh_gone")).body).toMatchObject({
      error: { param: "after" },
    });
    expect((await managedFetch(`${ADMIN_URL}/webhook_deliveries?status=failed`)).status).toBe(401);
  });

  it("delivers to an endpoint the admin API set for a tenant (keys mode), which the tenant also sees", async () => {
    const { tenantId, key } = await newTenantKey("hooks");
    const url = hookUrl("ok");
    const set = await admin<{ id: string; signing_secret: string }>("POST", `/tenants/${tenantId}/webhook_endpoints`, {
      url,
      event_types: ["response.completed"],
    });
    expect(set.status).toBe(200);
    const openai = managedClient(key);
    const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    const [hook] = await receivedAtLeast(url, 1);
    expect(await unwrap(hook as ReceivedHook, set.body.signing_secret)).toMatchObject({
      type: "response.completed",
      data: { id: created.id },
    });
    expect((await openai.webhooks.list()).data.map((endpoint) => endpoint.id)).toEqual([set.body.id]);
    const { signing_secret: _shownOnce, tenant_id: _tenant, ...asSdkSees } = set.body as Record<string, unknown>;
    expect(await openai.webhooks.retrieve(set.body.id)).toEqual(asSdkSees);
  });

  it("refuses to re-send a pending delivery, one whose endpoint was deleted, or another tenant's", async () => {
    const openai = client(tenantKey());
    const url = hookUrl("status:500");
    const made = await endpoint(openai, url, ["response.completed"]);
    const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    await receivedAtLeast(url, 1);
    const [pending] = (
      await until(
        () => deliveriesOf(openai, created.id),
        (list) => list.data[0]?.attempt_count === 1,
        "the first attempt on record",
      )
    ).data as [Delivery];
    await expect(openai.post(`/webhook_deliveries/${pending.id}/resend`)).rejects.toMatchObject({
      status: 400,
      code: "delivery_pending",
    });
    await expect(client(tenantKey()).post(`/webhook_deliveries/${pending.id}/resend`)).rejects.toMatchObject({
      status: 404,
    });
    await expect(client(tenantKey()).get(`/responses/${created.id}/webhook_deliveries`)).rejects.toMatchObject({
      status: 404,
    });
    // Deleting the endpoint gives its pending delivery up at the next attempt.
    await openai.webhooks.delete(made.id);
    const [given] = (await settledDeliveries(openai, created.id, 1)).data as [Delivery];
    expect(given).toMatchObject({ status: "failed", last_error: "The webhook endpoint was deleted." });
    await expect(openai.post(`/webhook_deliveries/${given.id}/resend`)).rejects.toMatchObject({
      status: 400,
      code: "endpoint_not_found",
    });
  });
});
