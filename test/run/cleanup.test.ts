// The background ResponseRun DO's storage lifecycle: a run that goes well writes nothing to its object
// (D1 is the record); webhooks are the only reason its SQLite exists, and it is emptied (with its
// alarm) as soon as no delivery is left; an emptied object still serves a delete and a resend.

import { runDurableObjectAlarm } from "cloudflare:test";
import type OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { client, model } from "../support/gateway";
import { hookUrl, received, receivedAtLeast, until } from "../support/hooks";
import { alarmOf, runStub, tablesOf } from "../support/run-object";

interface Delivery {
  id: string;
  status: string;
  attempt_count: number;
}

const deliveries = (openai: OpenAI, id: string) =>
  openai.get<{ data: Delivery[] }>(`/responses/${id}/webhook_deliveries`).then((list) => list.data);

describe("ResponseRun storage", () => {
  it("a background run without webhooks leaves its object empty, alarm included", async () => {
    const key = `sk-test-cleanup-${crypto.randomUUID()}`;
    const openai = client(key);
    // An endpoint for another event type: nothing is due when a response completes.
    await openai.webhooks.create({ url: hookUrl("ok"), name: "failures only", event_types: ["response.failed"] });
    const created = await openai.responses.create({ model: model("text:2"), input: "x", background: true });
    await until(
      () => openai.responses.retrieve(created.id),
      (response) => response.status === "completed",
      "completion",
    );
    await until(
      () => alarmOf(created.id, key),
      (alarm) => alarm === null,
      "the keepalive alarm to go",
    );
    expect(await tablesOf(created.id, key)).toEqual([]);
  });

  it("keeps its storage while a webhook delivery is pending", async () => {
    const key = `sk-test-cleanup-${crypto.randomUUID()}`;
    const openai = client(key);
    const url = hookUrl("status:500");
    await openai.webhooks.create({ url, name: "down", event_types: ["response.completed"] });
    const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    await receivedAtLeast(url, 1);
    expect(await runDurableObjectAlarm(await runStub(created.id, key))).toBe(true);
    expect(await tablesOf(created.id, key)).toContain("webhook_outbox");
    expect(await alarmOf(created.id, key)).not.toBeNull();
    expect((await deliveries(openai, created.id))[0]?.status).toBe("pending");
  });

  it("empties itself once delivered, and the same instance still serves a resend and a delete afterwards", async () => {
    const key = `sk-test-cleanup-${crypto.randomUUID()}`;
    const openai = client(key);
    const url = hookUrl("ok");
    await openai.webhooks.create({ url, name: "up", event_types: ["response.completed"] });
    const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    const [delivery] = await until(
      () => deliveries(openai, created.id),
      (list) => list[0]?.status === "delivered",
      "the delivery",
    );
    await until(
      () => tablesOf(created.id, key),
      (names) => names.length === 0,
      "the cleanup",
    );
    expect(await alarmOf(created.id, key)).toBeNull();
    // The response reads from D1; a resend wakes the emptied object, which delivers and empties again.
    expect((await openai.responses.retrieve(created.id)).status).toBe("completed");
    const resent = await openai.post<Delivery>(`/webhook_deliveries/${delivery?.id}/resend`);
    expect(resent).toMatchObject({ id: delivery?.id, status: "pending", attempt_count: 1 });
    await receivedAtLeast(url, 2);
    await until(
      () => deliveries(openai, created.id),
      (list) => list[0]?.status === "delivered" && list[0].attempt_count === 2,
      "the re-sent delivery",
    );
    await until(
      () => tablesOf(created.id, key),
      (names) => names.length === 0,
      "the cleanup after the resend",
    );
    expect(await openai.responses.delete(created.id)).toMatchObject({ deleted: true });
    expect((await received(url)).length).toBe(2);
  });
});
