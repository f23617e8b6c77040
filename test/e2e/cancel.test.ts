import { BadRequestError, NotFoundError } from "openai";
import { describe, expect, it } from "vitest";
import { isKnownEventType } from "../../src/responses/event-types";
import { client, gatewayFetch, GATEWAY_URL, model, untilOutput, upstream } from "../support/gateway";
import { until } from "../support/hooks";
import { collect, openStream, rest as restOf } from "../support/streams";
import { firstRow } from "../support/shards";

/** The SDK adds `output_text` to what `retrieve` returns, not to what `cancel` returns. */
const asCancelReturns = <T extends object>(response: T): T => {
  const copy = { ...response } as T & { output_text?: string };
  delete copy.output_text;
  return copy;
};

describe("POST /v1/responses/{id}/cancel", () => {
  it("cancels a running background response: the upstream connection closes, partial output is kept, cancelled is final", async () => {
    const openai = client();
    const m = model("gate:6:10");
    const created = await openai.responses.create({ model: m, input: "x", background: true });
    await untilOutput(openai, created.id, "w0 w1 ");
    const cancelled = await openai.responses.cancel(created.id);
    expect(cancelled).toMatchObject({ id: created.id, status: "cancelled", background: true, completed_at: null });
    expect(cancelled.output).toEqual([
      expect.objectContaining({
        type: "message",
        status: "incomplete",
        content: [expect.objectContaining({ type: "output_text", text: "w0 w1 " })],
      }),
    ]);
    // The gateway closed its upstream connection: the model server saw the client go away.
    await until(
      () => upstream.closedEarly(m),
      (closed) => closed === 1,
      "the upstream connection to close",
    );
    // Idempotent: the same final object, 200, every time; GET agrees; D1 has it.
    expect(await openai.responses.cancel(created.id)).toEqual(cancelled);
    expect(asCancelReturns(await openai.responses.retrieve(created.id))).toEqual(cancelled);
    // A late upstream (released after the cancel) changes nothing.
    await upstream.release(m);
    expect(await openai.responses.cancel(created.id)).toEqual(cancelled);
    expect(asCancelReturns(await openai.responses.retrieve(created.id))).toEqual(cancelled);
    const row = await firstRow("SELECT status, completed_at FROM responses WHERE id = ?", created.id);
    expect(row).toEqual({ status: "cancelled", completed_at: null });
    expect((await upstream.requests(m)).length).toBe(1);
  });

  it("ends the streams of attached readers without inventing an event, before or after the cancel", async () => {
    const openai = client();
    const m = model("gate:6:10");
    const stream = await openai.responses.create({ model: m, input: "x", background: true, stream: true });
    const { iterator, first, id } = await openStream(stream);
    const follower = collect(await openai.responses.retrieve(id, { stream: true, starting_after: 0 }));
    await untilOutput(openai, id, "w0 w1 ");
    await openai.responses.cancel(id);
    const rest = await restOf(iterator);
    const all = [first, ...rest];
    const followed = await follower;
    expect(followed).toEqual(rest);
    expect(all.map((event) => event.sequence_number)).toEqual(all.map((_, index) => index));
    for (const event of all) expect(isKnownEventType(event.type), event.type).toBe(true);
    expect(all.map((event) => event.type)).not.toContain("response.completed");
    expect(all.at(-1)?.type).toBe("response.output_text.delta");
    // A reader arriving after the cancel replays the same events and ends the same way.
    expect(await collect(await openai.responses.retrieve(id, { stream: true }))).toEqual(all);
  });

  it("a reader resuming at or past a cancelled response's last event gets nothing: no event is sent again", async () => {
    const openai = client();
    const m = model("gate:6:10");
    const created = await openai.responses.create({ model: m, input: "x", background: true });
    await untilOutput(openai, created.id, "w0 w1 ");
    await openai.responses.cancel(created.id);
    const all = await collect(await openai.responses.retrieve(created.id, { stream: true }));
    expect(all.at(-1)?.type).toBe("response.output_text.delta");
    const last = all.at(-1)?.sequence_number as number;
    // Before the last event: the rest as recorded.
    expect(
      await collect(await openai.responses.retrieve(created.id, { stream: true, starting_after: last - 1 })),
    ).toEqual([all.at(-1)]);
    // At it, or past it (a client that saw events after the last recorded one): nothing, not the last delta again.
    for (const after of [last, last + 1, last + 5])
      expect(
        await collect(await openai.responses.retrieve(created.id, { stream: true, starting_after: after })),
      ).toEqual([]);
  });

  it("cancels a background response still waiting for the upstream's first byte", async () => {
    const openai = client();
    const m = model("hang-headers");
    const created = await openai.responses.create({ model: m, input: "x", background: true });
    await until(
      () => upstream.requests(m),
      (requests) => requests.length === 1,
      "the upstream call",
    );
    const cancelled = await openai.responses.cancel(created.id);
    expect(cancelled).toMatchObject({ status: "cancelled", output: [] });
    await until(
      () => upstream.closedEarly(m),
      (closed) => closed === 1,
      "the upstream connection to close",
    );
    expect(asCancelReturns(await openai.responses.retrieve(created.id))).toEqual(cancelled);
  });

  it("returns a finished background response unchanged", async () => {
    const openai = client();
    const created = await openai.responses.create({ model: model("text:2"), input: "x", background: true });
    const done = await until(
      () => openai.responses.retrieve(created.id),
      (response) => response.status === "completed",
      "completion",
    );
    expect(await openai.responses.cancel(created.id)).toEqual(asCancelReturns(done));
    expect(await openai.responses.retrieve(created.id)).toEqual(done);
  });

  it("refuses a synchronous response with a 400 in OpenAI's shape (not a 409 the SDK would retry)", async () => {
    const openai = client();
    const m = model("gate:6:8");
    const finished = await openai.responses.create({ model: model("text:1"), input: "x" });
    const running = await openai.responses.create({ model: m, input: "x", stream: true });
    const { iterator, id: runningId } = await openStream(running);
    for (const id of [finished.id, runningId]) {
      const error = (await openai.responses.cancel(id).catch((e: unknown) => e)) as BadRequestError;
      expect(error).toBeInstanceOf(BadRequestError);
      expect(error.status).toBe(400);
      expect(error.error).toEqual({
        message: "Cannot cancel a synchronous response.",
        type: "invalid_request_error",
        param: null,
        code: null,
      });
    }
    await upstream.release(m);
    await restOf(iterator);
    expect((await openai.responses.retrieve(runningId)).status).toBe("completed");
  });

  it("answers an unknown id, or another key's, with a 404", async () => {
    const mine = await client().responses.create({ model: model("text:1"), input: "x", background: true });
    for (const [key, id] of [
      ["sk-test-tenant-a", "resp_0000000000000000000000000000000000000000000000ff"],
      ["sk-test-tenant-b", mine.id],
    ] as const) {
      const error = (await client(key)
        .responses.cancel(id)
        .catch((e: unknown) => e)) as NotFoundError;
      expect(error).toBeInstanceOf(NotFoundError);
      expect(error.error).toMatchObject({
        message: `Response with id '${id}' not found.`,
        type: "invalid_request_error",
      });
    }
    const raw = await gatewayFetch(`${GATEWAY_URL}/responses/${mine.id}/cancel`, { method: "POST" });
    expect(raw.status).toBe(401);
  });
});
