// `previous_response_id` on the socket, through the `openai` SDK's ResponsesWS: `store: false`
// responses continue on the socket that made them (their context is kept per lane), across a tool
// call, over both upstream protocols; the `generate: false` warm-up gives an id to chain from; a
// failed continuation on the parent's lane evicts the parent, a failed fork from another lane does not.

import { afterAll, afterEach, describe, expect, it } from "vitest";
import { received, routed } from "../support/chat";
import { client, model, upstream, words } from "../support/gateway";
import { rowCounts } from "../support/tables";
import { watchUnhandled } from "../support/uncaught";
import { finalResponse, RawSocket } from "./support/frames";
import { SdkSocket, type SdkEvent } from "./support/sdk";

const watch = watchUnhandled();
afterEach(() => watch.expectNone());
afterAll(() => watch.stop());

type Item = Record<string, unknown>;

const weatherTool = {
  type: "function" as const,
  name: "get_weather",
  description: "The weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  strict: false,
};

/** The Response a request's terminal event carries. */
function responseOf(events: SdkEvent[]): { id: string; output: Item[]; previous_response_id: string | null } {
  const last = events.at(-1);
  if (last === undefined || !("response" in last)) throw new Error(`no response: ${JSON.stringify(last)}`);
  return last.response as unknown as { id: string; output: Item[]; previous_response_id: string | null };
}

const textOf = (response: { output: Item[] }) =>
  response.output
    .flatMap((item) => (item.content as { text?: string }[] | undefined) ?? [])
    .map((part) => part.text ?? "")
    .join("");

const callOf = (response: { output: Item[] }) => {
  const call = response.output.find((item) => item.type === "function_call");
  if (call === undefined) throw new Error("no function call");
  return call as { call_id: string; name: string; arguments: string };
};

