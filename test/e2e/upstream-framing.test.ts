// How the gateway reads an upstream's SSE framing at the end of a body: a last event that lacks its
// blank line (the body ends with one `\n`, or right after the data) still counts, as it does for
// the openai SDK reading the same server directly. A web page instead of a stream fails, saying so.

import { describe, expect, it } from "vitest";
import { client, model } from "../support/gateway";

const openai = client("sk-test-upstream-framing");

describe("an upstream stream whose last event lacks its blank line", () => {
  it.each([
    ["a single newline", "lf"],
    ["nothing", "none"],
  ])("ends completed when the body ends with %s after the last event", async (_name, ending) => {
    const m = model(`unterminated:${ending}`);
    const created = await openai.responses.create({ model: m, input: "x" });
    expect(created).toMatchObject({ status: "completed", output_text: "ab" });
    expect(await openai.responses.retrieve(created.id)).toMatchObject({ status: "completed", output_text: "ab" });

    const types: string[] = [];
    for await (const event of await openai.responses.create({ model: m, input: "x", stream: true }))
      types.push(event.type);
    expect(types.at(-1)).toBe("response.completed");

    const unstored = await openai.responses.create({ model: m, input: "x", store: false });
    expect(unstored).toMatchObject({ status: "completed", output_text: "ab" });
  });
});

describe("an upstream that answers 200 with a web page", () => {
  it("fails the response, naming the content type, stored or not", async () => {
    const m = model("html");
    const message = /answered with a web page \(text\/html\), not an event stream/;
    const created = await openai.responses.create({ model: m, input: "x" });
    expect(created).toMatchObject({ status: "failed", error: { code: "server_error" } });
    expect(created.error?.message).toMatch(message);
    const unstored = await openai.responses.create({ model: m, input: "x", store: false });
    expect(unstored.error?.message).toMatch(message);
  });
});
