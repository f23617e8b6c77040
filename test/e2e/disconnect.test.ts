// A stored foreground response whose client goes away: it is not stopped at once. It runs on, recorded,
// for DISCONNECT_GRACE_SECONDS (a Worker may finish its work for about 30 s after its client left), so
// a response that finishes within it is stored whole and `completed`; one that does not is ended
// `cancelled` (OpenAI: terminating the connection cancels a synchronous response) with the partial
// output it had, recorded. A store:false run, which nothing records, stops at once. Conversation
// claims are leases: a turn whose holder died frees its conversation within a minute, and a turn
// whose client left yields it: the next turn runs at once and the left one ends cancelled. A create
// continuing from a response whose client left (`previous_response_id`) ends it the same way.

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { readConfig, type GatewayConfig } from "../../src/config";
import { compressEvents, readEvents as readRecorded, type RecordedEvent } from "../../src/db/event-batches";
import { findResponse, type ResponseRow } from "../../src/db/responses";
import { tenantDb } from "../../src/db/shards";
import { validateCreateRequest, type CreateRequest } from "../../src/responses/create-request";
import { newResponseId } from "../../src/responses/ids";
import type { RunSpec } from "../../src/run/spec";
import { runStateless } from "../../src/run/stateless";
import { endDeadRun, endLeftRun } from "../../src/stream/dead-run";
import { runStoredForeground } from "../../src/stream/foreground";
import { chooseUpstream } from "../../src/upstream/registry";
import worker from "../../src/index";
import {
  client,
  gatewayFetch,
  GATEWAY_URL,
  heldBackground,
  model,
  readEvents,
  untilOutput,
  upstream,
  words,
} from "../support/gateway";
import { until } from "../support/hooks";
import { tenantOf } from "../support/run-object";
import { firstRow, runEverywhere } from "../support/shards";

const KEY = "sk-test-disconnect";

/** Waits until the upstream has had the one call for `model`. */
const callMade = (model: string) =>
  until(
    () => upstream.requests(model),
    (sent) => sent.length === 1,
    "the upstream call",
  );

/** Waits until `whose` upstream call for `model` was closed before its end. */
const callStopped = (model: string, whose = "the") =>
  until(
    () => upstream.closedEarly(model),
    (closed) => closed === 1,
    `${whose} upstream call to stop`,
  );

/** The run of `request` (its model's upstream) as the create route would hand it over. */
async function specOf(requestId: string, request: CreateRequest): Promise<RunSpec> {
  return {
    responseId: newResponseId(),
    tenantId: await tenantOf(KEY),
    apiKeyId: null,
    requestId,
    createdAt: Math.floor(Date.now() / 1000),
    request,
    upstream: chooseUpstream(readConfig(env), request.model, KEY),
  };
}

/**
 * A JSON create (stream:false) of `spec` run by the runner, whose client goes away once its upstream
 * call was made: the create request's signal aborts then (the `enable_request_signal` flag).
 */
async function jsonCreateLeft(
  spec: RunSpec,
  config: Partial<GatewayConfig> = {},
): Promise<{ answered: Promise<Response>; ctx: ExecutionContext }> {
  const caller = new AbortController();
  const ctx = createExecutionContext();
  const answered = runStoredForeground(
    {
      env,
      ctx,
      config: { ...readConfig(env), ...config },
      request: new Request(`${GATEWAY_URL}/responses`, { signal: caller.signal }),
    },
    spec,
  );
  await callMade(spec.request.model);
  caller.abort();
  return { answered, ctx };
}