describe("store:false continuation on the socket", () => {
  it("continues across a tool call over a Responses upstream, sending the whole context upstream", async () => {
    const socket = new SdkSocket("sk-test-ws-continue");
    const first = responseOf(
      await socket.create({
        model: model("function:get_weather"),
        input: "weather in Paris?",
        tools: [weatherTool],
        store: false,
      }),
    );
    const call = callOf(first);
    const m = model("echo");
    const second = responseOf(
      await socket.create({
        model: m,
        previous_response_id: first.id,
        input: [{ type: "function_call_output", call_id: call.call_id, output: "sunny" }],
        store: false,
      }),
    );
    expect(second.previous_response_id).toBe(first.id);
    expect(textOf(second)).toBe("echo(3): weather in Paris?");
    const [sent] = await upstream.requests(m);
    expect(sent?.body.previous_response_id).toBeUndefined();
    expect((sent?.body.input as Item[]).map((item) => item.type ?? item.role)).toEqual([
      "user",
      "function_call",
      "function_call_output",
    ]);
    // And on from there: the whole chain, the latest response's output included.
    const m3 = model("echo");
    const third = responseOf(
      await socket.create({ model: m3, previous_response_id: second.id, input: "thanks", store: false }),
    );
    expect(textOf(third)).toBe("echo(5): thanks");
    socket.close();
    // Nothing of it is stored.
    await expect(client("sk-test-ws-continue").responses.retrieve(second.id)).rejects.toMatchObject({ status: 404 });
  });

  it("continues from a reasoning model's turn: its reasoning goes back upstream with its encrypted content", async () => {
    // A stateless upstream cannot look a reasoning item up by id; the socket asks for its encrypted
    // content, as OpenAI's socket returns it by default, so the next turn can send it back.
    const socket = new SdkSocket("sk-test-ws-continue");
    const m = model("think:get_weather");
    const first = responseOf(
      await socket.create({ model: m, input: "weather in Paris?", tools: [weatherTool], store: false }),
    );
    expect(first.output.map((item) => item.type)).toEqual(["reasoning", "function_call"]);
    const second = await socket.create({
      model: m,
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: callOf(first).call_id, output: "sunny" }],
      store: false,
    });
    expect(second.at(-1)?.type).toBe("response.completed");
    expect(textOf(responseOf(second))).toBe("done");
    const sent = await upstream.requests(m);
    expect(sent.map((request) => request.body.include)).toEqual([
      ["reasoning.encrypted_content"],
      ["reasoning.encrypted_content"],
    ]);
    socket.close();
  });

  it("reports the reasoning a route leaves out of the continuation in input_transformations, from response.created on", async () => {
    const socket = new SdkSocket("sk-test-ws-continue");
    const first = responseOf(
      await socket.create({ model: model("think:get_weather"), input: "weather?", tools: [weatherTool], store: false }),
    );
    const reasoning = first.output[0] as { id: string; summary: unknown[] };
    expect(reasoning.summary).toEqual([]);
    // The vLLM route's drop_encrypted leaves out OpenAI's reasoning that has no summary.
    const vllm = routed("vllm-think", "vllm/");
    const events = await socket.create({
      model: vllm.model,
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: callOf(first).call_id, output: "sunny" }],
      store: false,
    });
    const removed = [{ id: reasoning.id, action: "removed", reason: "model_mismatch", type: "reasoning" }];
    const lifecycle = events.flatMap((event) =>
      "response" in event ? [[event.type, event.response.input_transformations]] : [],
    );
    expect(lifecycle).toEqual([
      ["response.created", removed],
      ["response.in_progress", removed],
      ["response.completed", removed],
    ]);
    socket.close();
  });

  it("continues across a tool call over a Chat Completions upstream, tool results after their call", async () => {
    const socket = new SdkSocket("sk-test-ws-continue-chat");
    const m = routed("tools");
    const first = responseOf(
      await socket.create({ model: m.model, input: "weather in Paris?", tools: [weatherTool], store: false }),
    );
    const call = callOf(first);
    expect([call.name, call.arguments]).toEqual(["get_weather", '{"city":"Paris","n":0}']);
    const second = responseOf(
      await socket.create({
        model: m.model,
        previous_response_id: first.id,
        input: [{ type: "function_call_output", call_id: call.call_id, output: "sunny" }],
        tools: [weatherTool],
        store: false,
      }),
    );
    socket.close();
    expect(textOf(second)).toBe("results: sunny");
    const messages = (await received(m))[1]?.body.messages as Item[];
    expect(messages.map((message) => message.role)).toEqual(["user", "assistant", "tool"]);
    expect(messages[2]).toMatchObject({ tool_call_id: call.call_id, content: "sunny" });
  });

  it("answers previous_response_not_found for a store:false response of another socket, and stays open", async () => {
    const key = "sk-test-ws-continue-other";
    const first = new SdkSocket(key);
    const parent = responseOf(await first.create({ model: model("text:1"), input: "x", store: false }));
    first.close();
    const second = new SdkSocket(key);
    const refused = await second.create({ model: model("text:1"), input: "y", previous_response_id: parent.id });
    expect(refused).toEqual([
      {
        type: "error",
        status: 400,
        error: {
          type: "invalid_request_error",
          code: "previous_response_not_found",
          message: `Previous response with id '${parent.id}' not found.`,
          param: "previous_response_id",
        },
      },
    ]);
    expect(second.errors.map((error) => error.message)).toEqual([
      `Previous response with id '${parent.id}' not found.`,
    ]);
    const after = await second.create({ model: model("text:2"), input: "still open" });
    expect(textOf(responseOf(after))).toBe(words(2));
    second.close();
  });
  it("refuses previous_response_id with a conversation as over HTTP, writing nothing to the conversation", async () => {
    const key = "sk-test-ws-continue-conversation";
    const conversation = await client(key).conversations.create({});
    const socket = await RawSocket.open({}, key);
    const parent = finalResponse(await socket.create({ model: model("echo"), input: "one", store: false }));
    const m = model("echo");
    for (const store of [false, true]) {
      const refused = await socket.create({
        model: m,
        input: "two",
        previous_response_id: parent.id,
        conversation: conversation.id,
        store,
      });
      expect(refused).toEqual([
        {
          type: "error",
          status: 400,
          error: {
            type: "invalid_request_error",
            code: "mutually_exclusive_parameters",
            message:
              "Mutually exclusive parameters: 'previous_response_id' and 'conversation'. Ensure you are only providing one of these parameters.",
            param: "previous_response_id",
          },
        },
      ]);
    }
    socket.close();
    expect(await upstream.requests(m)).toEqual([]);
    const items = await client(key).conversations.items.list(conversation.id);
    expect(items.data).toEqual([]);
  });
});

