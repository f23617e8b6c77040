// The ResponseRun DO's end of a turn on a conversation: the append rides the terminal D1 batch, so
// when D1 refuses it the conversation stays claimed and the alarm's D1 retry appends the items
// exactly once; a retried terminal batch that had in fact landed appends nothing twice.

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { authenticate } from "../../src/http/auth";
import { validateCreateRequest } from "../../src/responses/create-request";
import { newResponseId } from "../../src/responses/ids";
import { EventLog } from "../../src/run/event-log";
import type { RunSpec, RunState, StartResult } from "../../src/run/spec";
import { client, model } from "../support/gateway";

const KEY = "sk-test-run-append";

async function specFor(conversationId: string, input: string): Promise<RunSpec> {
  const caller = await authenticate(new Request("http://x", { headers: { authorization: `Bearer ${KEY}` } }), env);
  return {
    responseId: newResponseId(),
    tenantId: caller.tenantId,
    apiKeyId: null,
    requestId: "req_run_append",
    createdAt: Math.floor(Date.now() / 1000),
    request: validateCreateRequest({ model: model("text:1"), conversation: conversationId, input }),
    upstream: { baseUrl: env.UPSTREAM_BASE_URL, protocol: "responses", apiKey: KEY },
  };
}

async function itemTexts(conversationId: string): Promise<string[]> {
  const page = await client(KEY).conversations.items.list(conversationId, { order: "asc", limit: 100 });
  return page.data.map((item) => (item as { content?: { text: string }[] }).content?.[0]?.text ?? "");
}

describe("ResponseRun: appending a turn to its conversation", () => {
  it("keeps the conversation claimed while D1 refuses the append; the alarm appends it once", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create();
    const trigger = `refuse_${conversation.id}`;
    await env.DB.exec(
      `CREATE TRIGGER ${trigger} BEFORE INSERT ON conversation_items WHEN NEW.conversation_id = '${conversation.id}' BEGIN SELECT RAISE(ABORT, 'refused'); END;`,
    );
    const spec = await specFor(conversation.id, "one");
    const stub = env.RESPONSE_RUN.getByName(spec.responseId);
    try {
      const result = (await stub.start(spec, "wait")) as StartResult;
      expect(result).toMatchObject({ ok: true, response: { status: "completed" } });
      expect(await itemTexts(conversation.id)).toEqual([]);
      // Still claimed: a turn now would read a conversation missing the last one.
      await expect(
        openai.responses.create({ model: model("text:1"), conversation: conversation.id, input: "two" }),
      ).rejects.toMatchObject({ status: 400, code: "conversation_locked" });
    } finally {
      await env.DB.exec(`DROP TRIGGER ${trigger};`);
    }

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await itemTexts(conversation.id)).toEqual(["one", "w0 "]);
    expect((await openai.responses.retrieve(spec.responseId)).status).toBe("completed");

    // A terminal batch retried after it had landed (its answer was lost) appends nothing again.
    await runInDurableObject(stub, (_instance, state) => {
      const log = new EventLog(state.storage.sql);
      const run = log.getState<RunState>("run") as RunState;
      log.setState("run", { ...run, finalWritten: false });
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await itemTexts(conversation.id)).toEqual(["one", "w0 "]);

    const next = await openai.responses.create({ model: model("echo"), conversation: conversation.id, input: "two" });
    expect(next.output_text).toBe("echo(3): two");
  });
});
