// Compaction for any upstream. Over a Chat Completions upstream the gateway compacts itself: the
// upstream model writes the summary, the compaction item carries it sealed for the caller, and it
// expands again when it comes back in `input` (a foreign or altered one is a 400). Create-time
// compaction (`context_management`) works the same way; a Responses upstream gets it forwarded.
// input_tokens over a chat upstream answers an estimate that says so.

import type OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { estimateInputTokens } from "../../src/compaction/estimate";
import { INPUT_MAX_ITEMS } from "../../src/responses/create-request";
import { received, routed } from "../support/chat";
import { client, GATEWAY_URL, gatewayFetch, model, readEvents, upstream } from "../support/gateway";
import { until } from "../support/hooks";
import { validateAgainstSpec } from "../support/oracle";

type Json = Record<string, unknown>;

const history = [
  { role: "user" as const, content: "Plan a trip to Lyon." },
  { role: "assistant" as const, content: "Day 1: Vieux Lyon. Day 2: Fourvière." },
  { role: "user" as const, content: "Add a museum." },
];

/** What the chat mock was sent as `messages`, as `role:text` strings. */
const transcript = (messages: unknown): string[] =>
  (messages as { role: string; content: unknown }[]).map(
    (message) =>
      `${message.role}:${typeof message.content === "string" ? message.content : JSON.stringify(message.content)}`,
  );