describe("tenant walls on the socket", () => {
  it("answers another tenant's stored response exactly as an unknown id", async () => {
    const alice = new SdkSocket("sk-test-ws-wall-alice");
    const parent = responseOf(await alice.create({ model: model("text:1"), input: "alice's secret" }));
    alice.close();
    const bob = new SdkSocket("sk-test-ws-wall-bob");
    const forA = await bob.create({ model: model("echo"), input: "x", previous_response_id: parent.id });
    const unknown = "resp_" + "0".repeat(48);
    const forUnknown = await bob.create({ model: model("echo"), input: "x", previous_response_id: unknown });
    bob.close();
    expect(JSON.stringify(forA).replaceAll(parent.id, "ID")).toBe(JSON.stringify(forUnknown).replaceAll(unknown, "ID"));
    expect(forA[0]).toMatchObject({ type: "error", status: 400, error: { code: "previous_response_not_found" } });
  });
});

describe("the generate:false warm-up", () => {
  it("store:false: created then completed with no output and no model call; the next turn gets its input", async () => {
    const socket = new SdkSocket("sk-test-ws-warmup");
    const m = model("echo");
    const warm = await socket.create({ model: m, input: "the whole prompt", store: false, generate: false });
    expect(warm.map((event) => event.type)).toEqual(["response.created", "response.completed"]);
    expect(responseOf(warm)).toMatchObject({ status: "completed", output: [] });
    expect(await upstream.requests(m)).toEqual([]);
    const turn = responseOf(
      await socket.create({ model: m, previous_response_id: responseOf(warm).id, input: "and more", store: false }),
    );
    socket.close();
    expect(textOf(turn)).toBe("echo(2): and more");
    expect((await upstream.requests(m)).length).toBe(1);
  });

  it("store:true: a real stored response, input included, that HTTP chains from; no call over a chat route either", async () => {
    const key = "sk-test-ws-warmup-stored";
    const socket = new SdkSocket(key);
    const chat = routed("echo");
    const warm = responseOf(await socket.create({ model: chat.model, input: "prompt", generate: false }));
    socket.close();
    expect(await received(chat)).toEqual([]);
    const openai = client(key);
    expect(await openai.responses.retrieve(warm.id)).toMatchObject({ status: "completed", output: [], store: true });
    const items = await openai.responses.inputItems.list(warm.id);
    expect(items.data).toHaveLength(1);
    const next = await openai.responses.create({ model: chat.model, previous_response_id: warm.id, input: "next" });
    expect(next.output_text).toBe("echo(2): next");
  });
});

describe("a warm-up in pass-through mode", () => {
  it.each([true, false])(
    "with a key the upstream has not accepted asks it first (store: %s): a refused key gets its 401, nothing is written",
    async (store) => {
      const before = await rowCounts();
      const socket = await RawSocket.open({}, `sk-refused-${crypto.randomUUID()}`);
      const events = await socket.create({ model: model("echo"), input: "x", store, generate: false });
      expect(events).toEqual([
        expect.objectContaining({
          type: "error",
          status: 401,
          error: expect.objectContaining({ code: "mock_401" }) as unknown,
        }),
      ]);
      expect((await socket.closed).code).toBe(1008);
      expect(await rowCounts()).toEqual(before);
    },
  );
});

describe("a continuation that only the socket's context takes past a limit", () => {
  it("over the request size: a 413 that says the socket's context is in it, naming previous_response_id", async () => {
    const socket = await RawSocket.open({ overrides: { MAX_REQUEST_BYTES: "4096" } }, "sk-test-ws-expand-bytes");
    const parent = finalResponse(
      await socket.create({ model: model("text:1"), input: "a".repeat(2500), store: false }),
    );
    const refused = await socket.create({
      model: model("text:1"),
      input: "b".repeat(2500),
      previous_response_id: parent.id,
      store: false,
    });
    socket.close();
    expect(refused).toEqual([
      {
        type: "error",
        status: 413,
        error: {
          type: "invalid_request_error",
          code: "request_too_large",
          param: "previous_response_id",
          message: expect.stringMatching(
            new RegExp(
              `^Request too large: the context this socket keeps for the store: false response '${parent.id}' and this input come to about \\d+ bytes, over the 4096-byte request limit`,
            ),
          ) as unknown,
        },
      },
    ]);
  });

  it("over a stored input's 2,048 items: the refusal counts the socket's items apart from the ones sent", async () => {
    const socket = await RawSocket.open({}, "sk-test-ws-expand-items");
    const many = Array.from({ length: 2048 }, () => ({ role: "user", content: "x" }));
    const parent = finalResponse(await socket.create({ model: model("text:1"), input: many, store: false }));
    const refused = await socket.create({ model: model("text:1"), input: "y", previous_response_id: parent.id });
    socket.close();
    expect(refused).toEqual([
      {
        type: "error",
        status: 400,
        error: {
          type: "invalid_request_error",
          code: "array_above_max_length",
          param: "input",
          message: `Invalid 'input': a stored response records the context this socket keeps for the store: false response '${parent.id}' as its input: 2049 items kept and 1 sent, 2050 in all, over the 2048 a stored input may have. Continue with store: false, or start a stored chain with the items you need.`,
        },
      },
    ]);
  });
});

