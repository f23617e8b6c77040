// A mixed deployment through the real Worker (routing table in vitest.config.ts): one client reaches
// the default Responses upstream and routed upstreams of either protocol by model name, chains
// across them, and a route's own key goes only to its upstream: never to the client, logs or storage.

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { ResponseFunctionToolCall } from "openai/resources/responses/responses";
import { describe, expect, it } from "vitest";
import { handle } from "../../src/router";
import { ALT_KEY, received, routed, rowCount } from "../support/chat";
import { client, GATEWAY_URL, model, upstream } from "../support/gateway";
import { until } from "../support/hooks";
import { allRows } from "../support/shards";

const KEY = "sk-test-chat-routing";
const openai = client(KEY);

/** Every stored byte of a tenant-independent dump of the history tables. */
async function storedText(): Promise<string> {
  const tables = ["responses", "response_items", "response_events", "blobs"];
  const dumps = await Promise.all(tables.map((table) => allRows(`SELECT * FROM ${table}`)));
  return JSON.stringify(dumps);
}

describe("a mixed deployment", () => {
  it("routes models to upstreams of different protocols from one client", async () => {
    const plain = model("text:3");
    const chat = routed("text:2");
    const alt = routed("text:4", "alt/");
    const altResponses = routed("text:1", "alt-responses/");

    const answers = await Promise.all([
      openai.responses.create({ model: plain, input: "a" }),
      openai.responses.create({ model: chat.model, input: "b" }),
      openai.responses.stream({ model: alt.model, input: "c" }).finalResponse(),
      openai.responses.create({ model: altResponses.model, input: "d" }),
    ]);
    expect(answers.map((answer) => [answer.status, answer.output_text])).toEqual([
      ["completed", "w0 w1 w2 "],
      ["completed", "w0 w1 "],
      ["completed", "w0 w1 w2 w3 "],
      ["completed", "w0 "],
    ]);
    for (const answer of answers)
      expect((await openai.responses.retrieve(answer.id)).output_text).toBe(answer.output_text);

    const [toDefault] = await upstream.requests(plain);
    const [toChat] = await received(chat);
    const [toAlt] = await received(alt);
    const [toAltResponses] = await received(altResponses);
    expect([toDefault, toChat, toAlt, toAltResponses].map((sent) => [sent?.path, sent?.authorization])).toEqual([
      ["/v1/responses", `Bearer ${KEY}`],
      ["/v1/chat/completions", `Bearer ${KEY}`],
      ["/alt/v1/chat/completions", `Bearer ${ALT_KEY}`],
      ["/alt/v1/responses", `Bearer ${ALT_KEY}`],
    ]);
    // The routes strip their prefix: each upstream sees the model name it knows.
    expect([toDefault, toChat, toAlt, toAltResponses].map((sent) => sent?.body.model)).toEqual([
      plain,
      chat.upstream,
      alt.upstream,
      altResponses.upstream,
    ]);
    expect(toChat?.body).toHaveProperty("messages");
    expect(toAltResponses?.body).toMatchObject({ store: false, input: [{ role: "user", content: "d" }] });
  });

  it("chains one conversation across protocols with previous_response_id", async () => {
    const first = await openai.responses.create({ model: model("function:get_weather"), input: "Weather in Paris?" });
    const call = first.output[0] as ResponseFunctionToolCall;
    expect(call.type).toBe("function_call");

    const chat = routed("echo", "alt/");
    const second = await openai.responses.create({
      model: chat.model,
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: call.call_id, output: "sunny" }],
    });
    expect(second.output_text).toBe("echo(3): Weather in Paris?");
    const [sentChat] = await received(chat);
    expect(sentChat?.body.messages).toEqual([
      { role: "user", content: "Weather in Paris?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: call.call_id, type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
        ],
      },
      { role: "tool", tool_call_id: call.call_id, content: "sunny" },
    ]);

    const back = model("echo");
    const third = await openai.responses.create({ model: back, previous_response_id: second.id, input: "Thanks" });
    expect(third.output_text).toBe("echo(5): Thanks");
    const [sentBack] = await upstream.requests(back);
    expect((sentBack?.body.input as { type?: string; role?: string }[]).map((item) => item.type ?? item.role)).toEqual([
      "user",
      "function_call",
      "function_call_output",
      "message",
      "user",
    ]);
  });

  it("leaves a chat model's reasoning out of a chain's next turn to a Responses upstream, which cannot read it", async () => {
    const chat = routed("fixture:vercel-ai__deepseek-reasoning.chunks.txt");
    const first = await openai.responses.create({ model: chat.model, input: "How many r's in strawberry?" });
    const reasoning = first.output[0] as { type: string; encrypted_content?: string | null };
    expect(reasoning).toMatchObject({ type: "reasoning", encrypted_content: "gwr1" });

    // The upstream stands for OpenAI serving a reasoning model statelessly: a reasoning item without
    // its own encrypted_content is looked up by id, and not found (404).
    const next = model("think:get_weather");
    const second = await openai.responses.create({
      model: next,
      previous_response_id: first.id,
      input: "And in raspberry?",
    });
    expect(second.status).toBe("completed");
    const [sent] = await upstream.requests(next);
    const types = (sent?.body.input as { type?: string; role?: string }[]).map((item) => item.type ?? item.role);
    expect(types).toEqual(["user", "message", "user"]);
  });

  it("leaves out the reasoning of a chat response that failed mid-thought too: the item left open has the mark", async () => {
    const chat = routed("think-cut");
    const first = await openai.responses.create({ model: chat.model, input: "Weather in Paris?" });
    expect(first.status).toBe("failed");
    expect(first.output[0]).toMatchObject({ type: "reasoning", status: "incomplete", encrypted_content: "gwr1" });

    const next = model("think:get_weather");
    const second = await openai.responses.create({ model: next, previous_response_id: first.id, input: "Again?" });
    expect(second.status).toBe("completed");
    const [sent] = await upstream.requests(next);
    const types = (sent?.body.input as { type?: string; role?: string }[]).map((item) => item.type ?? item.role);
    expect(types).toEqual(["user", "user"]);
  });

  it("sends a Responses server's raw reasoning (vLLM's reasoning_text) on to a chat model and back", async () => {
    const first = await openai.responses.create({ model: model("vllm-think"), input: "a" });
    expect(first.output[0]).toMatchObject({
      type: "reasoning",
      content: [{ type: "reasoning_text", text: "Thinking it over." }],
    });
    expect(first.output[0]).not.toHaveProperty("encrypted_content");

    const chat = routed("echo");
    const second = await openai.responses.create({ model: chat.model, previous_response_id: first.id, input: "b" });
    const [toChat] = await received(chat);
    expect(toChat?.body.messages).toEqual([
      { role: "user", content: "a" },
      { role: "assistant", content: "answer", reasoning_content: "Thinking it over." },
      { role: "user", content: "b" },
    ]);

    const back = model("echo");
    await openai.responses.create({ model: back, previous_response_id: second.id, input: "c" });
    const [toResponses] = await upstream.requests(back);
    expect((toResponses?.body.input as unknown[])[1]).toEqual(first.output[0]);
  });

  it("hands a chain from OpenAI's reasoning to a vLLM route without the encrypted_content vLLM refuses, its summary kept", async () => {
    const first = await openai.responses.create({
      model: model("think:get_weather"),
      input: "Weather in Paris?",
      reasoning: { summary: "auto" },
    });
    const [reasoning, call] = first.output as [{ encrypted_content?: string }, ResponseFunctionToolCall];
    expect(reasoning).toMatchObject({ type: "reasoning" });
    expect(reasoning.encrypted_content).toMatch(/^enc:rs_/);
    const output = [{ type: "function_call_output" as const, call_id: call.call_id, output: "sunny" }];

    // vLLM's /responses refuses the item as OpenAI made it: so it does on a route without reasoning_input.
    const unrouted = model("vllm-think");
    const refused = await openai.responses
      .create({ model: unrouted, previous_response_id: first.id, input: output })
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 400 });
    expect((refused as Error).message).toContain("Encrypted content is not supported.");

    const vllm = routed("vllm-think", "vllm/");
    const second = await openai.responses.create({ model: vllm.model, previous_response_id: first.id, input: output });
    expect([second.status, second.output_text]).toEqual(["completed", "answer"]);
    const [sent] = await received(vllm);
    const { encrypted_content: _blob, ...summaryOnly } = reasoning;
    expect(sent?.body.input).toEqual([
      { role: "user", content: "Weather in Paris?" },
      summaryOnly,
      expect.objectContaining({ type: "function_call", call_id: call.call_id }),
      output[0],
    ]);
    expect(summaryOnly).toMatchObject({ summary: [{ type: "summary_text", text: "Looking up the weather." }] });
    // What is stored stays as OpenAI made it: a chain back to OpenAI still carries its reasoning.
    expect((await openai.responses.retrieve(first.id)).output[0]).toEqual(reasoning);
  });

  it("reports the reasoning a route's reasoning_input leaves out in input_transformations: events, answer, retrieve", async () => {
    // OpenAI's reasoning without a summary: drop_encrypted leaves nothing of it to send.
    const first = await openai.responses.create({ model: model("think:get_weather"), input: "Weather in Paris?" });
    const [reasoning, call] = first.output as [{ id: string }, ResponseFunctionToolCall];
    expect(reasoning).toMatchObject({ type: "reasoning", summary: [] });
    // Nothing withheld, nothing reported (OpenAI's recorded answers carry no such field either).
    expect(first).not.toHaveProperty("input_transformations");
    const removed = [{ id: reasoning.id, action: "removed", reason: "model_mismatch", type: "reasoning" }];
    const output = [{ type: "function_call_output" as const, call_id: call.call_id, output: "sunny" }];
    // An item without an id cannot be named: it is left out unreported.
    const unnamed = { type: "reasoning" as const, summary: [], encrypted_content: "gAAAA-unnamed" };

    const vllm = routed("vllm-think", "vllm/");
    const stream = openai.responses.stream({
      model: vllm.model,
      previous_response_id: first.id,
      input: [unnamed as never, ...output],
    });
    const lifecycle: [string, unknown][] = [];
    for await (const event of stream)
      if ("response" in event) lifecycle.push([event.type, event.response.input_transformations]);
    expect(lifecycle).toEqual([
      ["response.created", removed],
      ["response.in_progress", removed],
      ["response.completed", removed],
    ]);
    const streamed = await stream.finalResponse();
    expect(streamed.input_transformations).toEqual(removed);
    expect((await openai.responses.retrieve(streamed.id)).input_transformations).toEqual(removed);
    const [sent] = await received(vllm);
    expect((sent?.body.input as { type?: string }[]).some((item) => item.type === "reasoning")).toBe(false);

    const answered = await openai.responses.create({
      model: vllm.model,
      previous_response_id: first.id,
      input: output,
    });
    expect(answered.input_transformations).toEqual(removed);

    const queued = await openai.responses.create({
      model: vllm.model,
      previous_response_id: first.id,
      input: output,
      background: true,
    });
    const done = await until(
      () => openai.responses.retrieve(queued.id),
      (response) => response.status === "completed",
      "completed",
    );
    expect(done.input_transformations).toEqual(removed);
  });

  it("reports a chat model's reasoning left out of a Responses call, and OpenAI's left out of a chat call", async () => {
    const chat = routed("fixture:vercel-ai__deepseek-reasoning.chunks.txt");
    const first = await openai.responses.create({ model: chat.model, input: "How many r's in strawberry?" });
    const own = first.output[0] as { id: string; type: string };
    expect(own.type).toBe("reasoning");
    const second = await openai.responses.create({
      model: model("think:get_weather"),
      previous_response_id: first.id,
      input: "And in raspberry?",
    });
    expect(second.input_transformations).toEqual([
      { id: own.id, action: "removed", reason: "model_mismatch", type: "reasoning" },
    ]);

    // OpenAI's encrypted reasoning means nothing to a chat server: a store:false create says so too.
    const call = second.output.find((item) => item.type === "function_call") as ResponseFunctionToolCall;
    const theirs = second.output.find((item) => item.type === "reasoning") as { id: string };
    const third = await openai.responses.create({
      model: routed("text:1").model,
      previous_response_id: second.id,
      input: [{ type: "function_call_output", call_id: call.call_id, output: "sunny" }],
      store: false,
    });
    // The chat model's own reasoning has its text: it goes, as reasoning_content.
    expect(third.input_transformations).toEqual([
      { id: theirs.id, action: "removed", reason: "model_mismatch", type: "reasoning" },
    ]);
  });

  it("never returns or stores a route's key, even when the upstream quotes it", async () => {
    const m = routed("error:echokey:401", "alt/");
    const failure = await openai.responses.create({ model: m.model, input: "x" }).catch((error: unknown) => error);
    // The route's key is the operator's: its refusal is a 502 naming the setting, not the caller's 401.
    expect(failure).toMatchObject({ status: 502, error: { type: "server_error", code: "upstream_key_refused" } });
    expect((failure as Error).message).toContain("Incorrect API key provided: [redacted].");
    expect((failure as Error).message).toContain("api_key_secret");
    const [sent] = await received(m);
    expect(sent?.authorization).toBe(`Bearer ${ALT_KEY}`);

    const ok = routed("text:2", "alt/");
    const stored = await openai.responses.create({ model: ok.model, input: "x", background: true });
    const replay = await openai.responses.retrieve(stored.id, { stream: true });
    let text = "";
    for await (const event of replay) text += JSON.stringify(event);
    expect(text).not.toContain(ALT_KEY);
    expect(await storedText()).not.toContain(ALT_KEY);
  });

  it("does not pass on the parts of a route's key that the upstream quotes in a masked form", async () => {
    const m = routed("error:maskedkey:401", "alt/");
    const failure = await openai.responses.create({ model: m.model, input: "x" }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ status: 502, error: { type: "server_error", code: "upstream_key_refused" } });
    const message = (failure as Error).message;
    expect(message).toContain("Incorrect API key provided: [redacted]. You can find your API key at");
    expect(message).not.toContain(ALT_KEY.slice(0, 8));
    expect(message).not.toContain(ALT_KEY.slice(-4));
    expect(await storedText()).not.toContain(ALT_KEY.slice(-4));
  });

  it("takes a route's key out of a chat server's in-band error before cutting it short, so no part of it shows", async () => {
    // The key begins 10 characters before the 2,000th: cut first, its first 10 would have stayed.
    const m = routed("error:streamkey:1990", "alt/");
    const stream = await openai.responses.create({ model: m.model, input: "x", stream: true });
    const events: string[] = [];
    try {
      for await (const event of stream) events.push(JSON.stringify(event));
    } catch (error) {
      events.push((error as Error).message);
    }
    const failed = await openai.responses.create({ model: m.model, input: "x" });
    const message = failed.error?.message ?? "";
    expect(message).toMatch(/^x{1990}\[redacted/);
    expect(message.length).toBeLessThanOrEqual(2001);
    for (const shown of [...events, message, await storedText()]) expect(shown).not.toContain(ALT_KEY.slice(0, 10));
  });

  it("leaves out or renames the fields a route's server refuses (request_fields)", async () => {
    const strict = routed("text:2", "strict:");
    const plain = routed("text:2");
    for (const m of [strict, plain]) {
      const answer = await openai.responses.create({ model: m.model, input: "a", max_output_tokens: 50 });
      expect(answer).toMatchObject({ status: "completed", output_text: "w0 w1 " });
    }
    const [toStrict] = await received(strict);
    const [toPlain] = await received(plain);
    expect(toPlain?.body).toMatchObject({ max_completion_tokens: 50, stream_options: { include_usage: true } });
    expect(toStrict?.body).toMatchObject({ max_tokens: 50, stream: true });
    expect(toStrict?.body).not.toHaveProperty("max_completion_tokens");
    expect(toStrict?.body).not.toHaveProperty("stream_options");
  });

  it("sends earlier reasoning back as the route says: reasoning_content, or Mistral's thinking parts", async () => {
    const input = [
      { role: "user" as const, content: "a" },
      {
        type: "reasoning" as const,
        id: "rs_1",
        summary: [],
        content: [{ type: "reasoning_text" as const, text: "think" }],
      },
      { role: "assistant" as const, content: "answer" },
      { role: "user" as const, content: "b" },
    ];
    const strict = routed("text:1", "strict:");
    const plain = routed("text:1");
    for (const m of [strict, plain]) await openai.responses.create({ model: m.model, input });
    const assistantOf = async (m: typeof strict) =>
      ((await received(m))[0]?.body as { messages: Record<string, unknown>[] }).messages.find(
        (message) => message.role === "assistant",
      );
    expect(await assistantOf(plain)).toEqual({ role: "assistant", content: "answer", reasoning_content: "think" });
    expect(await assistantOf(strict)).toEqual({
      role: "assistant",
      content: [
        { type: "thinking", thinking: [{ type: "text", text: "think" }], closed: true },
        { type: "text", text: "answer" },
      ],
    });
  });

  it("merges consecutive user or assistant messages for a route whose template requires alternation (alternate_roles)", async () => {
    const input = [
      { role: "user" as const, content: "a" },
      { role: "user" as const, content: [{ type: "input_text" as const, text: "b" }] },
      { role: "developer" as const, content: "c" },
      { role: "assistant" as const, content: "x" },
      { type: "function_call" as const, call_id: "call_1", name: "f", arguments: "{}" },
      { type: "function_call_output" as const, call_id: "call_1", output: "done" },
      { role: "assistant" as const, content: "y" },
      { role: "assistant" as const, content: "z" },
      { role: "user" as const, content: "last" },
    ];
    const alternating = routed("text:1", "alternating:");
    const plain = routed("text:1");
    const tools = [{ type: "function" as const, name: "f", parameters: null, strict: false }];
    for (const m of [alternating, plain])
      await openai.responses.create({ model: m.model, instructions: "Be brief.", input, tools });
    const sent = async (m: typeof plain) =>
      ((await received(m))[0]?.body as { messages: { role: string; content: unknown; tool_calls?: unknown[] }[] })
        .messages;
    const shape = (messages: Awaited<ReturnType<typeof sent>>) =>
      messages.map((message) => [message.role, message.content, message.tool_calls?.length ?? 0]);
    expect(shape(await sent(plain)).map(([role]) => role)).toEqual([
      "system",
      "user",
      "user",
      "user",
      "assistant",
      "tool",
      "assistant",
      "assistant",
      "user",
    ]);
    // Texts are joined by a blank line (the developer message, late, went as a user one); the call stays with its text.
    expect(shape(await sent(alternating))).toEqual([
      ["system", "Be brief.", 0],
      ["user", "a\n\nb\n\nc", 0],
      ["assistant", "x", 1],
      ["tool", "done", 0],
      ["assistant", "y\n\nz", 0],
      ["user", "last", 0],
    ]);
  });

  it("hands a tool call made without reasoning to a thinking server with the route's reasoning_placeholder", async () => {
    // An OpenAI model (the default upstream) calls the tool and gives no reasoning to send back.
    const first = await openai.responses.create({ model: model("function:get_weather"), input: "Weather in Paris?" });
    const call = first.output.find((item) => item.type === "function_call") as ResponseFunctionToolCall;
    const output = [{ type: "function_call_output" as const, call_id: call.call_id, output: "sunny" }];
    const tools = [{ type: "function" as const, name: "get_weather", parameters: null, strict: false }];

    // DeepSeek's thinking mode refuses the assistant tool-call message without reasoning_content.
    const bare = routed("deepseek-tools");
    const refused = await openai.responses
      .create({ model: bare.model, previous_response_id: first.id, input: output, tools })
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 400 });
    expect((refused as Error).message).toContain("Missing `reasoning_content` field in the assistant message");
    expect((refused as Error).message).toContain('Set "reasoning_placeholder" in this model\'s UPSTREAM_ROUTES entry');

    const placed = routed("deepseek-tools", "thinking:");
    const second = await openai.responses.create({
      model: placed.model,
      previous_response_id: first.id,
      input: output,
      tools,
    });
    expect(second).toMatchObject({ status: "completed", output_text: "results: sunny" });
    const [sent] = await received(placed);
    expect((sent?.body.messages as Record<string, unknown>[]).find((message) => message.role === "assistant")).toEqual({
      role: "assistant",
      content: null,
      reasoning_content: " ",
      tool_calls: [
        { id: call.call_id, type: "function", function: { name: "get_weather", arguments: call.arguments } },
      ],
    });
  });

  it("sends the gateway's own reasoning as its text on a route with a reasoning_placeholder, not the placeholder", async () => {
    const tools = [{ type: "function" as const, name: "get_weather", parameters: null, strict: false }];
    const m = routed("deepseek-tools", "thinking:");
    const first = await openai.responses.create({ model: m.model, input: "Weather in Paris?", tools });
    const call = first.output.find((item) => item.type === "function_call") as ResponseFunctionToolCall;
    const second = await openai.responses.create({
      model: m.model,
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: call.call_id, output: "sunny" }],
      tools,
    });
    expect(second).toMatchObject({ status: "completed", output_text: "results: sunny" });
    const [, sent] = await received(m);
    expect(
      (sent?.body.messages as Record<string, unknown>[]).find((message) => message.role === "assistant"),
    ).toMatchObject({
      reasoning_content: "The weather needs a tool.",
      tool_calls: [{ id: call.call_id }],
    });
  });

  it("refuses a model whose route names an unset secret: 503, nothing stored, nothing sent", async () => {
    const m = routed("text:1", "unkeyed/");
    const before = await rowCount("responses");
    const failure = await openai.responses.create({ model: m.model, input: "x" }).catch((error: unknown) => error);
    expect(failure).toMatchObject({
      status: 503,
      error: {
        type: "server_error",
        code: "upstream_misconfigured",
        message: `The upstream for model '${m.model}' needs the secret 'UNSET_KEY', which is not set.`,
      },
    });
    expect((failure as { headers: Headers }).headers.get("x-should-retry")).toBe("false");
    expect(await rowCount("responses")).toBe(before);
    expect(await received(m)).toEqual([]);
  });

  it("answers a broken routing table with a clear 503 on create, while stored history stays readable", async () => {
    const kept = await openai.responses.create({ model: model("text:1"), input: "x" });
    const broken = { ...env, UPSTREAM_ROUTES: '[{"model":"llama-*","protocol":"chat"}]' } as Env;
    const call = async (method: string, path: string, body?: unknown) => {
      const ctx = createExecutionContext();
      const response = await handle(
        new Request(`${GATEWAY_URL}${path}`, {
          method,
          headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
        broken,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return response;
    };
    const m = model("text:1");
    const refused = await call("POST", "/responses", { model: m, input: "x" });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("x-should-retry")).toBe("false");
    expect(await refused.json()).toEqual({
      error: {
        message:
          "The gateway's upstream routing table is invalid: UPSTREAM_ROUTES[0].protocol must be 'responses' or 'chat_completions'.",
        type: "server_error",
        param: null,
        code: "upstream_misconfigured",
      },
    });
    expect(await upstream.requests(m)).toEqual([]);
    const read = await call("GET", `/responses/${kept.id}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ id: kept.id, status: "completed" });
  });
});
