// A background run whose end finds D1 unable to say whether webhooks are due (the tenant's
// endpoints could not be read): the run still ends as the upstream ended it, and its webhook is
// planned once D1 answers again.

import { runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { WebhookDispatcher } from "../../src/webhooks/dispatcher";
import { client, model } from "../support/gateway";
import { hookUrl, received, until } from "../support/hooks";
import { runStub } from "../support/run-object";

afterEach(() => vi.restoreAllMocks());

describe("a run's end while D1 cannot list the tenant's webhook endpoints", () => {
  it("ends the run as the upstream ended it, and delivers its webhook once D1 answers", async () => {
    const key = `sk-test-plan-faults-${crypto.randomUUID()}`;
    const openai = client(key);
    const hook = hookUrl("ok");
    await openai.webhooks.create({ url: hook, name: "r", event_types: ["response.completed"] });
    vi.spyOn(WebhookDispatcher.prototype, "hasTargets").mockRejectedValueOnce(
      new Error("D1_ERROR: Network connection lost."),
    );
    const created = await openai.responses.create({ model: model("text:2"), input: "x", background: true });
    const done = await until(
      () => openai.responses.retrieve(created.id),
      (response) => response.status !== "queued" && response.status !== "in_progress",
      "the run's end",
    );
    expect(done).toMatchObject({ status: "completed", output_text: "w0 w1 " });
    await runDurableObjectAlarm(await runStub(created.id, key));
    const hooks = await until(
      () => received(hook),
      (list) => list.length === 1,
      "the webhook",
    );
    expect(JSON.parse(hooks[0]?.body ?? "{}")).toMatchObject({ type: "response.completed", data: { id: created.id } });
  });
});