/** Opens a stored stream and reads until `count` frames arrived; then the client goes away. */
async function readThenLeave(
  body: Record<string, unknown>,
  count: number,
  headers: Record<string, string> = {},
): Promise<string> {
  const res = await gatewayFetch(`${GATEWAY_URL}/responses`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", ...headers },
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
    const spec = await specOf("req_disconnect", request);
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
    await callStopped(m);
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
    await callMade(m);
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
    const spec = await specOf("req_disconnect_json", request);
    const { answered, ctx } = await jsonCreateLeft(spec, { disconnectGraceMs: 500 });
    await answered;
    await waitOnExecutionContext(ctx);
    expect(await client(KEY).responses.retrieve(spec.responseId)).toMatchObject({ status: "cancelled" });
    await callStopped(m);
    await upstream.release(m);
  });

  it("a store:false stream, which nothing records, stops the upstream call at once", async () => {
    const m = model("gate:5:6");
    await readThenLeave({ model: m, input: "x", store: false }, 4);
    await callStopped(m);
    await upstream.release(m);
  });

  it("a store:false JSON create (stream:false) whose client goes away stops the upstream call at once", async () => {
    const m = model("gate:5:6");
    const spec = await specOf(
      "req_disconnect_stateless_json",
      validateCreateRequest({ model: m, input: "x", store: false }),
    );
    // The create request's signal aborts when its client goes away (the `enable_request_signal` flag).
    const caller = new AbortController();
    const ctx = createExecutionContext();
    const answered = runStateless(env, ctx, readConfig(env), spec, undefined, caller.signal);
    await callMade(m);
    caller.abort();
    await callStopped(m);
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

/** Waits until the conversation's claim is yielded (its holder's client left): its lease set to 0. */
const claimYielded = (conversationId: string) =>
  until(
    () =>
      firstRow<{ active_until: number | null }>("SELECT active_until FROM conversations WHERE id = ?", conversationId),
    (row) => row?.active_until === 0,
    "the turn to yield its claim",
  );

/** The texts of a conversation's items, in order. */
async function itemTexts(conversationId: string): Promise<string[]> {
  const texts: string[] = [];
  for await (const item of client(KEY).conversations.items.list(conversationId, { order: "asc" }))
    texts.push((item as { content?: { text?: string }[] }).content?.[0]?.text ?? "");
  return texts;
}

/**
 * A streamed turn on the conversation, run directly (a disconnect through the Worker's fetch is
 * noticed only at the next write, and a gated model writes nothing): its client reads the first chunk
 * and leaves, and the run goes on. `config` adjusts the deployment's settings.
 */
async function leftTurn(
  conversationId: string,
  held: string,
  config: Partial<GatewayConfig> = {},
): Promise<{ id: string; ctx: ExecutionContext }> {
  const spec = await specOf(
    "req_disconnect_turn",
    validateCreateRequest({ model: held, conversation: conversationId, input: "stopped", stream: true }),
  );
  const ctx = createExecutionContext();
  const response = await runStoredForeground({ env, ctx, config: { ...readConfig(env), ...config } }, spec);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  await reader.read();
  await reader.cancel("the client went away");
  await claimYielded(conversationId);
  return { id: spec.responseId, ctx };
}

describe("a conversation turn whose client left", () => {
  it("yields the conversation: the next turn runs at once, and the left one ends cancelled, appending nothing", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create({ items: [{ role: "user", content: "before" }] });
    const held = model("gate:7:8");
    const { id, ctx } = await leftTurn(conversation.id, held);
    // It ran on, recorded, to where its model holds.
    await untilOutput(openai, id, "w0 w1 w2 ");

    // A chat UI that stopped a turn sends the next message: no `conversation_locked` for the grace period.
    const next = await openai.responses.create({ model: model("echo"), conversation: conversation.id, input: "next" });
    expect(next.output_text).toBe("echo(2): next");
    const left = await until(
      () => openai.responses.retrieve(id),
      (response) => response.status === "cancelled",
      "the left turn to end",
    );
    expect(left.output_text).toBe("w0 w1 w2 ");
    expect(left.output[0]).toMatchObject({ status: "incomplete" });
    expect(await itemTexts(conversation.id)).toEqual(["before", "next", "echo(2): next"]);
    await callStopped(held, "the left turn's");
    await upstream.release(held);
    await waitOnExecutionContext(ctx);
    // What its client saw is kept: the replay is every event it recorded, in order, with no end event.
    const replay = await readEvents(
      (
        await gatewayFetch(`${GATEWAY_URL}/responses/${id}?stream=true`, {
          headers: { authorization: `Bearer ${KEY}` },
        })
      ).body,
    );
    expect(replay.map((event) => event.sequence_number)).toEqual(replay.map((_, index) => index));
    expect(replay.map((event) => event.type).filter((type) => type === "response.output_text.delta")).toHaveLength(3);
    expect(replay.at(-1)?.type).toBe("response.output_text.delta");
  });

  it("that finishes before another turn claims the conversation is appended, as if its client had stayed", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create();
    const held = model("gate:3:4");
    const { id, ctx } = await leftTurn(conversation.id, held);
    await upstream.release(held);
    await waitOnExecutionContext(ctx);
    expect((await openai.responses.retrieve(id)).status).toBe("completed");
    expect(await itemTexts(conversation.id)).toEqual(["stopped", "w0 w1 w2 w3 "]);
    const free = await firstRow<{ active_response_id: string | null }>(
      "SELECT active_response_id FROM conversations WHERE id = ?",
      conversation.id,
    );
    expect(free?.active_response_id).toBeNull();
  });

  it("that finishes after a turn of another isolate took the conversation ends cancelled with its output, appending nothing", async () => {
    const conversation = await client(KEY).conversations.create({ items: [{ role: "user", content: "before" }] });
    const held = model("gate:3:4");
    // No heartbeat in the test's time: only its end can learn that it lost the claim.
    const { id, ctx } = await leftTurn(conversation.id, held, { recordFlushMs: 600_000 });
    // What a turn in another isolate leaves in D1 when it takes the conversation (this isolate's list
    // of yielded turns does not hear of it).
    const other = newResponseId();
    await runEverywhere(
      "UPDATE conversations SET active_response_id = ?, active_until = ? WHERE id = ?",
      other,
      Math.floor(Date.now() / 1000) + 60,
      conversation.id,
    );
    await upstream.release(held);
    await waitOnExecutionContext(ctx);

    const ended = await client(KEY).responses.retrieve(id);
    expect(ended).toMatchObject({ status: "cancelled", completed_at: null });
    expect(ended.output_text).toBe("w0 w1 w2 w3 ");
    expect(await itemTexts(conversation.id)).toEqual(["before"]);
    const claim = await firstRow<{ active_response_id: string | null }>(
      "SELECT active_response_id FROM conversations WHERE id = ?",
      conversation.id,
    );
    expect(claim?.active_response_id).toBe(other);
    const replay = await readEvents(
      (
        await gatewayFetch(`${GATEWAY_URL}/responses/${id}?stream=true`, {
          headers: { authorization: `Bearer ${KEY}` },
        })
      ).body,
    );
    expect(replay.map((event) => event.sequence_number)).toEqual(replay.map((_, index) => index));
    expect(replay.map((event) => event.type)).not.toContain("response.completed");
  });

  it("whose conversation a turn of another isolate took stops at its next heartbeat, cancelled, appending nothing", async () => {
    const conversation = await client(KEY).conversations.create({ items: [{ role: "user", content: "before" }] });
    const held = model("gate:7:8");
    const { id, ctx } = await leftTurn(conversation.id, held, { recordFlushMs: 100 });
    await untilOutput(client(KEY), id, "w0 w1 w2 ");
    // What a turn in another isolate leaves in D1 when it takes the conversation: only the left
    // turn's heartbeat can tell it, while its model stays held.
    await runEverywhere(
      "UPDATE conversations SET active_response_id = ?, active_until = ? WHERE id = ?",
      newResponseId(),
      Math.floor(Date.now() / 1000) + 60,
      conversation.id,
    );
    await callStopped(held, "the left turn's");
    await waitOnExecutionContext(ctx);
    const ended = await client(KEY).responses.retrieve(id);
    expect(ended).toMatchObject({ status: "cancelled", output_text: "w0 w1 w2 " });
    expect(await itemTexts(conversation.id)).toEqual(["before"]);
    await upstream.release(held);
  });

  it("a JSON create (stream:false) whose client left yields too: the next turn stops it, and it answers cancelled", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create({ items: [{ role: "user", content: "before" }] });
    const held = model("gate:7:8");
    const spec = await specOf(
      "req_disconnect_json_turn",
      validateCreateRequest({ model: held, conversation: conversation.id, input: "stopped" }),
    );
    const { answered, ctx } = await jsonCreateLeft(spec);
    await claimYielded(conversation.id);
    const next = await openai.responses.create({ model: model("echo"), conversation: conversation.id, input: "next" });
    expect(next.output_text).toBe("echo(2): next");
    const answer = await (await answered).json<{ status: string; output: unknown[] }>();
    expect(answer.status).toBe("cancelled");
    await waitOnExecutionContext(ctx);
    const stored = await openai.responses.retrieve(spec.responseId);
    expect(stored).toMatchObject({ status: "cancelled", completed_at: null });
    expect(stored.output).toEqual(answer.output);
    expect(await itemTexts(conversation.id)).toEqual(["before", "next", "echo(2): next"]);
    await upstream.release(held);
  });

  it("a background turn never yields: its conversation stays locked while it runs", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create();
    const held = model("gate:3:4");
    const queued = await openai.responses.create({
      model: held,
      conversation: conversation.id,
      input: "x",
      background: true,
      stream: true,
    });
    // Its stream's client leaves; the run goes on.
    const iterator = queued[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.return?.();
    await expect(
      openai.responses.create({ model: model("text:1"), conversation: conversation.id, input: "y" }),
    ).rejects.toMatchObject({ status: 400, code: "conversation_locked" });
    const claim = await firstRow<{ active_until: number }>(
      "SELECT active_until FROM conversations WHERE id = ?",
      conversation.id,
    );
    expect(claim?.active_until).toBeGreaterThan(Date.now() / 1000);
    await upstream.release(held);
  });
});