describe("a failed continuation", () => {
  it("on its parent's own lane evicts the parent", async () => {
    const socket = new SdkSocket("sk-test-ws-evict");
    const parent = responseOf(await socket.create({ model: model("text:1"), input: "x", store: false }));
    const failed = await socket.create({
      model: model("status:400"),
      input: "y",
      previous_response_id: parent.id,
      store: false,
    });
    expect(failed).toEqual([expect.objectContaining({ type: "error", status: 400 })]);
    const again = await socket.create({ model: model("text:1"), input: "z", previous_response_id: parent.id });
    socket.close();
    expect(again).toEqual([
      expect.objectContaining({
        type: "error",
        error: expect.objectContaining({ code: "previous_response_not_found" }) as unknown,
      }),
    ]);
  });

  it("with a tool output that answers no call of its parent is refused before any model call, and evicts the parent", async () => {
    // The Open Responses compliance suite's "failed continuation evicts cache" case.
    const socket = new SdkSocket("sk-test-ws-evict-orphan");
    const parent = responseOf(await socket.create({ model: model("text:1"), input: "x", store: false }));
    const m = model("echo");
    const failed = await socket.create({
      model: m,
      previous_response_id: parent.id,
      input: [{ type: "function_call_output", call_id: "call_answers_nothing", output: "none" }],
      store: false,
    });
    expect(failed).toEqual([
      expect.objectContaining({
        type: "error",
        status: 400,
        error: expect.objectContaining({
          message: "No tool call found for function call output with call_id call_answers_nothing.",
          param: "input",
        }) as unknown,
      }),
    ]);
    const again = await socket.create({ model: m, input: "z", previous_response_id: parent.id, store: false });
    socket.close();
    expect(again).toEqual([
      expect.objectContaining({
        type: "error",
        error: expect.objectContaining({ code: "previous_response_not_found" }) as unknown,
      }),
    ]);
    expect(await upstream.requests(m)).toEqual([]);
  });

  it("forked from another lane while the parent still runs: previous_response_in_progress, then it continues", async () => {
    const socket = await RawSocket.open({}, "sk-test-ws-fork-running");
    const held = model("gate:1:2");
    socket.send({ type: "response.create", model: held, input: "x", store: false, stream_id: "main" });
    const created = await socket.next("main");
    const parentId = (created?.response as { id: string }).id;
    const early = await socket.create({
      model: model("echo"),
      input: "y",
      previous_response_id: parentId,
      store: false,
      stream_id: "fork",
    });
    expect(early).toHaveLength(1);
    expect(early).toMatchObject([
      {
        type: "error",
        status: 400,
        stream_id: "fork",
        error: { code: "previous_response_in_progress", param: "previous_response_id" },
      },
    ]);
    await upstream.release(held);
    expect((await socket.request("main")).at(-1)?.type).toBe("response.completed");
    // The parent is known the moment its terminal event is out: a fork sent then continues it.
    const m = model("echo");
    const later = await socket.create({
      model: m,
      input: "z",
      previous_response_id: parentId,
      store: false,
      stream_id: "fork",
    });
    socket.close();
    expect(later.at(-1)).toMatchObject({ type: "response.completed" });
    expect(textOf(finalResponse(later) as unknown as { output: Item[] })).toBe("echo(3): z");
  });

  it("forked from another lane keeps the parent", async () => {
    const socket = new SdkSocket("sk-test-ws-fork");
    const parent = responseOf(
      await socket.create({ model: model("text:1"), input: "x", store: false, stream_id: "main" }),
    );
    const failed = await socket.create({
      model: model("status:400"),
      input: "y",
      previous_response_id: parent.id,
      store: false,
      stream_id: "fork",
    });
    expect(failed).toEqual([expect.objectContaining({ type: "error", status: 400, stream_id: "fork" })]);
    const m = model("echo");
    const again = await socket.create({
      model: m,
      input: "z",
      previous_response_id: parent.id,
      store: false,
      stream_id: "main",
    });
    socket.close();
    expect(textOf(responseOf(again))).toBe("echo(3): z");
  });
});