/** The responses of `m` the history lists for `key` (GET /v1/responses?model=). */
async function listedOf(key: string, m: string): Promise<OpenAI.Responses.Response[]> {
  const res = await gatewayFetch(`${GATEWAY_URL}/responses?model=${encodeURIComponent(m)}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return (await res.json<{ data: OpenAI.Responses.Response[] }>()).data;
}

async function compacted(openai: OpenAI, m: string) {
  return openai.responses.compact({ model: m, input: history });
}

describe("POST /v1/responses/compact over a Chat Completions upstream", () => {
  it("asks the upstream model for a summary and answers the kept messages and one compaction item", async () => {
    const openai = client("sk-test-compaction-a");
    const m = routed("summarize");
    const result = await compacted(openai, m.model);
    expect(result).toMatchObject({
      object: "response.compaction",
      output: [
        { type: "message", role: "user", content: [{ type: "input_text", text: "Plan a trip to Lyon." }] },
        { type: "message", role: "user", content: [{ type: "input_text", text: "Add a museum." }] },
        {
          type: "compaction",
          id: expect.stringMatching(/^cmp_/) as string,
          encrypted_content: expect.stringMatching(/^gwc1\./) as string,
        },
      ],
      usage: { input_tokens: 100, output_tokens: 20, total_tokens: 120 },
    });
    expect(JSON.stringify(result)).not.toContain("SUMMARY");
    const validation = await validateAgainstSpec("CompactedResponse", [result]);
    expect(validation.failures).toEqual([]);
    const [sent] = await received(m);
    expect(sent?.body.stream).toBe(false);
    expect(transcript(sent?.body.messages).slice(1)).toEqual([
      "user:Plan a trip to Lyon.",
      "assistant:Day 1: Vieux Lyon. Day 2: Fourvière.",
      "user:Add a museum.",
      "user:Write the handoff summary of the conversation above now.",
    ]);
  });

  it("compacts a history of more than 2,048 items, as a long Codex session sends it", async () => {
    const m = routed("summarize");
    const input = Array.from({ length: INPUT_MAX_ITEMS + 1 }, (_, i) => ({
      role: "user" as const,
      content: `turn ${i}`,
    }));
    const result = await client("sk-test-compaction-a").responses.compact({ model: m.model, input });
    expect(result.output.at(-1)).toMatchObject({ type: "compaction" });
    expect(result.output).toHaveLength(INPUT_MAX_ITEMS + 2);
  });

  it("sends one system message, first, when the context opens with its own (Codex CLI's developer messages)", async () => {
    const m = routed("summarize");
    await client("sk-test-compaction-a").responses.compact({
      model: m.model,
      instructions: "You are Codex.",
      input: [{ role: "developer", content: "Sandbox: workspace-write." }, ...history],
    });
    const [sent] = await received(m);
    const roles = (sent?.body.messages as { role: string }[]).map((message) => message.role);
    expect(roles).toEqual(["system", "user", "assistant", "user", "user"]);
    const [system] = transcript(sent?.body.messages);
    expect(system).toMatch(/^system:You are compacting a long conversation/);
    expect(system).toContain("Sandbox: workspace-write.");
  });

  it("expands the item again when it comes back in input, dropping what it summarized", async () => {
    const openai = client("sk-test-compaction-a");
    const { output } = await compacted(openai, routed("summarize").model);
    const m = routed("summarize");
    const next = await openai.responses.create({
      model: m.model,
      input: [...(output as never[]), { role: "user", content: "And a restaurant?" }],
    });
    expect(next.status).toBe("completed");
    const [sent] = await received(m);
    expect(transcript(sent?.body.messages)).toEqual([
      "user:Plan a trip to Lyon.",
      "user:Add a museum.",
      expect.stringMatching(
        /^user:\[Summary of the earlier conversation.*\]\nSUMMARY OF system:.*assistant:Day 1: Vieux Lyon/s,
      ) as string,
      "user:And a restaurant?",
    ]);
  });

  it("compacts a compacted context again into one item, its earlier summary still sealed", async () => {
    const openai = client("sk-test-compaction-a");
    const { output } = await compacted(openai, routed("summarize").model);
    const m = routed("summarize");
    const again = await openai.responses.compact({
      model: m.model,
      input: [
        ...(output as never[]),
        { role: "assistant", content: "Musée des Confluences." },
        { role: "user", content: "And a restaurant?" },
      ],
    });
    // OpenAI's compacted form: the user messages, then the one new item. The first summary is in the
    // second (the model was sent it), never handed to the client as a message of its own.
    expect(again.output.map((item) => item.type)).toEqual(["message", "message", "message", "compaction"]);
    expect(again.output.slice(0, 3)).toMatchObject(
      ["Plan a trip to Lyon.", "Add a museum.", "And a restaurant?"].map((text) => ({
        role: "user",
        content: [{ type: "input_text", text }],
      })),
    );
    expect(JSON.stringify(again)).not.toContain("SUMMARY");
    const [sent] = await received(m);
    expect(transcript(sent?.body.messages)[3]).toMatch(/^user:\[Summary of the earlier conversation/);
  });

  it("summarizes the newest part of a context longer than the server's, leaving the older half out until it fits", async () => {
    const m = routed("summarize:window");
    const turn = (i: number) => [
      { role: "user" as const, content: `Question ${i}: ${"why ".repeat(30)}` },
      { type: "function_call" as const, call_id: `call_${i}`, name: "lookup", arguments: `{"i":${i}}` },
      { type: "function_call_output" as const, call_id: `call_${i}`, output: `result ${i}: ${"data ".repeat(30)}` },
      { role: "assistant" as const, content: `Answer ${i}: ${"because ".repeat(15)}` },
    ];
    const input = [{ role: "developer" as const, content: "Be terse." }, ...[1, 2, 3, 4].flatMap(turn)];
    const result = await client("sk-test-compaction-a").responses.compact({ model: m.model, input });
    const calls = await received(m);
    expect(calls.length).toBeGreaterThan(1);
    const last = transcript(calls.at(-1)?.body.messages);
    expect(last[0]).toContain("Be terse.");
    expect(last.join("\n")).not.toContain("Question 1:");
    expect(last.join("\n")).toContain("Answer 4:");
    expect(last.at(-1)).toBe(
      "user:Write the handoff summary of the conversation above now. Its oldest part did not fit in your context and was left out.",
    );
    // No tool answer is sent without its call (a chat server refuses one).
    const sent = calls.at(-1)?.body.messages as {
      role: string;
      tool_call_id?: string;
      tool_calls?: { id: string }[];
    }[];
    const called = new Set(sent.flatMap((message) => (message.tool_calls ?? []).map((call) => call.id)));
    for (const message of sent.filter((entry) => entry.role === "tool")) expect(called).toContain(message.tool_call_id);
    // Every user message is still in the compacted context, before the item.
    expect(result.output.map((item) => (item.type === "message" ? item.role : item.type))).toEqual([
      "developer",
      "user",
      "user",
      "user",
      "user",
      "compaction",
    ]);
  });

  it("answers a context the server refuses however little of it is sent with its refusal", async () => {
    const m = routed("summarize:window");
    await expect(
      client("sk-test-compaction-a").responses.compact({
        model: m.model,
        input: [{ role: "user", content: "far too long ".repeat(200) }],
      }),
    ).rejects.toMatchObject({ status: 400, code: "context_length_exceeded", param: "input" });
    expect(await received(m)).toHaveLength(1);
  });

  it("keeps a thinking model's <think> block out of the summary", async () => {
    const openai = client("sk-test-compaction-a");
    const { output } = await compacted(openai, routed("summarize:think").model);
    const m = routed("summarize");
    await openai.responses.create({
      model: m.model,
      input: [...(output as never[]), { role: "user", content: "And a restaurant?" }],
    });
    const [sent] = await received(m);
    const summary = transcript(sent?.body.messages)[2];
    expect(summary).toMatch(/^user:\[Summary of the earlier conversation.*\]\nSUMMARY OF system:/s);
    expect(summary).not.toContain("think>");
  });

  it("refuses another key's item, or an altered one, with a 400 naming it", async () => {
    const { output } = await compacted(client("sk-test-compaction-a"), routed("summarize").model);
    const item = output.at(-1) as unknown as Json;
    const content = item.encrypted_content as string;
    const altered = {
      ...item,
      encrypted_content: `${content.slice(0, -4)}${content.slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`,
    };
    for (const [key, forged] of [
      ["sk-test-compaction-b", item],
      ["sk-test-compaction-a", altered],
    ] as const) {
      const m = routed("summarize");
      await expect(
        client(key).responses.create({ model: m.model, input: [{ role: "user", content: "hi" }, forged as never] }),
      ).rejects.toMatchObject({ status: 400, param: "input[1]", code: "invalid_encrypted_content" });
      expect(await received(m)).toEqual([]);
    }
  });

  it("expands its item for a Responses upstream too, which could not read it", async () => {
    const openai = client("sk-test-compaction-a");
    const { output } = await compacted(openai, routed("summarize").model);
    const m = model("text:1");
    await openai.responses.create({ model: m, input: [...(output as never[]), { role: "user", content: "Next?" }] });
    const [sent] = await upstream.requests(m);
    const input = sent?.body.input as Json[];
    expect(input.map((item) => item.role)).toEqual(["user", "user", "user", "user"]);
    expect(JSON.stringify(input)).not.toContain("gwc1.");
    expect(String(input[2]?.content)).toMatch(/^\[Summary of the earlier conversation/);
  });

  it("gives up on a summary that stops coming after its headers, as on a stalled stream (504)", async () => {
    const m = routed("summarize:stall");
    const started = Date.now();
    try {
      // The suite's UPSTREAM_IDLE_TIMEOUT_MS is 3 s.
      await expect(compacted(client("sk-test-compaction-a"), m.model)).rejects.toMatchObject({
        status: 504,
        code: "upstream_timeout",
      });
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await upstream.release(m.upstream);
    }
  }, 20_000);

  it("refuses a summary past its size whether the server answers JSON or streams it (502)", async () => {
    const openai = client("sk-test-compaction-a");
    await expect(compacted(openai, routed("summarize:huge").model)).rejects.toMatchObject({
      status: 502,
      error: { message: "The upstream model server's summary was too large." },
    });
  });

  it("refuses a compaction item made elsewhere, which the gateway cannot read, with OpenAI's invalid_encrypted_content", async () => {
    const m = routed("summarize");
    await expect(
      client("sk-test-compaction-a").responses.create({
        model: m.model,
        input: [
          { type: "compaction", encrypted_content: "gAAAAABpOpenAIOpaque" },
          { role: "user", content: "hi" },
        ],
      }),
    ).rejects.toMatchObject({ status: 400, param: "input[0]", code: "invalid_encrypted_content" });
  });
});

describe("context_management on create", () => {
  const body = (m: string, extra: Json = {}) => ({
    model: m,
    input: history,
    context_management: [{ type: "compaction", compact_threshold: 10 }],
    ...extra,
  });

  it("compacts over a chat upstream when the context crosses the threshold: the output opens with the item", async () => {
    const openai = client("sk-test-compaction-c");
    const m = routed("summarize");
    const response = await openai.responses.create(body(m.model) as never);
    expect(response.output.map((item) => item.type)).toEqual(["compaction", "message"]);
    // Both calls' counts: the summary's cached and reasoning tokens are in the sums' details too.
    expect(response.usage).toEqual({
      input_tokens: 110,
      input_tokens_details: { cached_tokens: 40, cache_write_tokens: 0 },
      output_tokens: 21,
      output_tokens_details: { reasoning_tokens: 5 },
      total_tokens: 131,
    });
    const [summary, answer] = await received(m);
    expect(summary?.body.stream).toBe(false);
    // The turn being answered comes after the summary, so a chat model answers it, not the summary.
    expect(transcript(answer?.body.messages)).toEqual([
      "user:Plan a trip to Lyon.",
      expect.stringMatching(/^user:\[Summary of the earlier conversation/) as string,
      "user:Add a museum.",
    ]);

    // The next turn of the chain sees the compacted context, not what the item summarized.
    const n = routed("summarize");
    await openai.responses.create({ model: n.model, previous_response_id: response.id, input: "Thanks!" });
    const [next] = await received(n);
    expect(transcript(next?.body.messages)).toEqual([
      "user:Plan a trip to Lyon.",
      "user:Add a museum.",
      expect.stringMatching(/^user:\[Summary of the earlier conversation/) as string,
      expect.stringMatching(/^assistant:seen: /) as string,
      "user:Thanks!",
    ]);
  });

  it("compacts a chain compacted before: the turn sees the newest summary alone, as later turns do", async () => {
    const openai = client("sk-test-compaction-c");
    const first = await openai.responses.create(body(routed("summarize").model) as never);
    const m = routed("summarize");
    const second = await openai.responses.create({
      model: m.model,
      previous_response_id: first.id,
      input: "And a restaurant?",
      context_management: [{ type: "compaction", compact_threshold: 10 }],
    } as never);
    expect(second.output.map((item) => item.type)).toEqual(["compaction", "message"]);
    const [summary, answer] = await received(m);
    // The new summary was written from the first one; the first one is not sent again beside it.
    expect(transcript(summary?.body.messages).join("\n")).toContain("[Summary of the earlier conversation");
    const summaries = transcript(answer?.body.messages).filter((line) =>
      line.startsWith("user:[Summary of the earlier"),
    );
    expect(summaries).toHaveLength(1);

    const n = routed("summarize");
    await openai.responses.create({ model: n.model, previous_response_id: second.id, input: "Thanks!" });
    const [next] = await received(n);
    const later = transcript(next?.body.messages).filter((line) => line.startsWith("user:[Summary of the earlier"));
    expect(later).toEqual(summaries);
  });

  it("streams the compaction item as OpenAI does, and the SDK accepts the stream", async () => {
    const openai = client("sk-test-compaction-c");
    const m = routed("summarize");
    const stream = openai.responses.stream(body(m.model) as never);
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    const final = await stream.finalResponse();
    expect(types.slice(0, 5)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.compaction.compacting",
      "response.output_item.done",
    ]);
    expect(final.output[0]?.type).toBe("compaction");
    const events = await readEvents(
      (
        await gatewayFetch(`${GATEWAY_URL}/responses/${final.id}?stream=true`, {
          headers: { authorization: "Bearer sk-test-compaction-c" },
        })
      ).body,
    );
    expect((await validateAgainstSpec("ResponseStreamEvent", events)).failures).toEqual([]);
  });

  it("keeps a create whose summary call fails as a failed response, as a refused upstream call is", async () => {
    const openai = client("sk-test-compaction-c");
    const m = routed("summarize:fail");
    await expect(openai.responses.create(body(m.model) as never)).rejects.toMatchObject({ status: 500 });
    const listed = await listedOf("sk-test-compaction-c", m.model);
    expect(listed.map((response) => response.status)).toEqual(["failed"]);
    expect(listed[0]?.error?.message).toContain("summary boom");
    // Only summary calls (the gateway retries a 500), never the turn's.
    expect(new Set((await received(m)).map((sent) => sent.body.stream))).toEqual(new Set([false]));
  });

  it("keeps the summary's usage in a response whose turn is refused or cancelled after it, and counts it (store:false too)", async () => {
    const key = `sk-test-compaction-spent-${crypto.randomUUID()}`;
    const openai = client(key);
    const summary = {
      input_tokens: 100,
      input_tokens_details: { cached_tokens: 40, cache_write_tokens: 0 },
      output_tokens: 20,
      output_tokens_details: { reasoning_tokens: 5 },
      total_tokens: 120,
    };
    const refused = routed("summarize:turnfail");
    await expect(openai.responses.create(body(refused.model) as never)).rejects.toMatchObject({ status: 400 });
    const [failed] = await listedOf(key, refused.model);
    expect(failed).toMatchObject({ status: "failed", usage: summary });

    const unstored = routed("summarize:turnfail");
    await expect(openai.responses.create(body(unstored.model, { store: false }) as never)).rejects.toMatchObject({
      status: 400,
    });

    const bg = routed("summarize:turnfail");
    const queued = await openai.responses.create(body(bg.model, { background: true }) as never);
    const failedRun = await until(
      () => openai.responses.retrieve(queued.id),
      (response) => response.status === "failed",
      "the run to fail",
    );
    expect(failedRun.usage).toEqual(summary);

    const held = routed("summarize:turnheld");
    const running = await openai.responses.create(body(held.model, { background: true }) as never);
    try {
      await until(
        () => openai.responses.retrieve(running.id),
        (response) => response.output.length > 1,
        "the turn to stream",
      );
      expect((await openai.responses.cancel(running.id)).usage).toEqual(summary);
    } finally {
      await upstream.release(held.upstream);
    }

    const usage = await gatewayFetch(`${GATEWAY_URL}/usage?group_by=model`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const rows = (await usage.json<{ data: Json[] }>()).data;
    expect(rows.map((row) => [row.responses, row.input_tokens, row.output_tokens])).toEqual([
      [1, 100, 20],
      [1, 100, 20],
      [1, 100, 20],
      [1, 100, 20],
    ]);
  });

  it("answers a background create queued before its summary is done; the run compacts, then completes", async () => {
    const openai = client("sk-test-compaction-c");
    const m = routed("summarize:held");
    try {
      const queued = await openai.responses.create(body(m.model, { background: true }) as never);
      expect(queued.status).toBe("queued");
      expect((await received(m)).map((sent) => sent.body.stream)).toEqual([false]);
    } finally {
      await upstream.release(m.upstream);
    }
    const listed = async () => (await listedOf("sk-test-compaction-c", m.model))[0];
    const done = await until(listed, (response) => response?.status === "completed", "the run to end");
    expect(done?.output.map((item) => item.type)).toEqual(["compaction", "message"]);
  });

  it("leaves a context under the threshold alone", async () => {
    const m = routed("summarize");
    const response = await client("sk-test-compaction-c").responses.create(
      body(m.model, { context_management: [{ type: "compaction", compact_threshold: 100_000 }] }) as never,
    );
    expect(response.output.map((item) => item.type)).toEqual(["message"]);
    expect(await received(m)).toHaveLength(1);
  });

  it("forwards context_management to a Responses upstream, which compacts itself, once it has seen /responses/compact there", async () => {
    const m = model("text:1");
    const openai = client("sk-test-compaction-c");
    await openai.responses.create(body(m) as never);
    await openai.responses.create(body(m) as never);
    const [asked, sent, again] = await upstream.requests(m);
    expect(asked?.path).toBe("/v1/responses/compact");
    expect(asked?.body).toEqual({ model: m, input: [] });
    expect(sent?.body.context_management).toEqual([{ type: "compaction", compact_threshold: 10 }]);
    expect(again?.path).toBe("/v1/responses");
  });

  it("refuses a context management the gateway does not do, naming it", async () => {
    const m = routed("summarize");
    await expect(
      client("sk-test-compaction-c").responses.create(
        body(m.model, { context_management: [{ type: "pruning" }] }) as never,
      ),
    ).rejects.toMatchObject({ status: 400, param: "context_management[0].type" });
    await expect(
      client("sk-test-compaction-c").responses.create(
        body(m.model, { context_management: [{ type: "compaction", compact_threshold: "big" }] }) as never,
      ),
    ).rejects.toMatchObject({ status: 400, param: "context_management[0].compact_threshold", code: "invalid_type" });
  });
});

// Codex CLI's built-in provider (`openai_base_url`) compacts by sending its whole context with a
// `compaction_trigger` last, store:false, and needs exactly one compaction item in the output.
describe("a compaction_trigger ending the input", () => {
  const trigger = (m: string, extra: Json = {}) => ({
    model: m,
    input: [...history, { type: "compaction_trigger" }],
    store: false,
    ...extra,
  });

  it("over a chat upstream: the context before it is summarized and the output is the compaction item alone", async () => {
    const openai = client("sk-test-compaction-t");
    const m = routed("summarize");
    const stream = openai.responses.stream(trigger(m.model) as never);
    const events: { type: string }[] = [];
    for await (const event of stream) events.push(event);
    const response = await stream.finalResponse();
    expect(response.output.map((item) => item.type)).toEqual(["compaction"]);
    expect(response.status).toBe("completed");
    expect(response.usage).toMatchObject({ input_tokens: 100, output_tokens: 20, total_tokens: 120 });
    expect((await validateAgainstSpec("ResponseStreamEvent", events)).failures).toEqual([]);
    // Only the summary call, of the context without the trigger; no model answers the turn.
    const sent = await received(m);
    expect(sent.map((request) => request.body.stream)).toEqual([false]);
    expect(JSON.stringify(sent[0]?.body.messages)).toContain("Add a museum.");
    expect(JSON.stringify(sent[0]?.body.messages)).not.toContain("compaction_trigger");

    // Codex's next request: the user messages and the item, which expands into the summary.
    const n = routed("summarize");
    await openai.responses.create({
      model: n.model,
      input: [history[0], history[2], response.output[0], { role: "user", content: "Thanks!" }] as never,
      store: false,
    });
    const [next] = await received(n);
    expect(transcript(next?.body.messages)).toEqual([
      "user:Plan a trip to Lyon.",
      "user:Add a museum.",
      expect.stringMatching(/^user:\[Summary of the earlier conversation/) as string,
      "user:Thanks!",
    ]);
  });

  it("keeps a stored one, and a background one, as a response whose output is the item", async () => {
    const openai = client("sk-test-compaction-t");
    const stored = await openai.responses.create(trigger(routed("summarize").model, { store: true }) as never);
    expect(stored.output.map((item) => item.type)).toEqual(["compaction"]);
    expect((await openai.responses.retrieve(stored.id)).output).toEqual(stored.output);
    const queued = await openai.responses.create(
      trigger(routed("summarize").model, { store: true, background: true }) as never,
    );
    const done = await until(
      () => openai.responses.retrieve(queued.id),
      (response) => response.status === "completed",
      "the background run to end",
    );
    expect(done.output.map((item) => item.type)).toEqual(["compaction"]);
  });

  it("refuses a trigger that is not the last item, or one with nothing before it", async () => {
    const m = routed("summarize");
    const openai = client("sk-test-compaction-t");
    await expect(
      openai.responses.create({ model: m.model, input: [{ type: "compaction_trigger" }, ...history] } as never),
    ).rejects.toMatchObject({ status: 400, param: "input[0]" });
    await expect(
      openai.responses.create({ model: m.model, input: [{ type: "compaction_trigger" }] } as never),
    ).rejects.toMatchObject({ status: 400, param: "input" });
    expect(await received(m)).toEqual([]);
  });

  it("forwards the trigger to a Responses upstream, which compacts itself", async () => {
    const m = model("text:1");
    await client("sk-test-compaction-t").responses.create(trigger(m) as never);
    const [, sent] = await upstream.requests(m);
    expect((sent?.body.input as Json[]).at(-1)).toEqual({ type: "compaction_trigger" });
  });
});

describe("the usage of POST /v1/responses/compact", () => {
  /** The caller's usage by model (GET /v1/usage). */
  async function usageOf(key: string) {
    const res = await gatewayFetch(`${GATEWAY_URL}/usage?group_by=model`, {
      headers: { authorization: `Bearer ${key}` },
    });
    return (await res.json<{ data: Json[] }>()).data;
  }

  it("counts a compaction's tokens for the caller over either upstream, as a response's: the upstream was paid for them", async () => {
    const key = `sk-test-compaction-usage-${crypto.randomUUID()}`;
    const openai = client(key);
    const chat = routed("summarize");
    const own = model("text:1");
    const chatCompaction = await compacted(openai, chat.model);
    const forwarded = await compacted(openai, own);
    expect(forwarded.usage).toMatchObject({ input_tokens: 30, output_tokens: 5 });
    await expect(compacted(openai, routed("summarize:fail").model)).rejects.toMatchObject({ status: 500 });
    expect(await usageOf(key)).toEqual(
      [
        { object: "usage", model: chat.model, responses: 1, input_tokens: 100, output_tokens: 20, total_tokens: 120 },
        { object: "usage", model: own, responses: 1, input_tokens: 30, output_tokens: 5, total_tokens: 35 },
      ].sort((a, b) => (a.model < b.model ? -1 : 1)),
    );
    expect(chatCompaction.usage).toMatchObject({ input_tokens: 100, output_tokens: 20 });
    // Another caller sees none of it.
    expect(await usageOf(`sk-test-compaction-usage-${crypto.randomUUID()}`)).toEqual([]);
  });
});

describe("POST /v1/responses/input_tokens over a Chat Completions upstream", () => {
  it("answers an estimate that says it is one, calling nothing upstream", async () => {
    const m = routed("summarize");
    const tools = [{ type: "function" as const, name: "f", parameters: null, strict: false }];
    const counted = await client("sk-test-compaction-d").responses.inputTokens.count({
      model: m.model,
      instructions: "Be brief.",
      input: history,
      tools,
    });
    expect(counted).toEqual({
      object: "response.input_tokens",
      input_tokens: estimateInputTokens({ instructions: "Be brief.", input: history, tools }),
      estimated: true,
    });
    expect((await validateAgainstSpec("InputTokensResponse", [counted])).failures).toEqual([]);
    expect(await received(m)).toEqual([]);
  });

  it("refuses tools, tool_choice, text or reasoning of the wrong shape, as a create does", async () => {
    const m = routed("summarize");
    const count = (body: Json) =>
      gatewayFetch(`${GATEWAY_URL}/responses/input_tokens`, {
        method: "POST",
        headers: { authorization: "Bearer sk-test-compaction-d", "content-type": "application/json" },
        body: JSON.stringify({ model: m.model, input: "hi", ...body }),
      });
    for (const [body, param] of [
      [{ tools: "f" }, "tools"],
      [{ tools: [{ name: "f" }] }, "tools[0].type"],
      [{ tool_choice: 5 }, "tool_choice"],
      [{ text: { format: { type: "json_schema", schema: {} } } }, "text.format.name"],
      [{ reasoning: "high" }, "reasoning"],
    ] as const) {
      const res = await count(body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { type: "invalid_request_error", param } });
    }
  });
});

// vLLM (405), Ollama and llama.cpp (404) and LM Studio (200 with an error) serve /responses but not
// /responses/compact: the gateway compacts for them as for a chat server, its summary asked through
// their /responses, and remembers (per server and model) that they lack it. A route may say so.
describe("over a Responses upstream without /responses/compact", () => {
  const paths = async (m: string) => (await upstream.requests(m)).map((request) => request.path);

  it("compacts itself after the server's 404, 405 or 200 refusal, then without asking again", async () => {
    const openai = client("sk-test-compaction-r");
    for (const scenario of ["no-compact", "no-compact:405", "no-compact:200"]) {
      const m = model(scenario);
      const result = await compacted(openai, m);
      expect(result).toMatchObject({
        object: "response.compaction",
        output: [
          { type: "message", role: "user", content: [{ type: "input_text", text: "Plan a trip to Lyon." }] },
          { type: "message", role: "user", content: [{ type: "input_text", text: "Add a museum." }] },
          { type: "compaction", encrypted_content: expect.stringMatching(/^gwc1\./) as string },
        ],
        usage: { input_tokens: 30, output_tokens: 7, total_tokens: 37 },
      });
      expect((await validateAgainstSpec("CompactedResponse", [result])).failures).toEqual([]);
      const [, summary] = await upstream.requests(m);
      expect(summary?.body).toMatchObject({ stream: false, store: false });
      expect(String(summary?.body.instructions)).toMatch(/^You are compacting a long conversation/);
      expect((summary?.body.input as Json[]).at(-1)).toEqual({
        type: "message",
        role: "user",
        content: "Write the handoff summary of the conversation above now.",
      });
      await compacted(openai, m);
      expect(await paths(m)).toEqual(["/v1/responses/compact", "/v1/responses", "/v1/responses"]);
    }
  });

  it("expands its item into the summary when a later turn sends it to that server", async () => {
    const openai = client("sk-test-compaction-r");
    const m = model("no-compact");
    const { output } = await compacted(openai, m);
    const next = await openai.responses.create({
      model: m,
      input: [...(output as never[]), { role: "user", content: "Next?" }],
    });
    expect(next.output_text).toBe("echo(4): Next?");
    const sent = (await upstream.requests(m)).at(-1);
    expect(JSON.stringify(sent?.body.input)).not.toContain("gwc1.");
    expect(String((sent?.body.input as Json[])[2]?.content)).toBe(
      "[Summary of the earlier conversation, written when it was compacted]\nSUMMARY of 4 items",
    );
  });

  it("takes the key out of the server's refusal of the summary call", async () => {
    const key = "sk-test-compaction-quoted";
    const error = await compacted(client(key), model("no-compact:echo-key")).then(
      () => undefined,
      (caught: unknown) => caught as { status: number; message: string },
    );
    expect(error?.status).toBe(502);
    expect(error?.message).toContain("failed to write the summary: The key [redacted] may not summarize.");
    expect(error?.message).not.toContain(key);
  });

  it("compacts on a route that says so without asking for /responses/compact at all", async () => {
    const m = `gateway-compacts/${model("no-compact")}`;
    const result = await compacted(client("sk-test-compaction-r"), m);
    expect(result.output.at(-1)).toMatchObject({ type: "compaction" });
    expect(await paths(m.slice("gateway-compacts/".length))).toEqual(["/v1/responses"]);
  });

  it("does context_management on create itself: the output opens with the item, the server gets the summary", async () => {
    const openai = client("sk-test-compaction-r");
    const m = `gateway-compacts/${model("no-compact")}`;
    const sent = m.slice("gateway-compacts/".length);
    const create = { model: m, input: history, context_management: [{ type: "compaction", compact_threshold: 10 }] };
    const response = await openai.responses.create(create as never);
    expect(response.output.map((item) => item.type)).toEqual(["compaction", "message"]);
    expect(response.usage).toMatchObject({ input_tokens: 40, output_tokens: 10, total_tokens: 50 });
    const [summary, answer] = await upstream.requests(sent);
    expect(summary?.body.stream).toBe(false);
    expect(answer?.body.context_management).toBeUndefined();
    expect((answer?.body.input as Json[]).map((item) => item.role)).toEqual(["user", "user", "user"]);
    expect(String((answer?.body.input as Json[])[1]?.content)).toMatch(/^\[Summary of the earlier conversation/);

    // Streamed as OpenAI streams it, and the next turn of the chain sends the summary, not the history.
    const stream = openai.responses.stream({
      ...create,
      input: [...history, { role: "user", content: "More?" }],
    } as never);
    const events: { type: string }[] = [];
    for await (const event of stream) events.push(event);
    expect((await stream.finalResponse()).output.map((item) => item.type)).toEqual(["compaction", "message"]);
    expect((await validateAgainstSpec("ResponseStreamEvent", events)).failures).toEqual([]);
    await openai.responses.create({ model: m, previous_response_id: response.id, input: "Thanks!" });
    const next = (await upstream.requests(sent)).at(-1);
    expect(JSON.stringify(next?.body.input)).not.toContain("Day 1: Vieux Lyon");
  });

  it("does the first context_management of a server it knows nothing of itself, having asked for /responses/compact", async () => {
    // vLLM and Ollama ignore context_management: forwarded, the context would never be compacted.
    const openai = client("sk-test-compaction-r");
    for (const scenario of ["no-compact", "no-compact:405", "no-compact:200"]) {
      const m = model(scenario);
      const create = { model: m, input: history, context_management: [{ type: "compaction", compact_threshold: 10 }] };
      const response = await openai.responses.create(create as never);
      expect(response.output.map((item) => item.type)).toEqual(["compaction", "message"]);
      const [asked, summary, answer] = await upstream.requests(m);
      expect(asked?.path).toBe("/v1/responses/compact");
      expect(summary?.body.stream).toBe(false);
      expect(answer?.body.context_management).toBeUndefined();
      await openai.responses.create({ ...create, stream: false, store: false } as never);
      expect(await paths(m)).toEqual([
        "/v1/responses/compact",
        "/v1/responses",
        "/v1/responses",
        "/v1/responses",
        "/v1/responses",
      ]);
    }
  });

  it("answers the first compaction_trigger of a server it knows nothing of with the item, which the server would refuse", async () => {
    const m = model("no-compact:405");
    const input = [...history, { type: "compaction_trigger" }];
    const response = await client("sk-test-compaction-r").responses.create({ model: m, input, stream: true } as never);
    const events: { type: string; response?: { output: { type: string }[] } }[] = [];
    for await (const event of response as unknown as AsyncIterable<(typeof events)[number]>) events.push(event);
    expect(events.at(-1)?.type).toBe("response.completed");
    expect(events.at(-1)?.response?.output.map((item) => item.type)).toEqual(["compaction"]);
    expect(await paths(m)).toEqual(["/v1/responses/compact", "/v1/responses"]);
  });

  it("answers a compaction_trigger with the item alone, calling only for the summary", async () => {
    const m = `gateway-compacts/${model("no-compact")}`;
    const response = await client("sk-test-compaction-r").responses.create({
      model: m,
      input: [...history, { type: "compaction_trigger" }],
      store: false,
    } as never);
    expect(response.output.map((item) => item.type)).toEqual(["compaction"]);
    expect(response.status).toBe("completed");
    expect(await paths(m.slice("gateway-compacts/".length))).toEqual(["/v1/responses"]);
  });
});