/**
 * A stored stream run directly (as `leftTurn`): its client reads the first `frames` events (all the
 * events recorded, for a model held after them) and leaves, and the run goes on; returned once D1
 * marks it left. `config` adjusts the settings.
 */
async function leftResponse(
  held: string,
  frames: number,
  config: Partial<GatewayConfig> = {},
): Promise<{ id: string; ctx: ExecutionContext }> {
  const spec = await specOf(
    "req_disconnect_left",
    validateCreateRequest({ model: held, input: "stopped", stream: true }),
  );
  const ctx = createExecutionContext();
  // A cancel is noticed at the next write: once the model holds, the next keepalive comment's.
  const settings = { ...readConfig(env), streamKeepaliveMs: 50, ...config };
  const response = await runStoredForeground({ env, ctx, config: settings }, spec);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (text.split("\n\n").length - 1 < frames) {
    const next = await reader.read();
    if (next.done) break;
    text += decoder.decode(next.value, { stream: true });
  }
  await reader.cancel("the client went away");
  await until(
    () => firstRow<{ client_left: number | null }>("SELECT client_left FROM responses WHERE id = ?", spec.responseId),
    (row) => row?.client_left === 1,
    "the run to be marked left",
  );
  return { id: spec.responseId, ctx };
}

/**
 * `env` with every D1 binding behind a gate that holds the flush marking a run's client gone
 * (`client_left` set) until a single-row read of `id` (not the chain's recursive one) has answered:
 * the moment a create continuing from the run, right after its client left, finds its row unmarked.
 */
