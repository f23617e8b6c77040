// Item ids are unique within a context, as OpenAI requires (`400 Duplicate item found with id …`,
// param `input`): a request's items that repeat an id, among themselves or of the conversation or
// chain they join, are refused before any upstream call or write, whatever the upstream; so are
// conversation items that would repeat one. The item lists page by id: with a repeated id the SDK's
// auto-pagination looped forever, and a conversation's newest-first pages skipped items.

import { BadRequestError } from "openai";
import { describe, expect, it } from "vitest";
import { received, routed } from "../support/chat";
import { client, model, upstream } from "../support/gateway";
import { rowCounts } from "../support/tables";

const openai = client("sk-test-duplicate-items");

const message = (id: string, text: string) => ({
  type: "message" as const,
  role: "user" as const,
  id,
  content: [{ type: "input_text" as const, text }],
});

const duplicate = (id: string, param = "input") => ({
  message: `Duplicate item found with id ${id}. Remove duplicate items from your input and try again.`,
  type: "invalid_request_error",
  param,
  code: null,
});

async function refused(promise: Promise<unknown>): Promise<BadRequestError> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(BadRequestError);
  return error as BadRequestError;
}

describe("repeated item ids", () => {
  it("a create whose input repeats an id: 400 in OpenAI's words, no upstream call, nothing written", async () => {
    const m = routed("echo");
    const before = await rowCounts();
    const error = await refused(
      openai.responses.create({ model: m.model, input: [message("msg_dup", "a"), message("msg_dup", "b")] }),
    );
    expect(error.error).toEqual(duplicate("msg_dup"));
    expect(await received(m)).toEqual([]);
    expect(await rowCounts()).toEqual(before);
  });

  it("a turn that repeats an item of its conversation or its chain is refused", async () => {
    const conversation = await openai.conversations.create({ items: [message("msg_kept", "first")] });
    const m = model("echo");
    const error = await refused(
      openai.responses.create({ model: m, conversation: conversation.id, input: [message("msg_kept", "again")] }),
    );
    expect(error.error).toEqual(duplicate("msg_kept"));

    const first = await openai.responses.create({ model: m, input: [message("msg_chained", "one")] });
    const again = await refused(
      openai.responses.create({ model: m, previous_response_id: first.id, input: [message("msg_chained", "two")] }),
    );
    expect(again.error).toEqual(duplicate("msg_chained"));
    expect((await upstream.requests(m)).length).toBe(1);
  });

  it("conversation items that repeat an id are refused (param items); the list pages to its end", async () => {
    const error = await refused(
      openai.conversations.create({ items: [message("msg_twice", "a"), message("msg_twice", "b")] }),
    );
    expect(error.error).toEqual(duplicate("msg_twice", "items"));

    const conversation = await openai.conversations.create({ items: [message("msg_once", "a")] });
    const appended = await refused(
      openai.conversations.items.create(conversation.id, { items: [message("msg_once", "b")] }),
    );
    expect(appended.error).toEqual(duplicate("msg_once", "items"));
    await openai.conversations.items.create(conversation.id, {
      items: [message("msg_other", "c"), { role: "user", content: "d" }],
    });

    for (const order of ["asc", "desc"] as const) {
      const texts: string[] = [];
      for await (const item of openai.conversations.items.list(conversation.id, { limit: 1, order })) {
        texts.push(item.type === "message" && item.content[0]?.type === "input_text" ? item.content[0].text : "?");
        if (texts.length > 10) break;
      }
      expect(texts).toEqual(order === "asc" ? ["a", "c", "d"] : ["d", "c", "a"]);
    }
  });
});
