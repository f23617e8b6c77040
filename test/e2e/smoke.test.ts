import { describe, expect, it } from "vitest";
import { client, model, upstream } from "../support/gateway";

describe("smoke", () => {
  it("creates a stored response and retrieves it", async () => {
    const openai = client();
    const m = model("text:3");
    const response = await openai.responses.create({ model: m, input: "hello" });
    expect(response.status).toBe("completed");
    expect(response.output_text).toBe("w0 w1 w2 ");
    const again = await openai.responses.retrieve(response.id);
    expect(again).toEqual(response);
    const sent = await upstream.requests(m);
    expect(sent[0]?.body.store).toBe(false);
  });

  it("streams a stored response", async () => {
    const openai = client();
    const stream = openai.responses.stream({ model: model("text:5"), input: "hello" });
    const final = await stream.finalResponse();
    expect(final.output_text).toBe("w0 w1 w2 w3 w4 ");
    const stored = await openai.responses.retrieve(final.id);
    expect(stored.status).toBe("completed");
  });
});
