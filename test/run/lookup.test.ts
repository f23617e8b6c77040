// Finding a response by the id its stream showed first (its row is written with its end, or a second
// in, and a lookup in its isolate that comes before waits for it), and not creating storage for ids that
// name nothing: lookups of unknown ids touch no object.

import { describe, expect, it } from "vitest";
import { newResponseId } from "../../src/responses/ids";
import { client, heldBackground, model, upstream } from "../support/gateway";
import { tablesOf as tables } from "../support/run-object";
import { openStream, rest } from "../support/streams";

describe("looking up a response", () => {
  it("finds a streaming response by the id of its first event, on every route", async () => {
    const openai = client("sk-lookup");
    const m = model("gate:3:6");
    const stream = await openai.responses.create({ model: m, input: "x", stream: true });
    const { iterator, first, id } = await openStream(stream);
    expect(first.type).toBe("response.created");
    // At once, while the run is held mid-stream: a chain from it is told it is running, and every route knows the id.
    await expect(
      openai.responses.create({ model: model("echo#chain"), input: "y", previous_response_id: id }),
    ).rejects.toMatchObject({ status: 400, code: "previous_response_in_progress", param: "previous_response_id" });
    expect((await openai.responses.retrieve(id)).status).toBe("in_progress");
    expect((await openai.responses.inputItems.list(id)).data).toHaveLength(1);
    await upstream.release(m);
    await rest(iterator);
    expect((await openai.responses.retrieve(id)).status).toBe("completed");
  });

  it("tells a chain from a running background response that it is in progress (D1 may still say queued)", async () => {
    const openai = client("sk-lookup");
    const { model: m, id } = await heldBackground(openai);
    await expect(
      openai.responses.create({ model: model("echo#chain"), input: "y", previous_response_id: id }),
    ).rejects.toMatchObject({
      status: 400,
      code: "previous_response_in_progress",
      message: expect.stringContaining(`Previous response with id '${id}' is still in_progress.`) as unknown,
    });
    await upstream.release(m);
  });

  it("answers an unknown id without creating storage for it", async () => {
    const openai = client("sk-lookup");
    const id = newResponseId();
    await expect(openai.responses.retrieve(id)).rejects.toMatchObject({ status: 404 });
    await expect(openai.responses.cancel(id)).rejects.toMatchObject({ status: 404 });
    await expect(openai.responses.delete(id)).rejects.toMatchObject({ status: 404 });
    expect(await tables(id, "sk-lookup")).toEqual([]);
  });

  it("answers another tenant's running response like an unknown one", async () => {
    const m = model("gate:3:4");
    const stream = await client("sk-lookup-owner").responses.create({ model: m, input: "x", stream: true });
    const { iterator, id } = await openStream(stream);
    await expect(client("sk-lookup-other").responses.retrieve(id)).rejects.toMatchObject({ status: 404 });
    await upstream.release(m);
    await rest(iterator);
  });
});
