// `item_reference` input items: the gateway replaces each with the stored output item it names, for
// a `responses` upstream (called with store:false, it could not resolve them) and a Chat Completions
// one alike. The Vercel AI SDK sends one for every earlier assistant item of a chat by default.

import { createOpenAI } from "@ai-sdk/openai";
import { generateText, type ModelMessage } from "ai";
import { describe, expect, it } from "vitest";
import { received, routed, rowCount } from "../support/chat";
import {
  CLOSED_LIST_CONVERSATIONS,
  CONVERSATION_LOOKUP_BYTES,
  findConversationItems,
} from "../../src/db/conversation-item-lookup";
import { ITEM_IDS_MAX_CHARS } from "../../src/db/conversations";
import { findOutputItems } from "../../src/db/item-lookup";
import { MAX_ITEM_REFERENCES, resolveItemReferences } from "../../src/run/item-references";
import { client, gatewayFetch, GATEWAY_URL, model, upstream, words } from "../support/gateway";
import { recordingDb } from "../support/recording-db";
import { tenantOf } from "../support/run-object";
import { tenantD1 } from "../support/shards";

const KEY = "sk-test-item-references";
const openai = client(KEY);

const reference = (id: string) => ({ type: "item_reference" as const, id });

describe("item_reference", () => {
  it("sends a responses upstream the stored item itself, and keeps it as the new response's input", async () => {
    const first = await openai.responses.create({ model: model("text:2"), input: "one" });
    const said = first.output[0];
    expect(said?.type).toBe("message");
    const m = model("echo");
    const second = await openai.responses.create({
      model: m,
      input: [{ role: "user", content: "one" }, reference(said?.id ?? ""), { role: "user", content: "two" }],
    });
    expect(second.output_text).toBe("echo(3): two");
    const [sent] = await upstream.requests(m);
    expect(sent?.body.input).toEqual([{ role: "user", content: "one" }, said, { role: "user", content: "two" }]);
    // The type may be left out (OpenAPI's ItemReferenceParam).
    const typeless = model("echo");
    await openai.responses.create({ model: typeless, input: [{ id: said?.id ?? "" }] as never });
    expect((await upstream.requests(typeless))[0]?.body.input).toEqual([said]);
    const listed = await openai.responses.inputItems.list(second.id, { order: "asc" });
    expect(listed.data.map((item) => item.id)).toContain(said?.id);
    expect(listed.data.find((item) => item.id === said?.id)).toMatchObject({ type: "message", role: "assistant" });
  });

  it("resolves references to encrypted reasoning and a tool call in a streamed create", async () => {
    const first = await openai.responses.create({
      model: model("fixture:openai-reasoning-encrypted-content.1.chunks.txt:0"),
      input: "go",
    });
    const reasoning = first.output.find((item) => item.type === "reasoning");
    expect(reasoning).toHaveProperty("encrypted_content");
    const call = await openai.responses.create({ model: model("function:get_weather"), input: "weather?" });
    const fc = call.output.find((item) => item.type === "function_call");
    if (fc?.type !== "function_call") throw new Error("the mock made no call");
    const m = model("echo");
    const stream = openai.responses.stream({
      model: m,
      input: [
        reference(reasoning?.id ?? ""),
        reference(fc.id ?? ""),
        { type: "function_call_output", call_id: fc.call_id, output: "sunny" },
      ],
    });
    expect((await stream.finalResponse()).status).toBe("completed");
    const [sent] = await upstream.requests(m);
    expect(sent?.body.input).toEqual([
      reasoning,
      fc,
      { type: "function_call_output", call_id: fc.call_id, output: "sunny" },
    ]);
  });

  it("refuses an id it does not have, another tenant's and a store:false response's, as OpenAI does", async () => {
    const mine = await openai.responses.create({ model: model("text:1"), input: "x" });
    const notStored = await openai.responses.create({ model: model("text:1"), input: "x", store: false });
    const theirs = await client("sk-test-item-references-other").responses.create({
      model: model("text:1"),
      input: "x",
    });
    const m = model("echo");
    for (const id of ["msg_doesnotexist", theirs.output[0]?.id ?? "", notStored.output[0]?.id ?? ""]) {
      expect(theirs.output[0]?.id).not.toBe(mine.output[0]?.id);
      const refused = await openai.responses
        .create({ model: m, input: [reference(id)] })
        .catch((error: unknown) => error);
      expect(refused).toMatchObject({ status: 400, param: "input", type: "invalid_request_error" });
      expect((refused as Error).message).toContain(`Item with id '${id}' not found.`);
    }
    expect(await upstream.requests(m)).toHaveLength(0);
  });

  it("refuses more distinct references than a stored input can hold before looking any up, counting a repeated id once", async () => {
    const said = (await openai.responses.create({ model: model("text:1"), input: "x" })).output[0]?.id ?? "";
    const m = model("echo");
    // Repeats of one id are one lookup: 2,048 distinct ids in 4,096 references are looked up.
    const distinct = Array.from({ length: MAX_ITEM_REFERENCES - 1 }, (_, i) => reference(`msg_missing${i}`));
    const within = await openai.responses
      .create({ model: m, store: false, input: [...distinct, ...distinct, reference(said), reference(said)] })
      .catch((error: unknown) => error);
    expect((within as Error).message).toContain("Item with id 'msg_missing0' not found.");
    // A stored create's input count refuses as many items first; store:false has no count of its own.
    for (const stream of [false, true]) {
      const refused = await openai.responses
        .create({ model: m, store: false, stream, input: [...distinct, reference(said), reference("msg_onemore")] })
        .catch((error: unknown) => error);
      expect(refused).toMatchObject({
        status: 400,
        param: "input",
        type: "invalid_request_error",
        code: "array_above_max_length",
      });
      expect((refused as Error).message).toContain(
        `too many item references. Expected at most ${MAX_ITEM_REFERENCES} distinct \`item_reference\` ids, but got ${MAX_ITEM_REFERENCES + 1} instead.`,
      );
    }
    const counted = await openai.responses.inputTokens
      .count({ model: m, input: [...distinct, reference(said), reference("msg_onemore")] })
      .catch((error: unknown) => error);
    expect(counted).toMatchObject({ status: 400, param: "input" });
    expect((counted as Error).message).toContain("too many item references");
    expect(await upstream.requests(m)).toHaveLength(0);
  });

  it("refuses an unknown id over a Chat Completions upstream in every mode, storing and sending nothing", async () => {
    for (const mode of [{}, { stream: true }, { background: true }, { store: false }]) {
      const m = routed("echo");
      const before = await rowCount("responses");
      const refused = await openai.responses
        .create({ model: m.model, input: [reference("msg_doesnotexist")], ...mode })
        .catch((error: unknown) => error);
      expect(refused).toMatchObject({ status: 400, param: "input", type: "invalid_request_error" });
      expect(await rowCount("responses")).toBe(before);
      expect(await received(m)).toEqual([]);
    }
  });

  it("adds the stored item itself to a conversation", async () => {
    const first = await openai.responses.create({ model: model("text:2"), input: "one" });
    const said = first.output[0];
    const second = await openai.responses.create({ model: model("text:2"), input: "two" });
    const saidNext = second.output[0];
    const conversation = await openai.conversations.create({ items: [reference(said?.id ?? "")] });
    const added = await openai.conversations.items.create(conversation.id, { items: [reference(saidNext?.id ?? "")] });
    expect(added.data).toEqual([expect.objectContaining({ id: saidNext?.id, type: "message", role: "assistant" })]);
    const listed = await openai.conversations.items.list(conversation.id, { order: "asc" });
    expect(listed.data.map((item) => [item.id, item.type])).toEqual([
      [said?.id, "message"],
      [saidNext?.id, "message"],
    ]);
    // Ids stay unique within a conversation (its list pages by them): the same item twice is refused.
    const twice = await openai.conversations.items
      .create(conversation.id, { items: [reference(said?.id ?? "")] })
      .catch((error: unknown) => error);
    expect(twice).toMatchObject({ status: 400, param: "items" });
    const refused = await openai.conversations.items
      .create(conversation.id, { items: [reference("msg_doesnotexist")] })
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 400, param: "items" });
  });

  it("resolves an item of one of the tenant's conversations: added to it, or a turn's input or output", async () => {
    const conversation = await openai.conversations.create({
      items: [{ type: "message", role: "user", content: "kept" }],
    });
    const added = await openai.conversations.items.create(conversation.id, {
      items: [{ type: "message", role: "assistant", content: "noted" }],
    });
    // A store:false turn: its items are in the conversation only, not in a stored response.
    const turn = await openai.responses.create({
      model: model("text:2"),
      conversation: conversation.id,
      input: [{ type: "message", role: "user", content: "asked" }],
      store: false,
    });
    const items = await openai.conversations.items.list(conversation.id, { order: "asc" });
    const [first, noted, asked, said] = items.data;
    expect(said?.id).toBe(turn.output[0]?.id);
    expect(noted?.id).toBe(added.data[0]?.id);
    const m = model("echo");
    await openai.responses.create({
      model: m,
      input: [first, noted, asked, said].map((item) => reference(item?.id ?? "")),
    });
    const [sent] = await upstream.requests(m);
    expect(sent?.body.input).toEqual([
      { type: "message", role: "user", content: "kept" },
      { type: "message", role: "assistant", content: "noted" },
      { type: "message", role: "user", content: "asked" },
      turn.output[0],
    ]);
    // Into another conversation too; a deleted item is no longer found.
    const other = await openai.conversations.create({ items: [reference(noted?.id ?? "")] });
    expect((await openai.conversations.items.list(other.id)).data).toEqual([
      expect.objectContaining({
        type: "message",
        role: "assistant",
        content: [expect.objectContaining({ text: "noted" })],
      }),
    ]);
    await openai.conversations.items.delete(asked?.id ?? "", { conversation_id: conversation.id });
    const gone = await openai.responses
      .create({ model: model("echo"), input: [reference(asked?.id ?? "")] })
      .catch((error: unknown) => error);
    expect(gone).toMatchObject({ status: 400, param: "input" });
    // Another tenant's conversation item is not found.
    const theirs = await client("sk-test-item-references-other").conversations.create({
      items: [{ type: "message", role: "user", content: "theirs" }],
    });
    const theirItem = (await client("sk-test-item-references-other").conversations.items.list(theirs.id)).data[0];
    const refused = await openai.responses
      .create({ model: model("echo"), input: [reference(theirItem?.id ?? "")] })
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 400, param: "input" });
    expect((refused as Error).message).toContain(`Item with id '${theirItem?.id}' not found.`);
  });

  it("keeps finding a conversation's items after a refused delete of an id that spans two of them", async () => {
    // Ids a client gave its items (the SDK's message type has none); `msg_p msg_q` is also the text of
    // the two neighbours in the row's list.
    const message = (content: string, id: string) => ({ type: "message" as const, role: "user" as const, content, id });
    const conversation = await openai.conversations.create({
      items: [message("first", "msg_p"), message("second", "msg_q")],
    });
    const refused = await openai.conversations.items
      .delete("msg_p msg_q", { conversation_id: conversation.id })
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 404 });
    const m = model("echo");
    await openai.responses.create({ model: m, input: [reference("msg_p"), reference("msg_q")] });
    const [sent] = await upstream.requests(m);
    expect(sent?.body.input).toEqual([
      { type: "message", role: "user", content: "first", id: "msg_p" },
      { type: "message", role: "user", content: "second", id: "msg_q" },
    ]);
    // A reference to that text is to no item: it is not looked up in the lists at all.
    const spanning = await openai.responses
      .create({ model: m, input: [reference("msg_p msg_q")] })
      .catch((error: unknown) => error);
    expect(spanning).toMatchObject({ status: 400, param: "input" });
  });

  it("reads each window once for any number of ids, and finds ids with quotes, backslashes and control characters", async () => {
    // Ids a client gave its items: each character a list's split (JSON in SQL) must keep.
    // An id holding NUL is not listed (SQLite cannot split it back out): not found, and no harm to the rest.
    const odd = ['msg_"quoted"', "msg_back\\slash", "msg_\\u0041", "msg_ctl\u0001", "msg_nul"];
    const nul = "msg_nul\u0000end";
    const conversation = await openai.conversations.create({
      items: [...odd, nul].map((id, i) => ({
        type: "message" as const,
        role: "user" as const,
        content: `odd ${i}`,
        id,
      })),
    });
    const said = (await openai.responses.create({ model: model("text:1"), input: "x" })).output[0]?.id ?? "";
    const tenantId = await tenantOf(KEY);
    const { db, prepared } = recordingDb(await tenantD1(tenantId));
    const missing = Array.from({ length: MAX_ITEM_REFERENCES - odd.length - 1 }, (_, i) => reference(`msg_absent${i}`));
    const input = [...odd.map(reference), reference(said), ...missing];
    // Every id but the absent ones is found: the lookups read each window once, not once per 90 ids.
    const found = await findOutputItems(db, tenantId, [said, ...missing.map((item) => item.id)]);
    expect([...found.keys()]).toEqual([said]);
    const items = await findConversationItems(db, tenantId, [...odd, nul, ...missing.map((item) => item.id)]);
    expect(odd.map((id) => (items.get(id) as { content?: unknown } | undefined)?.content)).toEqual(
      odd.map((_, i) => `odd ${i}`),
    );
    const windows = prepared.filter((statement) => /FROM (conversations|responses)\b[\s\S]*LIMIT/.test(statement.sql));
    expect(windows).toHaveLength(2);
    // The conversations' window sums only the lists' sizes: the select that holds the running total
    // carries no list (else every list of the window is read, up to 5 GB, to keep 20 MB of them).
    const summed = windows.find((statement) => statement.sql.includes(" OVER ("))?.sql ?? "";
    const level = summed.slice(0, summed.indexOf(" OVER ("));
    expect(level.slice(level.lastIndexOf("SELECT"))).toMatch(/^SELECT id, sum\(\w+\)$/);
    expect(items.has(nul)).toBe(false);
    await expect(resolveItemReferences(db, tenantId, input)).rejects.toMatchObject({ param: "input" });
    expect(conversation.id).toMatch(/^conv_/);
  });

  it("finds the items added after a conversation's list of item ids filled, which the list leaves out", async () => {
    const KEY3 = "sk-test-item-references-full";
    const full = client(KEY3);
    const conversation = await full.conversations.create({
      items: [{ type: "message", role: "user", content: "first" }],
    });
    const tenantId = await tenantOf(KEY3);
    const d1 = await tenantD1(tenantId);
    // The list as 9,000 items leave it, with room for one id the gateway mints but not two.
    const minted = (await full.conversations.items.list(conversation.id)).data[0]?.id?.length ?? 0;
    await d1
      .prepare("UPDATE conversations SET item_ids = ' ' || replace(hex(zeroblob(?1)), '00', 'x') || ' ' WHERE id = ?2")
      .bind(ITEM_IDS_MAX_CHARS - 2 - Math.floor((minted + 1) * 1.5), conversation.id)
      .run();
    const add = async (...texts: string[]) =>
      (
        await full.conversations.items.create(conversation.id, {
          items: texts.map((text) => ({ type: "message" as const, role: "user" as const, content: text })),
        })
      ).data.map((item) => item.id ?? "");
    // Two do not fit: the list is closed, so the one after them that would fit is not listed either.
    const added = [...(await add("second", "third")), ...(await add("fourth"))];
    const list = await d1
      .prepare("SELECT substr(item_ids, -3) AS tail FROM conversations WHERE id = ?1")
      .bind(conversation.id)
      .first<{ tail: string }>();
    expect(list?.tail).toBe("x  ");
    const m = model("echo");
    await full.responses.create({ model: m, input: added.map(reference) });
    const [sent] = await upstream.requests(m);
    expect(sent?.body.input).toEqual(
      ["second", "third", "fourth"].map((content) => ({ type: "message", role: "user", content })),
    );
  });

  it("names what bounded the lookup of an id it did not find", async () => {
    const KEY4 = "sk-test-item-references-bounds";
    const bounded = client(KEY4);
    const notFound = async () =>
      (
        (await bounded.responses
          .create({ model: model("echo"), input: [reference("msg_nowhere")] })
          .catch((error: unknown) => error)) as Error
      ).message;
    await bounded.conversations.create({ items: [{ type: "message", role: "user", content: "one" }] });
    expect(await notFound()).toContain(
      "(The gateway looked for it in the output of all your stored responses and the items of all your conversations.)",
    );
    // 12 closed lists (ending with two spaces): the rows of the 10 newest are read, the rest named.
    const tenantId = await tenantOf(KEY4);
    await Promise.all(
      Array.from({ length: 11 }, () =>
        bounded.conversations.create({ items: [{ type: "message", role: "user", content: "closed" }] }),
      ),
    );
    await (
      await tenantD1(tenantId)
    )
      .prepare("UPDATE conversations SET item_ids = item_ids || ' ' WHERE tenant_id = ?1")
      .bind(tenantId)
      .run();
    expect(await notFound()).toContain(
      `all your conversations; items added after a conversation's list of item ids filled (500,000 characters) are looked for in your ${CLOSED_LIST_CONVERSATIONS} most recent such conversations only, and 2 more were not read.)`,
    );
    // Lists of 21 MB: the oldest conversation's is past CONVERSATION_LOOKUP_BYTES, and it was not looked in.
    await Promise.all(
      Array.from({ length: 41 }, () =>
        bounded.conversations.create({ items: [{ type: "message", role: "user", content: "many" }] }),
      ),
    );
    await (
      await tenantD1(tenantId)
    )
      .prepare(
        "UPDATE conversations SET item_ids = ' ' || replace(hex(zeroblob(?1)), '00', 'x') || ' ' WHERE tenant_id = ?2",
      )
      .bind(ITEM_IDS_MAX_CHARS - 2, tenantId)
      .run();
    const message = await notFound();
    expect(message).toContain(
      `the items of all your conversations, newest first, as far as their lists of item ids total ${CONVERSATION_LOOKUP_BYTES / 1_000_000} MB (older ones were not looked in).`,
    );
  });

  it("reads the items of many conversations in one query, not one query a conversation", async () => {
    // A Worker invocation may make 1,000 D1 queries: 2,048 ids in as many conversations made 2,048.
    const KEY2 = "sk-test-item-references-many";
    const many = client(KEY2);
    const conversations = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        many.conversations.create({ items: [{ type: "message", role: "user", content: `many ${i}` }] }),
      ),
    );
    const ids = await Promise.all(
      conversations.map(
        async (conversation) => (await many.conversations.items.list(conversation.id)).data[0]?.id ?? "",
      ),
    );
    const tenantId = await tenantOf(KEY2);
    const { db, prepared } = recordingDb(await tenantD1(tenantId));
    const items = await findConversationItems(db, tenantId, ids);
    expect(ids.map((id) => (items.get(id) as { content?: unknown } | undefined)?.content)).toEqual(
      ids.map((_, i) => `many ${i}`),
    );
    expect(prepared.filter((statement) => /from "?conversation_items"?/i.test(statement.sql))).toHaveLength(1);
  });

  it("lets the Vercel AI SDK continue a chat (store defaults to true) over a Chat Completions upstream", async () => {
    const provider = createOpenAI({ baseURL: GATEWAY_URL, apiKey: KEY, fetch: gatewayFetch });
    const first = await generateText({ model: provider.responses(routed("text:3").model), prompt: "one" });
    expect(first.text).toBe(words(3));
    const m = routed("echo");
    const messages: ModelMessage[] = [
      { role: "user", content: "one" },
      ...first.response.messages,
      { role: "user", content: "two" },
    ];
    const second = await generateText({ model: provider.responses(m.model), messages });
    const [sent] = await received(m);
    expect(sent?.body.messages).toEqual([
      { role: "user", content: "one" },
      expect.objectContaining({ role: "assistant", content: words(3) }),
      { role: "user", content: "two" },
    ]);
    expect(second.text).toContain("two");
  });
});
