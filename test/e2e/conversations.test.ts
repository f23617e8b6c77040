// The Conversations API through the openai SDK's `conversations` resource: create, retrieve,
// update, delete, and items (create, list with auto-pagination, retrieve, delete), tenant walls.

import { describe, expect, it } from "vitest";
import type { ResponseReasoningItem } from "openai/resources/responses/responses";
import { DELETED_ITEMS_MAX_CHARS } from "../../src/db/conversations";
import { routed } from "../support/chat";
import { client, gatewayFetch, GATEWAY_URL, model, upstream } from "../support/gateway";

const unknownId = "conv_" + "0".repeat(48);

describe("conversations", () => {
  it("creates, retrieves, updates and deletes a conversation", async () => {
    const openai = client("sk-test-conversations");
    const created = await openai.conversations.create({ metadata: { topic: "demo" } });
    expect(created).toEqual({
      id: expect.stringMatching(/^conv_[0-9a-f]{48}$/) as string,
      object: "conversation",
      created_at: expect.any(Number) as number,
      metadata: { topic: "demo" },
    });
    expect(await openai.conversations.retrieve(created.id)).toEqual(created);

    const updated = await openai.conversations.update(created.id, { metadata: { topic: "other", n: "2" } });
    expect(updated).toEqual({ ...created, metadata: { topic: "other", n: "2" } });
    expect(await openai.conversations.retrieve(created.id)).toEqual(updated);

    expect(await openai.conversations.delete(created.id)).toEqual({
      id: created.id,
      object: "conversation.deleted",
      deleted: true,
    });
    await expect(openai.conversations.retrieve(created.id)).rejects.toMatchObject({
      status: 404,
      error: { message: `Conversation with id '${created.id}' not found.`, type: "invalid_request_error" },
    });
    await expect(openai.conversations.items.list(created.id)).rejects.toMatchObject({ status: 404 });
  });

  it("creates a conversation without a body, with empty metadata", async () => {
    const response = await gatewayFetch(`${GATEWAY_URL}/conversations`, {
      method: "POST",
      headers: { authorization: "Bearer sk-test-conversations" },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ object: "conversation", metadata: {} });
  });

  it("keeps items in order and pages through them with the SDK's auto-pagination, both orders", async () => {
    const openai = client("sk-test-conversations");
    const initial = ["one", "two", "three"].map((text) => ({ role: "user" as const, content: text }));
    const conversation = await openai.conversations.create({ items: initial });
    const added = await openai.conversations.items.create(conversation.id, {
      items: [
        { type: "message", role: "assistant", content: "four" },
        { type: "message", role: "user", content: [{ type: "input_text", text: "five" }] },
      ],
    });
    expect(added.object).toBe("list");
    expect(added.has_more).toBe(false);
    expect(added.data).toHaveLength(2);
    expect(added.first_id).toBe(added.data[0]?.id);
    expect(added.data[0]).toMatchObject({
      type: "message",
      role: "assistant",
      content: [{ type: "output_text", text: "four", annotations: [] }],
      status: "completed",
    });

    const asc = [];
    for await (const item of openai.conversations.items.list(conversation.id, { limit: 2, order: "asc" }))
      asc.push(item);
    const texts = asc.map((item) => (item.type === "message" ? (item.content[0] as { text: string }).text : ""));
    expect(texts).toEqual(["one", "two", "three", "four", "five"]);
    expect(asc[0]).toEqual({
      id: expect.stringMatching(/^msg_/) as string,
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: "one" }],
      status: "completed",
    });
    expect(asc.slice(3).map((item) => item.id)).toEqual(added.data.map((item) => item.id));

    const desc = [];
    for await (const item of openai.conversations.items.list(conversation.id, { limit: 2 })) desc.push(item);
    expect(desc.map((item) => item.id)).toEqual(asc.map((item) => item.id).reverse());

    const firstPage = await openai.conversations.items.list(conversation.id, { limit: 2, order: "asc" });
    expect(firstPage.has_more).toBe(true);
    expect(firstPage.last_id).toBe(asc[1]?.id);
  });

  it("lists a full page of 100 items, in both orders and across a deleted item", async () => {
    const openai = client("sk-test-conversations");
    const notes = (from: number) =>
      Array.from({ length: 20 }, (_, i) => ({
        type: "message" as const,
        role: "user" as const,
        content: `n${from + i}`,
      }));
    const conversation = await openai.conversations.create({ items: notes(0) });
    for (let from = 20; from < 120; from += 20)
      await openai.conversations.items.create(conversation.id, { items: notes(from) });
    const texts = (page: { data: unknown[] }) =>
      page.data.map((item) => ((item as { content: { text: string }[] }).content[0] as { text: string }).text);

    const asc = await openai.conversations.items.list(conversation.id, { order: "asc", limit: 100 });
    expect(texts(asc)).toEqual(Array.from({ length: 100 }, (_, i) => `n${i}`));
    expect(asc.has_more).toBe(true);
    const desc = await openai.conversations.items.list(conversation.id, { order: "desc", limit: 100 });
    expect(texts(desc)).toEqual(Array.from({ length: 100 }, (_, i) => `n${119 - i}`));

    // A gap in the positions: the page still holds 100 items, none of them the deleted one.
    await openai.conversations.items.delete((asc.data[50] as { id: string }).id, { conversation_id: conversation.id });
    const after = await openai.conversations.items.list(conversation.id, { order: "asc", limit: 100 });
    expect(texts(after)).toEqual(Array.from({ length: 101 }, (_, i) => `n${i}`).filter((text) => text !== "n50"));
  });

  it("retrieves and deletes one item; deleting answers the conversation", async () => {
    const openai = client("sk-test-conversations");
    const conversation = await openai.conversations.create({
      items: [
        { role: "user", content: "keep" },
        { role: "user", content: "drop" },
      ],
    });
    const page = await openai.conversations.items.list(conversation.id, { order: "asc" });
    const [keep, drop] = page.data;
    expect(await openai.conversations.items.retrieve(drop?.id ?? "", { conversation_id: conversation.id })).toEqual(
      drop,
    );
    expect(await openai.conversations.items.delete(drop?.id ?? "", { conversation_id: conversation.id })).toEqual(
      conversation,
    );
    const after = await openai.conversations.items.list(conversation.id);
    expect(after.data.map((item) => item.id)).toEqual([keep?.id]);
    await expect(
      openai.conversations.items.retrieve(drop?.id ?? "", { conversation_id: conversation.id }),
    ).rejects.toMatchObject({ status: 404, error: { message: `Item with id '${drop?.id}' not found.` } });
    await expect(
      openai.conversations.items.delete(drop?.id ?? "", { conversation_id: conversation.id }),
    ).rejects.toMatchObject({ status: 404 });
  });

  it("clears a conversation by deleting each item it lists: a cursor deleted since its page pages on, both orders", async () => {
    const openai = client("sk-test-conversations-clear");
    for (const order of ["desc", "asc"] as const) {
      // The client's own ids, which carry no time: where a deleted one stood is kept for it.
      const note = (i: number) => ({
        type: "message" as const,
        role: "user" as const,
        id: `note ${i}`,
        content: `n${i}`,
      });
      const conversation = await openai.conversations.create({ items: Array.from({ length: 20 }, (_, i) => note(i)) });
      for (let from = 20; from < 65; from += 20)
        await openai.conversations.items.create(conversation.id, {
          items: Array.from({ length: Math.min(20, 65 - from) }, (_, i) => note(from + i)),
        });
      const deleted: string[] = [];
      for await (const item of openai.conversations.items.list(conversation.id, { order })) {
        await openai.conversations.items.delete(item.id ?? "", { conversation_id: conversation.id });
        deleted.push(item.id ?? "");
      }
      const all = Array.from({ length: 65 }, (_, i) => `note ${i}`);
      expect(deleted).toEqual(order === "asc" ? all : all.reverse());
      expect((await openai.conversations.items.list(conversation.id)).data).toEqual([]);
    }
  });

  it("pages on from a deleted cursor's place; a deleted id added again is its new place", async () => {
    const openai = client("sk-test-conversations-clear");
    const note = (i: number) => ({ type: "message" as const, role: "user" as const, id: `n_${i}`, content: `n${i}` });
    const conversation = await openai.conversations.create({ items: Array.from({ length: 6 }, (_, i) => note(i)) });
    const ids = async (query: { after: string; order: "asc" | "desc" }) =>
      (await openai.conversations.items.list(conversation.id, { ...query, limit: 2 })).data.map((item) => item.id);
    await openai.conversations.items.delete("n_2", { conversation_id: conversation.id });
    await openai.conversations.items.delete("n_3", { conversation_id: conversation.id });
    expect(await ids({ after: "n_2", order: "asc" })).toEqual(["n_4", "n_5"]);
    expect(await ids({ after: "n_3", order: "desc" })).toEqual(["n_1", "n_0"]);
    // Deleted, the id may be added again (as before): it is the item's again, at the end.
    await openai.conversations.items.create(conversation.id, { items: [note(2)] });
    expect(await ids({ after: "n_2", order: "desc" })).toEqual(["n_5", "n_4"]);
    expect(await ids({ after: "n_2", order: "asc" })).toEqual([]);
    // Another conversation's deleted item is no place in this one.
    const other = await openai.conversations.create({ items: [note(0)] });
    await expect(openai.conversations.items.list(other.id, { after: "n_3" })).rejects.toMatchObject({
      status: 400,
      param: "after",
    });
  });

  it("keeps the places of the latest deletions only, up to DELETED_ITEMS_MAX_CHARS", async () => {
    const openai = client("sk-test-conversations-clear");
    // Ids of a third of the bound each: the third deletion starts the record again.
    const long = (i: number) => `${i}`.padEnd(DELETED_ITEMS_MAX_CHARS / 3, "x");
    const items = Array.from({ length: 5 }, (_, i) => ({
      type: "message" as const,
      role: "user" as const,
      id: long(i),
      content: `n${i}`,
    }));
    const conversation = await openai.conversations.create({ items });
    for (const i of [0, 1, 2]) await openai.conversations.items.delete(long(i), { conversation_id: conversation.id });
    const after = (id: string) => openai.conversations.items.list(conversation.id, { after: id, order: "asc" });
    expect((await after(long(2))).data.map((item) => item.id)).toEqual([long(3), long(4)]);
    await expect(after(long(0))).rejects.toMatchObject({ status: 400, param: "after" });
  });

  it("refuses more than 20 items at a time, bad items and bad metadata with OpenAI's 400s", async () => {
    const openai = client("sk-test-conversations");
    const many = Array.from({ length: 21 }, () => ({ role: "user" as const, content: "x" }));
    await expect(openai.conversations.create({ items: many })).rejects.toMatchObject({
      status: 400,
      param: "items",
      code: "array_above_max_length",
    });
    const conversation = await openai.conversations.create();
    await expect(openai.conversations.items.create(conversation.id, { items: many })).rejects.toMatchObject({
      status: 400,
      param: "items",
    });
    await expect(
      openai.conversations.items.create(conversation.id, { items: [{ type: "message" } as never] }),
    ).rejects.toMatchObject({ status: 400, param: "items[0].role", code: "missing_required_parameter" });
    // An unknown type would be stored and then fail every later turn: refused where it is added.
    const bogus = [{ role: "user" as const, content: "ok" }, { type: "bogus", text: "x" } as never];
    await expect(openai.conversations.items.create(conversation.id, { items: bogus })).rejects.toMatchObject({
      status: 400,
      param: "items[1].type",
      code: "invalid_value",
    });
    await expect(openai.conversations.create({ items: bogus })).rejects.toMatchObject({ param: "items[1].type" });
    await expect(
      openai.conversations.update(conversation.id, { metadata: { k: "v".repeat(513) } }),
    ).rejects.toMatchObject({ status: 400, code: "string_above_max_length" });
    await expect(openai.conversations.items.list(conversation.id, { after: "msg_nope" })).rejects.toMatchObject({
      status: 400,
      param: "after",
    });
    expect((await openai.conversations.items.list(conversation.id)).data).toEqual([]);
  });

  it("answers another key's conversation exactly like an unknown one, on every route", async () => {
    const alice = client("sk-conv-alice");
    const bob = client("sk-conv-bob");
    const own = await alice.conversations.create({ items: [{ role: "user", content: "secret" }] });
    const [item] = (await alice.conversations.items.list(own.id)).data;
    for (const id of [own.id, unknownId]) {
      const expected = { status: 404, error: { message: `Conversation with id '${id}' not found.`, param: null } };
      await expect(bob.conversations.retrieve(id)).rejects.toMatchObject(expected);
      await expect(bob.conversations.update(id, { metadata: {} })).rejects.toMatchObject(expected);
      await expect(bob.conversations.delete(id)).rejects.toMatchObject(expected);
      await expect(bob.conversations.items.list(id)).rejects.toMatchObject(expected);
      await expect(
        bob.conversations.items.create(id, { items: [{ role: "user", content: "x" }] }),
      ).rejects.toMatchObject(expected);
      await expect(bob.conversations.items.retrieve(item?.id ?? "", { conversation_id: id })).rejects.toMatchObject(
        expected,
      );
      await expect(bob.conversations.items.delete(item?.id ?? "", { conversation_id: id })).rejects.toMatchObject(
        expected,
      );
    }
    expect((await alice.conversations.items.list(own.id)).data).toHaveLength(1);
  });

  it("refuses a reasoning or compaction item sealed by the gateway that does not open for the key", async () => {
    const alice = client("sk-conv-seal-alice");
    const bob = client("sk-conv-seal-bob");
    const made = await alice.responses.create({
      model: routed("fixture:vercel-ai__deepseek-reasoning.chunks.txt").model,
      input: "How many r's in strawberry?",
      store: false,
      include: ["reasoning.encrypted_content"],
    });
    const reasoning = made.output.find((item) => item.type === "reasoning") as ResponseReasoningItem;
    const sealed = (id: string, encrypted = reasoning.encrypted_content) => ({
      type: "reasoning" as const,
      id,
      summary: [],
      encrypted_content: encrypted,
    });
    // The key it was made for keeps it, in a new conversation and added to one.
    const own = await alice.conversations.create({ items: [sealed("rs_a")] });
    await alice.conversations.items.create(own.id, { items: [sealed("rs_b")] });

    // Stored, any of these would fail every later turn of the conversation with a 400 naming no
    // item the client sent: another key's seal, an altered one, a forged compaction item.
    const other = await bob.conversations.create();
    const refused = (param: string) => ({ status: 400, param, code: "invalid_encrypted_content" });
    await expect(bob.conversations.items.create(other.id, { items: [sealed("rs_c")] })).rejects.toMatchObject(
      refused("items[0].encrypted_content"),
    );
    const altered = sealed("rs_d", `${reasoning.encrypted_content ?? ""}x`);
    const forged = { type: "compaction" as const, encrypted_content: "gwc1.AAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
    await expect(
      alice.conversations.create({ items: [{ role: "user", content: "hi" }, altered] }),
    ).rejects.toMatchObject(refused("items[1].encrypted_content"));
    await expect(alice.conversations.items.create(own.id, { items: [forged] })).rejects.toMatchObject(
      refused("items[0].encrypted_content"),
    );
    expect((await alice.conversations.items.list(own.id)).data).toHaveLength(2);
    expect((await bob.conversations.items.list(other.id)).data).toEqual([]);
  });

  it("gives a compaction item added without an id a compaction item's prefix", async () => {
    const openai = client("sk-test-conversations");
    // One OpenAI made: opaque to the gateway, kept as it is.
    const conversation = await openai.conversations.create({
      items: [{ type: "compaction", encrypted_content: "gAAAAopaque" }],
    });
    const [item] = (await openai.conversations.items.list(conversation.id)).data;
    expect(item).toEqual({
      id: expect.stringMatching(/^cmp_[0-9a-f]{48}$/) as string,
      type: "compaction",
      encrypted_content: "gAAAAopaque",
    });
  });

  it("lists logprobs only when include asks for them, encrypted reasoning always, and sends both upstream", async () => {
    const openai = client("sk-test-conversations");
    const logprobs = [{ token: "hi", logprob: -0.5, bytes: [104, 105], top_logprobs: [] }];
    const text = { type: "output_text" as const, text: "hi", annotations: [], logprobs };
    const items = [
      { type: "reasoning" as const, id: "rs_included", summary: [], encrypted_content: "gAAAAopaque" },
      {
        type: "message" as const,
        id: "msg_included",
        role: "assistant" as const,
        content: [text],
        status: "completed" as const,
      },
    ];
    const conversation = await openai.conversations.create();
    const include = ["reasoning.encrypted_content" as const, "message.output_text.logprobs" as const];
    // Encrypted reasoning is listed unasked (unlike OpenAI): a client replaying listed items needs it.
    const plain = [
      { id: "rs_included", type: "reasoning", summary: [], encrypted_content: "gAAAAopaque" },
      {
        id: "msg_included",
        type: "message",
        role: "assistant",
        status: "completed",
        content: [{ ...text, logprobs: [] }],
      },
    ];
    const full = [plain[0], { ...plain[1], content: [text] }];
    // As OpenAI lists them: logprobs are left out unless asked for.
    expect((await openai.conversations.items.create(conversation.id, { items })).data).toEqual(plain);
    expect((await openai.conversations.items.list(conversation.id, { order: "asc" })).data).toEqual(plain);
    expect((await openai.conversations.items.list(conversation.id, { order: "asc", include })).data).toEqual(full);
    const one = (id: string, asked: typeof include | [] = []) =>
      openai.conversations.items.retrieve(id, { conversation_id: conversation.id, include: asked });
    expect(await one("rs_included")).toEqual(plain[0]);
    expect(await one("msg_included")).toEqual(plain[1]);
    expect(await one("rs_included", include)).toEqual(full[0]);
    expect(await one("msg_included", include)).toEqual(full[1]);

    // What was stored is whole: the next turn sends the encrypted reasoning upstream.
    const m = model("echo");
    await openai.responses.create({ model: m, input: "next", conversation: conversation.id });
    const [sent] = await upstream.requests(m);
    expect((sent?.body.input as Record<string, unknown>[])[0]).toMatchObject({ encrypted_content: "gAAAAopaque" });
  });
});
