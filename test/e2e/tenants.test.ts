import { describe, expect, it } from "vitest";
import { client, gatewayFetch, GATEWAY_URL, model } from "../support/gateway";

describe("tenant isolation (pass-through keys)", () => {
  it("answers another key's response ids exactly like unknown ids, on every route", async () => {
    const alice = client("sk-alice");
    const bob = client("sk-bob");
    const own = await alice.responses.create({ model: model("text:1"), input: "secret" });
    const unknown = "resp_" + "0".repeat(48);
    for (const id of [own.id, unknown]) {
      const retrieve = await bob.responses.retrieve(id).catch((error: unknown) => error);
      expect(retrieve).toMatchObject({
        status: 404,
        error: { message: `Response with id '${id}' not found.`, param: null, code: null },
      });
      await expect(bob.responses.retrieve(id, { stream: true })).rejects.toMatchObject({ status: 404 });
      await expect(bob.responses.inputItems.list(id)).rejects.toMatchObject({ status: 404 });
      await expect(bob.responses.delete(id)).rejects.toMatchObject({ status: 404 });
      await expect(bob.responses.cancel(id)).rejects.toMatchObject({ status: 404 });
      await expect(
        bob.responses.create({ model: model("echo"), input: "x", previous_response_id: id }),
      ).rejects.toMatchObject({
        status: 400,
        code: "previous_response_not_found",
      });
    }
    expect((await alice.responses.retrieve(own.id)).id).toBe(own.id);
  });

  it("refuses a request without a bearer key with OpenAI's 401, saying what a key is here", async () => {
    const res = await gatewayFetch(`${GATEWAY_URL}/responses`, { method: "POST", body: "{}" });
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = await res.json<{ error: Record<string, unknown> }>();
    expect(body.error).toEqual({
      message:
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). This gateway forwards your key to its model server and keeps your history under it; any key will do if that server needs none.",
      type: "invalid_request_error",
      param: null,
      code: null,
    });
  });
});
