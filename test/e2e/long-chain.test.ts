// A long `previous_response_id` chain (issue 18 item 17): 300 turns, written straight to D1 as the
// runs would have, are read back by one recursive query (not one query per ancestor), in order, and
// a turn chained from the last sends all 600 items upstream.

import { describe, expect, it } from "vitest";
import { runBatch, type Statement } from "../../src/db/client";
import { encodeFinal, encodeRow, finalStatements, insertResponseStatements, readChain } from "../../src/db/responses";
import { validateCreateRequest } from "../../src/responses/create-request";
import { newId, newResponseId } from "../../src/responses/ids";
import { newResponseObject } from "../../src/responses/response-object";
import type { ResponseObject } from "../../src/responses/types";
import { client, model } from "../support/gateway";
import { recordingDb } from "../support/recording-db";
import { tenantOf } from "../support/run-object";

const KEY = "sk-test-long-chain";
const TURNS = 300;

/** Writes a chain of `TURNS` completed responses (turn i: input `in i`, output `out i`); answers their ids. */
async function writeChain(tenantId: string): Promise<string[]> {
  const { db } = recordingDb();
  const ids: string[] = [];
  let statements: Statement[] = [];
  const createdAt = Math.floor(Date.now() / 1000);
  for (let turn = 0; turn < TURNS; turn++) {
    const id = newResponseId();
    const previous = ids.at(-1) ?? null;
    const request = validateCreateRequest({ model: "chain", input: `in ${turn}`, previous_response_id: previous });
    const snapshot = newResponseObject(request, { id, createdAt }, "in_progress");
    const row = {
      id,
      tenantId,
      apiKeyId: null,
      status: "in_progress",
      model: "chain",
      background: false,
      store: true,
      createdAt,
      previousResponseId: previous,
      conversationId: null,
      metadata: {},
      snapshot,
      input: [{ id: newId("msg"), item: { role: "user" as const, content: `in ${turn}` } }],
    };
    const final: ResponseObject = {
      ...snapshot,
      status: "completed",
      output: [
        {
          id: newId("msg"),
          type: "message",
          role: "assistant",
          status: "completed",
          content: [{ type: "output_text", text: `out ${turn}`, annotations: [] }],
        },
      ],
    };
    statements.push(
      ...insertResponseStatements(db, encodeRow(row)),
      ...finalStatements(db, encodeFinal({ responseId: id, tenantId, snapshot: final, eventCount: 0, tail: [] })),
    );
    ids.push(id);
    if (statements.length >= 150) {
      await runBatch(db, statements);
      statements = [];
    }
  }
  await runBatch(db, statements);
  return ids;
}

describe("a 300-turn previous_response_id chain", () => {
  it("is read by one query, every link's items in order, and a turn chained from it sends them all", async () => {
    const tenantId = await tenantOf(KEY);
    const ids = await writeChain(tenantId);

    const { db, prepared } = recordingDb();
    const chain = await readChain(db, tenantId, ids.at(-1) ?? "");
    expect(prepared).toHaveLength(1);
    expect(prepared[0]?.sql).toMatch(/WITH RECURSIVE/);
    expect(chain.links.map((link) => link.id)).toEqual(ids);
    const texts = chain.items.map((item) => {
      const content = (item as { content: string | { text: string }[] }).content;
      return typeof content === "string" ? content : content[0]?.text;
    });
    expect(texts).toEqual(ids.flatMap((_, turn) => [`in ${turn}`, `out ${turn}`]));
    // Another tenant reaches none of it.
    expect((await readChain(db, await tenantOf("sk-test-long-chain-other"), ids.at(-1) ?? "")).links).toEqual([]);

    // Through the gateway: the mock's echo counts the items it was sent (600 of the chain, then this one).
    const next = await client(KEY).responses.create({
      model: model("echo"),
      input: "next",
      previous_response_id: ids.at(-1),
    });
    expect(next).toMatchObject({ status: "completed", output_text: `echo(${2 * TURNS + 1}): next` });
  });
});
