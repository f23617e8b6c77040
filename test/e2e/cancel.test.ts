import { env } from "cloudflare:workers";
import { BadRequestError, NotFoundError } from "openai";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { describe, expect, it } from "vitest";
import { isKnownEventType } from "../../src/responses/event-types";
import { client, gatewayFetch, GATEWAY_URL, model, upstream } from "../support/gateway";
import { until } from "../support/hooks";

/** The SDK adds `output_text` to what `retrieve` returns, not to what `cancel` returns. */
const asCancelReturns = <T extends object>(response: T): T => {
  const copy = { ...response } as T & { output_text?: string };
  delete copy.output_text;
  return copy;
};

async function collect(stream: AsyncIterable<ResponseStreamEvent>): Promise<ResponseStreamEvent[]> {
  const events: ResponseStreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

describe("POST /v1/responses/{id}/cancel", () => {
  it("cancels a running background response: the upstream connection closes, partial output is kept, cancelled is final", async () => {
    const openai = client();
    const m = model("gate:6:10");
    const created = await openai.responses.create({ model: m, input: "x", background: true });
    await until(
      () => openai.responses.retrieve(created.id),
      (response) => response.output_text === "w0 w1 ",
      "partial output",
    );
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
    const row = await env.DB.prepare("SELECT status, completed_at FROM responses WHERE id = ?")
      .bind(created.id)
      .first();
    expect(row).toEqual({ status: "cancelled", completed_at: null });
    expect((await upstream.requests(m)).length).toBe(1);
  });

  it("ends the streams of attached readers without inventing an event, before or after the cancel", async () => {
    const openai = client();
    const m = model("gate:6:10");
    const stream = await openai.responses.create({ model: m, input: "x", background: true, stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    const first = (await iterator.next()).value as ResponseStreamEvent & { response: { id: string } };
    const id = first.response.id;
    const follower = collect(await openai.responses.retrieve(id, { stream: true, starting_after: 0 }));
    await until(
      () => openai.responses.retrieve(id),
      (response) => response.output_text === "w0 w1 ",
      "partial output",
    );
    await openai.responses.cancel(id);
    const rest: ResponseStreamEvent[] = [];
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) rest.push(next.value);
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
    const iterator = running[Symbol.asyncIterator]();
    const runningId = ((await iterator.next()).value as { response: { id: string } }).response.id;
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
    for (let next = await iterator.next(); !next.done; next = await iterator.next());
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
