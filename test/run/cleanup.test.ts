// The ResponseRun DO's storage lifecycle: it is deleted once D1 has everything, the retention passed
// and no webhook delivery is left; an instance whose storage was deleted still answers correctly.

import { runDurableObjectAlarm } from "cloudflare:test";
import type OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { client, model } from "../support/gateway";
import { hookUrl, received, receivedAtLeast, until } from "../support/hooks";
import { alarmOf, editRunState, runStub as stub, tablesOf as tables } from "../support/run-object";

/** Stands in for RUN_LOG_RETENTION_SECONDS passing: the run's recorded end moves an hour back. */
const ageRun = (id: string) =>
  editRunState<{ terminalAt: number }>(id, (run) => {
    run.terminalAt -= 3_600_000;
  });

interface Delivery {
  id: string;
  status: string;
  attempt_count: number;
}

const deliveries = (openai: OpenAI, id: string) =>
  openai.get<{ data: Delivery[] }>(`/responses/${id}/webhook_deliveries`).then((list) => list.data);

describe("ResponseRun storage cleanup", () => {
  it("keeps its storage while a webhook delivery is pending, even past the retention", async () => {
    const openai = client(`sk-test-cleanup-${crypto.randomUUID()}`);
    const url = hookUrl("status:500");
    await openai.webhooks.create({ url, name: "down", event_types: ["response.completed"] });
    const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    await receivedAtLeast(url, 1);
    await ageRun(created.id);
    expect(await runDurableObjectAlarm(stub(created.id))).toBe(true);
    expect(await tables(created.id)).toContain("webhook_outbox");
    const alarm = await alarmOf(created.id);
    expect(alarm).not.toBeNull();
    expect((await deliveries(openai, created.id))[0]?.status).toBe("pending");
  });

  it("deletes everything once done, and the same instance still serves a delete and a resend afterwards", async () => {
    const openai = client(`sk-test-cleanup-${crypto.randomUUID()}`);
    const url = hookUrl("ok");
    await openai.webhooks.create({ url, name: "up", event_types: ["response.completed"] });
    const created = await openai.responses.create({ model: model("text:1"), input: "x", background: true });
    const [delivery] = await until(
      () => deliveries(openai, created.id),
      (list) => list[0]?.status === "delivered",
      "the delivery",
    );
    await ageRun(created.id);
    expect(await runDurableObjectAlarm(stub(created.id))).toBe(true);
    expect(await tables(created.id)).toEqual([]);
    expect(await alarmOf(created.id)).toBeNull();
    // The response reads from D1; a resend wakes the cleaned object, which delivers and cleans up again.
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
      () => tables(created.id),
      (names) => names.length === 0,
      "the cleanup after the resend",
    );
    expect(await openai.responses.delete(created.id)).toMatchObject({ deleted: true });
    expect((await received(url)).length).toBe(2);
  });
});