function markGated(id: () => string | undefined): { env: Env; held: Promise<void> } {
  let heldNow!: () => void;
  const held = new Promise<void>((resolve) => (heldNow = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const sqlOf = new WeakMap<object, string>();
  const watched = (statement: D1PreparedStatement, sql: string, params: unknown[]): D1PreparedStatement => {
    const proxy = new Proxy(statement, {
      get(inner, name) {
        const value: unknown = Reflect.get(inner, name);
        if (typeof value !== "function") return value;
        const method = (value as (...args: unknown[]) => unknown).bind(inner);
        if (name === "bind")
          return (...values: unknown[]) => watched(method(...values) as D1PreparedStatement, sql, values);
        if (!["all", "first", "raw", "run"].includes(String(name))) return method;
        return async (...args: unknown[]) => {
          const answer = await method(...args);
          if (/^select/i.test(sql) && params.includes(id())) release();
          return answer;
        };
      },
    });
    sqlOf.set(proxy, sql);
    return proxy;
  };
  const gate = (binding: D1Database): D1Database =>
    new Proxy(binding, {
      get(target, name) {
        const value: unknown = Reflect.get(target, name);
        if (typeof value !== "function") return value;
        const method = (value as (...args: unknown[]) => unknown).bind(target);
        if (name === "prepare") return (sql: string) => watched(method(sql) as D1PreparedStatement, sql, []);
        if (name !== "batch") return method;
        return async (statements: D1PreparedStatement[]) => {
          if (
            statements.some((statement) =>
              /^update "responses" set .*"client_left" = \?/.test(sqlOf.get(statement) ?? ""),
            )
          ) {
            heldNow();
            await released;
          }
          return method(statements);
        };
      },
    });
  const bindings = Object.entries(env).map(([name, value]: [string, unknown]) => {
    const d1 = typeof value === "object" && value !== null && "prepare" in value && "batch" in value;
    return [name, d1 ? gate(value as D1Database) : value];
  });
  return { env: Object.fromEntries(bindings) as Env, held };
}

/** The row of a response as D1 has it now. */
async function rowOf(id: string): Promise<ResponseRow> {
  const tenantId = await tenantOf(KEY);
  const row = await findResponse(await tenantDb(env, tenantId), tenantId, id);
  if (row === undefined) throw new Error(`no row for ${id}`);
  return row;
}

/** What a create in another isolate writes when it ends a left run (this isolate's run is not told). */
async function endedElsewhere(id: string): Promise<void> {
  const row = await rowOf(id);
  await endDeadRun(await tenantDb(env, row.tenantId), row, {
    end: "cancelled",
    flushIntervalMs: 1000,
    onError: () => undefined,
    runLogs: true,
  });
}

/** The texts of the assistant messages the upstream was sent in its call for `m`. */
async function sentAssistantTexts(m: string): Promise<string[]> {
  const [sent] = await upstream.requests(m);
  const input = (sent?.body.input ?? []) as { role?: string; content?: string | { text?: string }[] }[];
  return input
    .filter((item) => item.role === "assistant")
    .map((item) => (typeof item.content === "string" ? item.content : (item.content?.[0]?.text ?? "")));
}

/** The replayed events of a stored response. */
async function replayOf(id: string): Promise<Record<string, unknown>[]> {
  const res = await gatewayFetch(`${GATEWAY_URL}/responses/${id}?stream=true`, {
    headers: { authorization: `Bearer ${KEY}` },
  });
  return readEvents(res.body);
}

describe("a response whose client left, continued with previous_response_id", () => {
  it("is ended at once by the create continuing from it, which has its partial answer in context", async () => {
    const openai = client(KEY);
    // gate:7:8 holds after three words: the client reads all seven events, then leaves (a stop button).
    const held = model("gate:7:8");
    // No heartbeat in the test's time: only the create can stop it.
    const { id, ctx } = await leftResponse(held, 7, { recordFlushMs: 600_000 });

    // A chat UI that stopped a stream continues from it: no `previous_response_in_progress` for the grace.
    const echo = model("echo");
    const next = await openai.responses.create({ model: echo, previous_response_id: id, input: "next" });
    expect(next.output_text).toBe("echo(3): next");
    expect(await sentAssistantTexts(echo)).toEqual(["w0 w1 w2 "]);
    const left = await openai.responses.retrieve(id);
    expect(left).toMatchObject({ status: "cancelled", output_text: "w0 w1 w2 " });
    expect(left.output[0]).toMatchObject({ status: "incomplete" });
    // The run, in this isolate, stopped its upstream call at once and wrote nothing over the end.
    await callStopped(held, "the left run's");
    await waitOnExecutionContext(ctx);
    expect(await openai.responses.retrieve(id)).toMatchObject({ status: "cancelled", output_text: "w0 w1 w2 " });
    const replay = await replayOf(id);
    expect(replay.map((event) => event.sequence_number)).toEqual(replay.map((_, index) => index));
    expect(replay.filter((event) => event.type === "response.output_text.delta")).toHaveLength(3);
    expect(replay.at(-1)?.type).toBe("response.output_text.delta");
    // The mark is written only for a run whose client left.
    expect((await rowOf(next.id)).clientLeft).toBeNull();
    await upstream.release(held);
  });

  it("continued at once, while the flush marking its client gone is still on its way to D1, is ended, not refused", async () => {
    // An agent's stop then next turn: the create reads the row before its client_left mark lands.
    const held = model("gate:7:8");
    const spec = await specOf(
      "req_disconnect_mark",
      validateCreateRequest({ model: held, input: "stopped", stream: true }),
    );
    const gated = markGated(() => spec.responseId);
    const ctx = createExecutionContext();
    const settings = { ...readConfig(env), streamKeepaliveMs: 50, recordFlushMs: 600_000 };
    const response = await runStoredForeground({ env: gated.env, ctx, config: settings }, spec);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (text.split("\n\n").length - 1 < 7) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel("the client went away");
    await gated.held;

    const openai = new OpenAI({
      apiKey: KEY,
      baseURL: GATEWAY_URL,
      fetch: (input: string | URL | Request, init?: RequestInit) =>
        worker.fetch(new Request(input, init), gated.env, createExecutionContext()),
      maxRetries: 0,
    });
    const echo = model("echo");
    const next = await openai.responses.create({ model: echo, previous_response_id: spec.responseId, input: "next" });
    expect(next.output_text).toBe("echo(3): next");
    expect(await sentAssistantTexts(echo)).toEqual(["w0 w1 w2 "]);
    expect(await openai.responses.retrieve(spec.responseId)).toMatchObject({
      status: "cancelled",
      output_text: "w0 w1 w2 ",
    });
    await callStopped(held, "the left run's");
    await waitOnExecutionContext(ctx);
    await upstream.release(held);
  });

  it("ended by a create of another isolate, it stops at its next heartbeat and writes nothing over the end", async () => {
    const held = model("gate:7:8");
    const { id, ctx } = await leftResponse(held, 7, { recordFlushMs: 100 });
    await endedElsewhere(id);
    await callStopped(held, "the left run's");
    await waitOnExecutionContext(ctx);
    expect(await client(KEY).responses.retrieve(id)).toMatchObject({
      status: "cancelled",
      output_text: "w0 w1 w2 ",
    });
    await upstream.release(held);
  });

  it("whose model finishes after a create ended it keeps the create's end, and the chain reads it", async () => {
    const openai = client(KEY);
    const held = model("gate:7:8");
    // No heartbeat in the test's time: only its end's write can learn of the other end.
    const { id, ctx } = await leftResponse(held, 7, { recordFlushMs: 600_000 });
    await endedElsewhere(id);
    await upstream.release(held);
    await waitOnExecutionContext(ctx);
    expect(await openai.responses.retrieve(id)).toMatchObject({ status: "cancelled", output_text: "w0 w1 w2 " });
    const replay = await replayOf(id);
    expect(replay.map((event) => event.sequence_number)).toEqual(replay.map((_, index) => index));
    expect(replay.map((event) => event.type)).not.toContain("response.completed");
    const echo = model("echo");
    await openai.responses.create({ model: echo, previous_response_id: id, input: "next" });
    expect(await sentAssistantTexts(echo)).toEqual(["w0 w1 w2 "]);
  });

  it("that ended itself before the create's end landed keeps its own end, and the chain reads it", async () => {
    const openai = client(KEY);
    const held = model("gate:3:4");
    const { id, ctx } = await leftResponse(held, 3, { recordFlushMs: 600_000 });
    // The create read the row while it ran; the run's own end then came first.
    const running = await rowOf(id);
    await upstream.release(held);
    await waitOnExecutionContext(ctx);
    const tenantId = await tenantOf(KEY);
    await endLeftRun(await tenantDb(env, tenantId), running, 1000);
    expect(await openai.responses.retrieve(id)).toMatchObject({ status: "completed", output_text: "w0 w1 w2 w3 " });
    const replay = await replayOf(id);
    expect(replay.map((event) => event.sequence_number)).toEqual(replay.map((_, index) => index));
    expect(replay.at(-1)?.type).toBe("response.completed");
    const echo = model("echo");
    await openai.responses.create({ model: echo, previous_response_id: id, input: "next" });
    expect(await sentAssistantTexts(echo)).toEqual(["w0 w1 w2 w3 "]);
  });

  it("a create's end made from a log the run has flushed past is made again from the new log", async () => {
    const held = model("gate:7:8");
    const { id, ctx } = await leftResponse(held, 7, { recordFlushMs: 600_000 });
    const row = await rowOf(id);
    // The row as the create read it before the run's last flush: two events fewer in its tail.
    const db = await tenantDb(env, row.tenantId);
    const events: RecordedEvent[] = [];
    for await (const batch of readRecorded(db, row, -1)) events.push(...batch);
    expect(row.tailSeq).toBe(0);
    const stale = { ...row, eventCount: row.eventCount - 2, eventsTail: compressEvents(events.slice(0, -2)) };
    await endLeftRun(db, stale, 1000);
    expect(await client(KEY).responses.retrieve(id)).toMatchObject({
      status: "cancelled",
      output_text: "w0 w1 w2 ",
    });
    expect((await rowOf(id)).eventCount).toBe(row.eventCount);
    await callStopped(held, "the left run's");
    await waitOnExecutionContext(ctx);
    await upstream.release(held);
  });

  it("two creates continuing from it at once both run, from the one end written", async () => {
    const openai = client(KEY);
    const held = model("gate:7:8");
    const { id, ctx } = await leftResponse(held, 7, { recordFlushMs: 600_000 });
    const [a, b] = [model("echo"), model("echo")];
    const answers = await Promise.all(
      [a, b].map((m) => openai.responses.create({ model: m, previous_response_id: id, input: "next" })),
    );
    expect(answers.map((answer) => answer.output_text)).toEqual(["echo(3): next", "echo(3): next"]);
    expect(await sentAssistantTexts(a)).toEqual(["w0 w1 w2 "]);
    expect(await sentAssistantTexts(b)).toEqual(["w0 w1 w2 "]);
    await callStopped(held, "the left run's");
    await waitOnExecutionContext(ctx);
    expect(await openai.responses.retrieve(id)).toMatchObject({ status: "cancelled", output_text: "w0 w1 w2 " });
    const replay = await replayOf(id);
    expect(replay.map((event) => event.sequence_number)).toEqual(replay.map((_, index) => index));
    await upstream.release(held);
  });

  it("a background response is never ended this way: continuing from it waits for its end", async () => {
    const openai = client(KEY);
    const { model: held, id } = await heldBackground(openai);
    await expect(
      openai.responses.create({ model: model("text:1"), previous_response_id: id, input: "y" }),
    ).rejects.toMatchObject({ status: 400, code: "previous_response_in_progress" });
    expect((await rowOf(id)).clientLeft).toBeNull();
    await upstream.release(held);
  });
});

/** Waits until D1 has the run's client left: the flush that marks it. */
const markedLeft = (id: string) =>
  until(
    () => firstRow<{ client_left: number | null }>("SELECT client_left FROM responses WHERE id = ?", id),
    (row) => row?.client_left === 1,
    "the run to be marked left",
  );

/** Waits until a reader the run's client came back as holds it (its `client_left` moved past now). */
const heldByReader = (id: string) =>
  until(
    () => firstRow<{ client_left: number | null }>("SELECT client_left FROM responses WHERE id = ?", id),
    (row) => (row?.client_left ?? 0) > Date.now() / 1000,
    "the returning client to hold the run",
  );

/** A stored stream whose client read its first frames and left, then came back with the same Idempotency-Key. */
async function retriedAfterLeaving(body: Record<string, unknown>): Promise<{ id: string; events: Promise<unknown[]> }> {
  const key = `retry-${crypto.randomUUID()}`;
  const id = await readThenLeave({ ...body, stream: true }, 4, { "idempotency-key": key });
  await markedLeft(id);
  const retry = await gatewayFetch(`${GATEWAY_URL}/responses`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", "idempotency-key": key },
    body: JSON.stringify({ ...body, stream: true }),
  });
  expect(retry.headers.get("idempotent-replayed")).toBe("true");
  // Read to its end meanwhile, as a client does.
  const events = readEvents(retry.body);
  await heldByReader(id);
  return { id, events };
}

/**
 * Opens a stored stream through the Worker's fetch and reads its first `count` frames; its client
 * stays, reading on to the end (the frames and comments it got after, as text).
 */
async function readingStream(
  body: Record<string, unknown>,
  count: number,
): Promise<{ id: string; rest: Promise<string> }> {
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
  const rest = (async () => {
    let after = "";
    for (let next = await reader.read(); !next.done; next = await reader.read()) after += next.value;
    return after;
  })();
  const first = text.slice(text.indexOf("data: ") + 6, text.indexOf("\n\n"));
  return { id: (JSON.parse(first) as { response: { id: string } }).response.id, rest };
}

/**
 * A stream run directly (as `leftTurn`; store:false by src/run/stateless.ts) whose client reads the first `frames` events and then
 * closes its connection unnoticed: a closed connection shows only at the next write, so the next
 * chunk written is the one that finds it gone (here the client takes it, then cancels).
 */
async function leftUnnoticed(
  body: Record<string, unknown>,
  frames: number,
): Promise<{ id: string; ctx: ExecutionContext }> {
  const spec = await specOf("req_disconnect_unnoticed", validateCreateRequest({ ...body, stream: true }));
  const ctx = createExecutionContext();
  const response =
    body.store === false
      ? await runStateless(env, ctx, readConfig(env), spec)
      : await runStoredForeground({ env, ctx, config: readConfig(env) }, spec);
  const reader = (response.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (text.split("\n\n").length - 1 < frames) {
    const next = await reader.read();
    if (next.done) break;
    text += next.value;
  }
  void reader.read().then(() => reader.cancel("the connection was closed"));
  return { id: spec.responseId, ctx };
}

// A chat UI's stop button while the model thinks silently: the run learns its client left only at
// its next write (a keepalive comment every STREAM_KEEPALIVE_SECONDS, 10 here), so the next create
// asks it to write now instead of being refused until then.
describe("a stream whose client left unnoticed, its model silent", () => {
  it("the next turn on its conversation asks it: it yields, the turn runs at once, and it ends cancelled", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create({ items: [{ role: "user", content: "before" }] });
    const held = model("gate:7:8");
    const { id, ctx } = await leftUnnoticed({ model: held, conversation: conversation.id, input: "stopped" }, 7);
    const next = await openai.responses.create({ model: model("echo"), conversation: conversation.id, input: "next" });
    expect(next.output_text).toBe("echo(2): next");
    await callStopped(held, "the left turn's");
    expect(await openai.responses.retrieve(id)).toMatchObject({ status: "cancelled", output_text: "w0 w1 w2 " });
    expect(await itemTexts(conversation.id)).toEqual(["before", "next", "echo(2): next"]);
    await upstream.release(held);
    await waitOnExecutionContext(ctx);
  });

  it("a turn whose client is there keeps its conversation: the next turn is refused, and the client reads on", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create();
    const held = model("gate:7:8");
    const { id, rest } = await readingStream({ model: held, conversation: conversation.id, input: "first" }, 7);
    await expect(
      openai.responses.create({ model: model("echo"), conversation: conversation.id, input: "next" }),
    ).rejects.toMatchObject({ status: 400, code: "conversation_locked" });
    await upstream.release(held);
    // It was asked: keepalive comments, then the rest of its events.
    const after = await rest;
    expect(after.startsWith(": keepalive\n\n")).toBe(true);
    expect(after).toContain("event: response.completed");
    expect((await openai.responses.retrieve(id)).status).toBe("completed");
    expect(await itemTexts(conversation.id)).toEqual(["first", words(8)]);
  });

  it("a store:false turn asked by the next turn stops at once and frees its conversation: the turn runs", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create({ items: [{ role: "user", content: "before" }] });
    const held = model("gate:7:8");
    const body = { model: held, conversation: conversation.id, input: "stopped", store: false };
    const { ctx } = await leftUnnoticed(body, 7);
    const next = await openai.responses.create({ model: model("echo"), conversation: conversation.id, input: "next" });
    expect(next.output_text).toBe("echo(2): next");
    await callStopped(held, "the left turn's");
    expect(await itemTexts(conversation.id)).toEqual(["before", "next", "echo(2): next"]);
    await upstream.release(held);
    await waitOnExecutionContext(ctx);
  });

  it("a store:false turn whose client is there keeps its conversation: the next turn is refused, and the client reads on", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create();
    const held = model("gate:7:8");
    const { rest } = await readingStream(
      { model: held, conversation: conversation.id, input: "first", store: false },
      7,
    );
    await expect(
      openai.responses.create({ model: model("echo"), conversation: conversation.id, input: "next" }),
    ).rejects.toMatchObject({ status: 400, code: "conversation_locked" });
    await upstream.release(held);
    const after = await rest;
    expect(after.startsWith(": keepalive\n\n")).toBe(true);
    expect(after).toContain("event: response.completed");
    expect(await itemTexts(conversation.id)).toEqual(["first", words(8)]);
  });

  it("unasked, a silent stream on a conversation costs no D1 call and one timer fire a second", async () => {
    // The cost of being askable: a long thinking turn pays for a question rarely asked.
    const conversation = await client(KEY).conversations.create();
    const held = model("gate:7:8");
    const spec = await specOf(
      "req_disconnect_unasked",
      validateCreateRequest({ model: held, conversation: conversation.id, input: "think", stream: true }),
    );
    let d1Calls = 0;
    const counted = (binding: D1Database): D1Database =>
      new Proxy(binding, {
        get(target, name) {
          const value: unknown = Reflect.get(target, name);
          if (typeof value !== "function") return value;
          return (...args: unknown[]) => {
            if (name === "batch" || name === "exec") d1Calls += 1;
            const answer = (value as (...args: unknown[]) => unknown).apply(target, args);
            if (name !== "prepare") return answer;
            return new Proxy(answer as D1PreparedStatement, {
              get(statement, method) {
                const fn: unknown = Reflect.get(statement, method);
                if (typeof fn !== "function") return fn;
                return (...values: unknown[]) => {
                  if (["all", "first", "raw", "run"].includes(String(method))) d1Calls += 1;
                  return (fn as (...values: unknown[]) => unknown).apply(statement, values);
                };
              },
            });
          };
        },
      });
    const bindings = Object.entries(env).map(([name, value]: [string, unknown]) => {
      const d1 = typeof value === "object" && value !== null && "prepare" in value && "batch" in value;
      return [name, d1 ? counted(value as D1Database) : value];
    });
    // Every timer the run sets counts its fires.
    let fires = 0;
    const { setInterval: realInterval, setTimeout: realTimeout } = globalThis;
    const counting =
      <T extends (...args: never[]) => unknown>(real: T) =>
      (callback: () => void, ms?: number) =>
        (real as unknown as (callback: () => void, ms?: number) => unknown)(() => {
          fires += 1;
          callback();
        }, ms);
    globalThis.setInterval = counting(realInterval) as unknown as typeof setInterval;
    globalThis.setTimeout = counting(realTimeout) as unknown as typeof setTimeout;
    const ctx = createExecutionContext();
    try {
      // No keepalive, heartbeat or idle check falls due in the window (the mock pings every second).
      const settings = { ...readConfig(env), streamKeepaliveMs: 10_000, recordFlushMs: 10_000, idleTimeoutMs: 60_000 };
      const runEnv = Object.fromEntries(bindings) as Env;
      const response = await runStoredForeground({ env: runEnv, ctx, config: settings }, spec);
      const reader = (response.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (text.split("\n\n").length - 1 < 7) text += (await reader.read()).value ?? "";
      // Its row's deferred start write (a second in) is behind it; then the model stays silent.
      await until(
        () => firstRow<{ id: string }>("SELECT id FROM responses WHERE id = ?", spec.responseId),
        (row) => row !== null && row !== undefined,
        "the row to be written",
      );
      globalThis.setTimeout = realTimeout;
      globalThis.setInterval = realInterval;
      const [callsBefore, firesBefore] = [d1Calls, fires];
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      expect(d1Calls - callsBefore).toBe(0);
      // The pickup timer's, once a second (no keepalive or heartbeat is due in the window).
      expect(fires - firesBefore).toBeGreaterThanOrEqual(2);
      expect(fires - firesBefore).toBeLessThanOrEqual(3);
      await upstream.release(held);
      while (!(await reader.read()).done);
    } finally {
      globalThis.setTimeout = realTimeout;
      globalThis.setInterval = realInterval;
    }
    await waitOnExecutionContext(ctx);
  });

  it("a create continuing from it asks it: it is marked left and ended, and the create has its partial answer", async () => {
    const openai = client(KEY);
    const held = model("gate:7:8");
    const { id, ctx } = await leftUnnoticed({ model: held, input: "stopped" }, 7);
    const echo = model("echo");
    const next = await openai.responses.create({ model: echo, previous_response_id: id, input: "next" });
    expect(next.output_text).toBe("echo(3): next");
    expect(await sentAssistantTexts(echo)).toEqual(["w0 w1 w2 "]);
    await callStopped(held, "the left run's");
    expect(await openai.responses.retrieve(id)).toMatchObject({ status: "cancelled", output_text: "w0 w1 w2 " });
    await upstream.release(held);
    await waitOnExecutionContext(ctx);
  });

  it("a response whose client is there is not ended: continuing from it is refused, and the client reads on", async () => {
    const openai = client(KEY);
    const held = model("gate:7:8");
    const { id, rest } = await readingStream({ model: held, input: "first" }, 7);
    await expect(
      openai.responses.create({ model: model("echo"), previous_response_id: id, input: "next" }),
    ).rejects.toMatchObject({ status: 400, code: "previous_response_in_progress" });
    await upstream.release(held);
    // It was asked (keepalive comments), and ran on to its end.
    const after = await rest;
    expect(after.startsWith(": keepalive\n\n")).toBe(true);
    expect(after).toContain("event: response.completed");
    expect((await openai.responses.retrieve(id)).status).toBe("completed");
  });
});

