// A stored foreground response whose client goes away: it is not stopped at once. It runs on, recorded,
// for DISCONNECT_GRACE_SECONDS (a Worker may finish its work for about 30 s after its client left), so
// a response that finishes within it is stored whole and `completed`; one that does not is ended
// `cancelled` (OpenAI: terminating the connection cancels a synchronous response) with the partial
// output it had, recorded. A store:false run, which nothing records, stops at once. Conversation
// claims are leases: a turn whose holder died frees its conversation within a minute.

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { readConfig } from "../../src/config";
import { validateCreateRequest } from "../../src/responses/create-request";
import { newResponseId } from "../../src/responses/ids";
import type { RunSpec } from "../../src/run/spec";
import { runStateless } from "../../src/run/stateless";
import { runStoredForeground } from "../../src/stream/foreground";
import { chooseUpstream } from "../../src/upstream/registry";
import { client, gatewayFetch, GATEWAY_URL, model, readEvents, upstream } from "../support/gateway";
import { until } from "../support/hooks";
import { tenantOf } from "../support/run-object";
import { firstRow, runEverywhere } from "../support/shards";

const KEY = "sk-test-disconnect";

/** Opens a stored stream and reads until `count` frames arrived; then the client goes away. */
async function readThenLeave(body: Record<string, unknown>, count: number): Promise<string> {
  const res = await gatewayFetch(`${GATEWAY_URL}/responses`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (text.split("\n\n").length - 1 < count) {
    const next = await reader.read();
    if (next.done) break;
    text += next.value;
  }
  await reader.cancel("the client went away");
  const first = text.slice(text.indexOf("data: ") + 6, text.indexOf("\n\n"));
  return (JSON.parse(first) as { response: { id: string } }).response.id;
}

describe("a stored foreground response whose client disconnects", () => {
  it("runs on and is stored whole when it finishes within the grace period", async () => {
    const openai = client(KEY);
    const m = model("gate:5:6");
    const id = await readThenLeave({ model: m, input: "x" }, 4);
    expect((await openai.responses.retrieve(id)).status).toBe("in_progress");
    await upstream.release(m);
    const ended = await until(
      () => openai.responses.retrieve(id),
      (response) => response.status === "completed",
      "the run to end",
    );
    expect(ended.output_text).toBe("w0 w1 w2 w3 w4 w5 ");
    const replay = await readEvents(
      (
        await gatewayFetch(`${GATEWAY_URL}/responses/${id}?stream=true`, {
          headers: { authorization: `Bearer ${KEY}` },
        })
      ).body,
    );
    expect(replay.map((event) => event.sequence_number)).toEqual(replay.map((_, index) => index));
    expect(replay.at(-1)?.type).toBe("response.completed");
    expect(await upstream.closedEarly(m)).toBe(0);
  });

  it("ends cancelled with its partial output, recorded, when the grace period runs out", async () => {
    const m = model("gate:5:6");
    const request = validateCreateRequest({ model: m, input: "x", stream: true });
    const spec: RunSpec = {
      responseId: newResponseId(),
      tenantId: await tenantOf(KEY),
      apiKeyId: null,
      requestId: "req_disconnect",
      createdAt: Math.floor(Date.now() / 1000),
      request,
      upstream: chooseUpstream(readConfig(env), m, KEY),
    };
    // The runner driven directly, with a grace of half a second (the deployment's is 25 s).
    const ctx = createExecutionContext();
    const response = await runStoredForeground(
      { env, ctx, config: { ...readConfig(env), disconnectGraceMs: 500 } },
      spec,
    );
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.cancel("the client went away");
    await waitOnExecutionContext(ctx);
    const ended = await client(KEY).responses.retrieve(spec.responseId);
    expect(ended.status).toBe("cancelled");
    expect(ended.output_text).toBe("w0 ");
    expect(ended.output[0]).toMatchObject({ status: "incomplete" });
    await until(
      () => upstream.closedEarly(m),
      (closed) => closed === 1,
      "the upstream call to stop",
    );
    await upstream.release(m);
  });

  it("a JSON create (stream:false) runs on after its client leaves, through the Worker's fetch, and is stored whole", async () => {
    const m = model("gate:5:6");
    const caller = new AbortController();
    const answered = gatewayFetch(`${GATEWAY_URL}/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: m, input: "x" }),
      signal: caller.signal,
    }).then(
      () => "answered",
      () => "aborted",
    );
    await until(
      () => upstream.requests(m),
      (sent) => sent.length === 1,
      "the upstream call",
    );
    caller.abort();
    expect(await answered).toBe("aborted");
    await upstream.release(m);
    const listed = async () => {
      const res = await gatewayFetch(`${GATEWAY_URL}/responses?model=${encodeURIComponent(m)}`, {
        headers: { authorization: `Bearer ${KEY}` },
      });
      return (await res.json<{ data: { status: string; output: unknown[] }[] }>()).data[0];
    };
    const ended = await until(listed, (response) => response?.status === "completed", "the run to end");
    expect(JSON.stringify(ended?.output)).toContain("w0 w1 w2 w3 w4 w5 ");
    expect(await upstream.closedEarly(m)).toBe(0);
  });

  it("a JSON create (stream:false) whose client goes away ends cancelled too, when the grace period runs out", async () => {
    const m = model("gate:5:6");
    const request = validateCreateRequest({ model: m, input: "x" });
    const spec: RunSpec = {
      responseId: newResponseId(),
      tenantId: await tenantOf(KEY),
      apiKeyId: null,
      requestId: "req_disconnect_json",
      createdAt: Math.floor(Date.now() / 1000),
      request,
      upstream: chooseUpstream(readConfig(env), m, KEY),
    };
    // The create request's signal aborts when its client goes away (the `enable_request_signal` flag).
    const caller = new AbortController();
    const ctx = createExecutionContext();
    const answered = runStoredForeground(
      {
        env,
        ctx,
        config: { ...readConfig(env), disconnectGraceMs: 500 },
        request: new Request(`${GATEWAY_URL}/responses`, { signal: caller.signal }),
      },
      spec,
    );
    await until(
      () => upstream.requests(m),
      (sent) => sent.length === 1,
      "the upstream call",
    );
    caller.abort();
    await answered;
    await waitOnExecutionContext(ctx);
    expect(await client(KEY).responses.retrieve(spec.responseId)).toMatchObject({ status: "cancelled" });
    await until(
      () => upstream.closedEarly(m),
      (closed) => closed === 1,
      "the upstream call to stop",
    );
    await upstream.release(m);
  });

  it("a store:false stream, which nothing records, stops the upstream call at once", async () => {
    const m = model("gate:5:6");
    await readThenLeave({ model: m, input: "x", store: false }, 4);
    await until(
      () => upstream.closedEarly(m),
      (closed) => closed === 1,
      "the upstream call to stop",
    );
    await upstream.release(m);
  });

  it("a store:false JSON create (stream:false) whose client goes away stops the upstream call at once", async () => {
    const m = model("gate:5:6");
    const spec: RunSpec = {
      responseId: newResponseId(),
      tenantId: await tenantOf(KEY),
      apiKeyId: null,
      requestId: "req_disconnect_stateless_json",
      createdAt: Math.floor(Date.now() / 1000),
      request: validateCreateRequest({ model: m, input: "x", store: false }),
      upstream: chooseUpstream(readConfig(env), m, KEY),
    };
    // The create request's signal aborts when its client goes away (the `enable_request_signal` flag).
    const caller = new AbortController();
    const ctx = createExecutionContext();
    const answered = runStateless(env, ctx, readConfig(env), spec, undefined, caller.signal);
    await until(
      () => upstream.requests(m),
      (sent) => sent.length === 1,
      "the upstream call",
    );
    caller.abort();
    await until(
      () => upstream.closedEarly(m),
      (closed) => closed === 1,
      "the upstream call to stop",
    );
    await upstream.release(m);
    await answered;
    await waitOnExecutionContext(ctx);
  });
});

describe("conversation claims are leases", () => {
  it("a turn whose holder died frees its conversation once its lease lapses", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create();
    // What a holder that died leaves: a claim nobody renews (here, lapsed a second ago).
    await runEverywhere(
      "UPDATE conversations SET active_response_id = ?, active_until = ? WHERE id = ?",
      newResponseId(),
      Math.floor(Date.now() / 1000) - 1,
      conversation.id,
    );
    const turn = await openai.responses.create({ model: model("text:1"), conversation: conversation.id, input: "x" });
    expect(turn.status).toBe("completed");
  });

  it("a live turn renews its claim: another turn is refused meanwhile, and the lease lasts about a minute", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create();
    const m = model("gate:3:4");
    const stream = await openai.responses.create({ model: m, conversation: conversation.id, input: "x", stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    await expect(
      openai.responses.create({ model: model("text:1"), conversation: conversation.id, input: "y" }),
    ).rejects.toMatchObject({ status: 400, code: "conversation_locked" });
    const claim = await firstRow<{ active_until: number }>(
      "SELECT active_until FROM conversations WHERE id = ?",
      conversation.id,
    );
    const left = (claim?.active_until ?? 0) - Date.now() / 1000;
    expect(left).toBeGreaterThan(30);
    expect(left).toBeLessThanOrEqual(61);
    await upstream.release(m);
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) void next;
    const free = await firstRow<{ active_response_id: string | null }>(
      "SELECT active_response_id FROM conversations WHERE id = ?",
      conversation.id,
    );
    expect(free?.active_response_id).toBeNull();
  });
});
