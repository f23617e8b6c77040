// Responses on a conversation: its items are prepended to the input, the turn's input and output
// are appended when it ends (synchronous, streaming, background, store:false, Chat Completions),
// and a second response while one runs is refused with OpenAI's `conversation_locked` 400.

import type OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { received, routed } from "../support/chat";
import { client, model, upstream } from "../support/gateway";
import { collect, openStream, rest } from "../support/streams";

type Item = Record<string, unknown>;

async function items(openai: OpenAI, conversationId: string): Promise<Item[]> {
  const all: Item[] = [];
  for await (const item of openai.conversations.items.list(conversationId, { order: "asc", limit: 100 }))
    all.push(item as unknown as Item);
  return all;
}

/** The text of a conversation item (a message's first part), to read a conversation at a glance. */
const textOf = (item: Item | undefined): string => (item?.content as { text?: string }[] | undefined)?.[0]?.text ?? "";

describe("responses on a conversation", () => {
  it("sends every earlier item upstream and appends each turn, synchronous, streamed and background", async () => {
    const openai = client("sk-test-turns");
    const conversation = await openai.conversations.create({ items: [{ role: "developer", content: "be brief" }] });
    const m = model("echo");

    const first = await openai.responses.create({ model: m, conversation: conversation.id, input: "one" });
    expect(first.conversation).toEqual({ id: conversation.id });
    expect(first.output_text).toBe("echo(2): one");

    // The stream's end is only sent once the conversation has the turn's items.
    const streamed = await collect(
      await openai.responses.create({ model: m, conversation: { id: conversation.id }, input: "two", stream: true }),
    );
    expect(streamed.at(-1)?.type).toBe("response.completed");
    expect((await items(openai, conversation.id)).map(textOf)).toEqual([
      "be brief",
      "one",
      "echo(2): one",
      "two",
      "echo(4): two",
    ]);

    const queued = await openai.responses.create({
      model: m,
      conversation: conversation.id,
      input: [{ role: "user", content: [{ type: "input_text", text: "three" }] }],
      background: true,
    });
    expect(queued.status).toBe("queued");
    const followed = await collect(await openai.responses.retrieve(queued.id, { stream: true }));
    expect(followed.at(-1)?.type).toBe("response.completed");

    const sent = await upstream.requests(m);
    expect(sent).toHaveLength(3);
    for (const request of sent) expect(request.body).not.toHaveProperty("conversation");
    const second = (streamed.at(-1) as { response: { id: string; output: { id: string }[] } }).response;
    expect(sent[2]?.body.input).toEqual([
      { role: "developer", content: "be brief" },
      { role: "user", content: "one" },
      expect.objectContaining({ type: "message", role: "assistant", id: first.output[0]?.id }),
      { role: "user", content: "two" },
      expect.objectContaining({ type: "message", role: "assistant", id: second.output[0]?.id }),
      { role: "user", content: [{ type: "input_text", text: "three" }] },
    ]);

    const all = await items(openai, conversation.id);
    expect(all.map(textOf)).toEqual([
      "be brief",
      "one",
      "echo(2): one",
      "two",
      "echo(4): two",
      "three",
      "echo(6): three",
    ]);
    // The conversation and the responses share item ids.
    const [firstInput] = (await openai.responses.inputItems.list(first.id)).data;
    expect(all[1]?.id).toBe(firstInput?.id);
    expect(all[2]).toEqual({ ...first.output[0], id: first.output[0]?.id });
    expect(all[2]?.id).toBe(first.output[0]?.id);
    expect(all[6]?.id).toBe((await openai.responses.retrieve(queued.id)).output[0]?.id);
  });

  it("appends a store:false turn too, though the response itself is not stored", async () => {
    const openai = client("sk-test-turns");
    const conversation = await openai.conversations.create();
    const m = model("echo");
    const first = await openai.responses.create({ model: m, conversation: conversation.id, input: "a", store: false });
    await expect(openai.responses.retrieve(first.id)).rejects.toMatchObject({ status: 404 });
    await collect(
      await openai.responses.create({
        model: m,
        conversation: conversation.id,
        input: "b",
        store: false,
        stream: true,
      }),
    );
    expect((await items(openai, conversation.id)).map(textOf)).toEqual(["a", "echo(1): a", "b", "echo(3): b"]);
  });

  it("appends a turn of many items, over the rows one append statement holds", async () => {
    // 23 inputs and the answer: 24 item rows, whose append went past D1's 100 bound values (a 503,
    // nothing kept, and the same again on every retry).
    const openai = client("sk-test-turns");
    const input = Array.from({ length: 60 }, (_, i) => ({ role: "user" as const, content: `m${i}` }));
    for (const count of [23, 60]) {
      const conversation = await openai.conversations.create();
      const response = await openai.responses.create({
        model: model("echo"),
        conversation: conversation.id,
        input: input.slice(0, count),
      });
      expect(response.status).toBe("completed");
      const texts = (await items(openai, conversation.id)).map(textOf);
      expect(texts).toEqual([...input.slice(0, count).map((item) => item.content), response.output_text]);
    }
  });

  it("appends an incomplete turn, but nothing of a failed one, and frees the conversation either way", async () => {
    const openai = client("sk-test-turns");
    const conversation = await openai.conversations.create();
    const incomplete = await openai.responses.create({
      model: model("incomplete"),
      conversation: conversation.id,
      input: "cut",
    });
    expect(incomplete.status).toBe("incomplete");
    const failed = await openai.responses.create({
      model: model("cut-after:5"),
      conversation: conversation.id,
      input: "dropped",
    });
    expect(failed.status).toBe("failed");
    await expect(
      openai.responses.create({ model: model("status:400"), conversation: conversation.id, input: "refused" }),
    ).rejects.toMatchObject({ status: 400 });
    await openai.responses.create({ model: model("text:1"), conversation: conversation.id, input: "last" });
    expect((await items(openai, conversation.id)).map(textOf)).toEqual(["cut", "cut short", "last", "w0 "]);
  });

  it("continues a conversation's turn by previous_response_id with the conversation's items it was answered after", async () => {
    const openai = client("sk-test-turn-branch");
    const conversation = await openai.conversations.create({ items: [{ role: "developer", content: "be brief" }] });
    const m = model("echo");
    await openai.responses.create({ model: m, conversation: conversation.id, input: "one" });
    const second = await openai.responses.create({ model: m, conversation: conversation.id, input: "two" });
    // Added after the turn: not part of what it was answered after.
    await openai.conversations.items.create(conversation.id, { items: [{ role: "user", content: "later" }] });

    const branch = await openai.responses.create({ model: m, previous_response_id: second.id, input: "fork" });
    expect(branch.output_text).toBe("echo(6): fork");
    const sent = (await upstream.requests(m)).at(-1)?.body.input as Item[];
    expect(sent.map((item) => textOf(item) || (item.content as string))).toEqual([
      "be brief",
      "one",
      "echo(2): one",
      "two",
      "echo(4): two",
      "fork",
    ]);
    // The branch joins no conversation.
    expect((await items(openai, conversation.id)).map(textOf).at(-1)).toBe("later");
  });

  it("refuses an unknown, foreign or malformed conversation before calling upstream", async () => {
    const alice = client("sk-turns-alice");
    const bob = client("sk-turns-bob");
    const own = await alice.conversations.create();
    for (const id of [own.id, "conv_" + "0".repeat(48)]) {
      for (const store of [true, false]) {
        const m = model("echo");
        await expect(bob.responses.create({ model: m, conversation: id, input: "x", store })).rejects.toMatchObject({
          status: 404,
          error: { message: `Conversation with id '${id}' not found.`, param: "conversation" },
        });
        expect(await upstream.requests(m)).toEqual([]);
      }
    }
    await expect(bob.responses.create({ model: model("echo"), conversation: "abc", input: "x" })).rejects.toMatchObject(
      {
        status: 400,
        param: "conversation",
        code: "invalid_value",
      },
    );
    // An object whose id is not a string names the id, not the object it is in.
    const badId = { id: 5 } as unknown as { id: string };
    await expect(bob.responses.create({ model: model("echo"), conversation: badId, input: "x" })).rejects.toMatchObject(
      {
        status: 400,
        error: {
          message: "Invalid type for 'conversation.id': expected a string, but got an integer instead.",
          param: "conversation.id",
          code: "invalid_type",
        },
      },
    );
    await expect(
      bob.responses.create({
        model: model("echo"),
        conversation: own.id,
        previous_response_id: "resp_" + "0".repeat(48),
        input: "x",
      }),
    ).rejects.toMatchObject({ status: 400, code: "mutually_exclusive_parameters" });
  });

  it("refuses a second response while one runs on the conversation, then items are complete and ordered", async () => {
    const openai = client("sk-test-turns");
    const conversation = await openai.conversations.create();
    const held = model("gate:3:4");
    const stream = await openai.responses.create({
      model: held,
      conversation: conversation.id,
      input: "first",
      stream: true,
    });
    const { iterator, id } = await openStream(stream);

    const refused = model("echo");
    const locked = {
      status: 400,
      error: {
        message: "Another process is currently operating on this conversation. Please retry in a few seconds.",
        type: "invalid_request_error",
        param: "conversation",
        code: "conversation_locked",
      },
    };
    const attempt = { model: refused, conversation: conversation.id, input: "second" };
    await expect(openai.responses.create(attempt)).rejects.toMatchObject(locked);
    await expect(openai.responses.create({ ...attempt, stream: true })).rejects.toMatchObject(locked);
    await expect(openai.responses.create({ ...attempt, background: true })).rejects.toMatchObject(locked);
    await expect(openai.responses.create({ ...attempt, store: false })).rejects.toMatchObject(locked);
    expect(await upstream.requests(refused)).toEqual([]);

    await upstream.release(held);
    await rest(iterator);
    const after = model("echo");
    const next = await openai.responses.create({ model: after, conversation: conversation.id, input: "third" });
    expect(next.output_text).toBe("echo(3): third");

    const all = await items(openai, conversation.id);
    expect(all.map(textOf)).toEqual(["first", "w0 w1 w2 w3 ", "third", "echo(3): third"]);
    expect(all[1]?.id).toBe((await openai.responses.retrieve(id)).output[0]?.id);
  });

  it("of responses racing on one conversation, each turn that ran is appended whole, in one piece", async () => {
    const openai = client("sk-test-turns");
    const conversation = await openai.conversations.create();
    const inputs = ["r0", "r1", "r2", "r3"];
    const outcomes = await Promise.allSettled(
      inputs.map((input) => openai.responses.create({ model: model("text:2"), conversation: conversation.id, input })),
    );
    const ran = outcomes.flatMap((outcome, index) => (outcome.status === "fulfilled" ? [index] : []));
    expect(ran.length).toBeGreaterThan(0);
    for (const outcome of outcomes)
      if (outcome.status === "rejected") expect(outcome.reason).toMatchObject({ code: "conversation_locked" });

    const all = await items(openai, conversation.id);
    expect(all).toHaveLength(ran.length * 2);
    const texts = all.map(textOf);
    for (const index of ran) {
      const at = texts.indexOf(inputs[index] ?? "");
      const response = (outcomes[index] as PromiseFulfilledResult<{ output: { id: string }[] }>).value;
      expect(all[at + 1]?.id).toBe(response.output[0]?.id);
    }
  });

  it("frees the conversation when its background response is cancelled, appending nothing of it", async () => {
    const openai = client("sk-test-turns");
    const conversation = await openai.conversations.create();
    const held = model("gate:3:4");
    const queued = await openai.responses.create({
      model: held,
      conversation: conversation.id,
      input: "x",
      background: true,
    });
    expect((await openai.responses.cancel(queued.id)).status).toBe("cancelled");
    await upstream.release(held);
    const next = await openai.responses.create({ model: model("echo"), conversation: conversation.id, input: "y" });
    expect(next.output_text).toBe("echo(1): y");
    expect((await items(openai, conversation.id)).map(textOf)).toEqual(["y", "echo(1): y"]);
  });

  it("frees the conversation when its running response is deleted", async () => {
    const openai = client("sk-test-turns");
    const conversation = await openai.conversations.create();
    const held = model("gate:3:4");
    const stream = await openai.responses.create({
      model: held,
      conversation: conversation.id,
      input: "x",
      stream: true,
    });
    const { id } = await openStream(stream);
    await openai.responses.delete(id);
    await upstream.release(held);
    const next = await openai.responses.create({ model: model("echo"), conversation: conversation.id, input: "y" });
    expect(next.output_text).toBe("echo(1): y");
  });

  it("runs turns on a Chat Completions upstream too: it receives the earlier items, its answers are appended", async () => {
    const openai = client("sk-test-turns-chat");
    const conversation = await openai.conversations.create({
      items: [
        { role: "developer", content: "be brief" },
        { role: "user", content: "earlier" },
      ],
    });
    const m = routed("echo");
    const first = await openai.responses.create({ model: m.model, conversation: conversation.id, input: "now" });
    expect(first.output_text).toBe("echo(3): now");
    const streamed = await collect(
      await openai.responses.create({ model: m.model, conversation: conversation.id, input: "next", stream: true }),
    );
    expect(streamed.at(-1)?.type).toBe("response.completed");

    const sent = await received(m);
    expect(sent.map((request) => request.path)).toEqual(["/v1/chat/completions", "/v1/chat/completions"]);
    expect(sent[1]?.body.messages).toEqual([
      expect.objectContaining({ content: "be brief" }),
      { role: "user", content: "earlier" },
      { role: "user", content: "now" },
      expect.objectContaining({ role: "assistant", content: "echo(3): now" }),
      { role: "user", content: "next" },
    ]);
    const all = await items(openai, conversation.id);
    expect(all.map(textOf)).toEqual(["be brief", "earlier", "now", "echo(3): now", "next", "echo(5): next"]);
    expect(all[3]?.id).toBe(first.output[0]?.id);
  });

  it("refuses, naming the item, a turn on a conversation whose tool output lost its call, over either protocol", async () => {
    const openai = client("sk-test-turns");
    for (const m of [model("echo"), routed("echo").model]) {
      const conversation = await openai.conversations.create({
        items: [
          { type: "function_call", id: "fc_deleted", call_id: "call_deleted", name: "f", arguments: "{}" },
          { type: "function_call_output", id: "fco_orphan", call_id: "call_deleted", output: "42" },
        ],
      });
      expect((await openai.responses.create({ model: m, conversation: conversation.id, input: "a" })).status).toBe(
        "completed",
      );
      // Without its call, the output would go upstream answering nothing: a Responses upstream refuses
      // it naming no item, a chat server gets a tool message after no tool call.
      await openai.conversations.items.delete("fc_deleted", { conversation_id: conversation.id });
      const refused = openai.responses.create({ model: m, conversation: conversation.id, input: "b" });
      await expect(refused).rejects.toMatchObject({
        status: 400,
        param: "conversation",
        message: expect.stringContaining(
          `No tool call found for function call output with call_id call_deleted. Item 'fco_orphan' of conversation '${conversation.id}'`,
        ) as string,
      });
      // Deleting the output too lets the conversation go on.
      await openai.conversations.items.delete("fco_orphan", { conversation_id: conversation.id });
      expect((await openai.responses.create({ model: m, conversation: conversation.id, input: "c" })).status).toBe(
        "completed",
      );
    }
  });
});