describe("a response whose client left and came back as a reader", () => {
  it("a resume (GET ?stream=true) holds it past the disconnect grace: it runs to its end, which the reader gets", async () => {
    const openai = client(KEY);
    const held = model("gate:7:8");
    const graceMs = 3000;
    const { id, ctx } = await leftResponse(held, 7, { disconnectGraceMs: graceMs });
    const graceOver = Date.now() + graceMs;
    const resumed = await gatewayFetch(`${GATEWAY_URL}/responses/${id}?stream=true`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    const events = readEvents(resumed.body);
    await heldByReader(id);
    // Past the grace its client's departure started: without a reader it would be cancelled by now.
    await until(
      () => Promise.resolve(Date.now()),
      (now) => now > graceOver + 500,
      "the disconnect grace to pass",
    );
    expect((await openai.responses.retrieve(id)).status).toBe("in_progress");
    await upstream.release(held);
    const replay = await events;
    expect(replay.map((event) => event.sequence_number)).toEqual(replay.map((_, index) => index));
    expect(replay.at(-1)?.type).toBe("response.completed");
    await waitOnExecutionContext(ctx);
    expect(await openai.responses.retrieve(id)).toMatchObject({
      status: "completed",
      output_text: "w0 w1 w2 w3 w4 w5 w6 w7 ",
    });
    expect(await upstream.closedEarly(held)).toBe(0);
  });

  it("an idempotent retry of the create holds it: a create continuing from it is refused meanwhile, and the retry gets its end", async () => {
    const openai = client(KEY);
    const held = model("gate:7:8");
    const { id, events } = await retriedAfterLeaving({ model: held, input: "x" });
    // As for a client that never left: the run is not ended under the reader.
    await expect(
      openai.responses.create({ model: model("echo"), previous_response_id: id, input: "next" }),
    ).rejects.toMatchObject({ status: 400, code: "previous_response_in_progress" });
    await upstream.release(held);
    const replay = (await events) as { type?: string }[];
    expect(replay.at(-1)?.type).toBe("response.completed");
    expect(await openai.responses.retrieve(id)).toMatchObject({ status: "completed" });
    expect(await upstream.closedEarly(held)).toBe(0);
  });

  it("an idempotent retry of a conversation turn holds its conversation: the next turn is refused meanwhile", async () => {
    const openai = client(KEY);
    const conversation = await openai.conversations.create();
    const held = model("gate:7:8");
    const { id, events } = await retriedAfterLeaving({ model: held, conversation: conversation.id, input: "x" });
    await expect(
      openai.responses.create({ model: model("echo"), conversation: conversation.id, input: "next" }),
    ).rejects.toMatchObject({ status: 400, code: "conversation_locked" });
    await upstream.release(held);
    const replay = (await events) as { type?: string }[];
    expect(replay.at(-1)?.type).toBe("response.completed");
    expect(await openai.responses.retrieve(id)).toMatchObject({ status: "completed" });
    expect(await itemTexts(conversation.id)).toEqual(["x", "w0 w1 w2 w3 w4 w5 w6 w7 "]);
  });

  it("whose reader's hold lapsed (the reader left too) is ended by a create continuing from it, as before", async () => {
    const openai = client(KEY);
    const held = model("gate:7:8");
    const { id, ctx } = await leftResponse(held, 7, { recordFlushMs: 600_000 });
    // Staged as a hold looks once its reader stopped renewing it: a second already past.
    await runEverywhere("UPDATE responses SET client_left = ? WHERE id = ?", Math.floor(Date.now() / 1000) - 1, id);
    const next = await openai.responses.create({ model: model("echo"), previous_response_id: id, input: "next" });
    expect(next.output_text).toBe("echo(3): next");
    expect(await openai.responses.retrieve(id)).toMatchObject({ status: "cancelled", output_text: "w0 w1 w2 " });
    await callStopped(held, "the left run's");
    await waitOnExecutionContext(ctx);
    await upstream.release(held);
  });

  it("a resume that leaves lets go of the run at once: a create continuing from it stops it without waiting for the hold to lapse", async () => {
    const openai = client(KEY);
    const held = model("gate:7:8");
    const { id, ctx } = await leftResponse(held, 7, { recordFlushMs: 600_000 });
    const resumed = await gatewayFetch(`${GATEWAY_URL}/responses/${id}?stream=true`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    const reader = (resumed.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await heldByReader(id);
    const leftAt = Math.floor(Date.now() / 1000);
    await reader.cancel("the reader went away too");
    const released = await until(
      () => firstRow<{ client_left: number }>("SELECT client_left FROM responses WHERE id = ?", id),
      (row) => (row?.client_left ?? 0) <= Date.now() / 1000,
      "the reader to let go of the run",
    );
    // From when it left, not 5 s later (CLIENT_HOLD_SECONDS): the next turn was refused meanwhile.
    expect(released?.client_left).toBeLessThanOrEqual(leftAt + 1);
    const next = await openai.responses.create({ model: model("echo"), previous_response_id: id, input: "next" });
    expect(next.output_text).toBe("echo(3): next");
    expect(await openai.responses.retrieve(id)).toMatchObject({ status: "cancelled", output_text: "w0 w1 w2 " });
    await callStopped(held, "the left run's");
    await waitOnExecutionContext(ctx);
    await upstream.release(held);
  });

  it("a create's end made from a read before a reader came back does not land: the run goes on", async () => {
    const held = model("gate:7:8");
    const { id, ctx } = await leftResponse(held, 7, { recordFlushMs: 600_000 });
    // The create read the row while its client was gone; a retry then came back and holds it.
    const row = await rowOf(id);
    await runEverywhere("UPDATE responses SET client_left = ? WHERE id = ?", Math.floor(Date.now() / 1000) + 60, id);
    await endLeftRun(await tenantDb(env, row.tenantId), row, 1000);
    expect((await rowOf(id)).status).toBe("in_progress");
    await upstream.release(held);
    await waitOnExecutionContext(ctx);
    expect(await client(KEY).responses.retrieve(id)).toMatchObject({ status: "completed" });
  });
});
