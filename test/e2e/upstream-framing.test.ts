// How the gateway reads an upstream's SSE framing at the end of a body: a last event that lacks its
// blank line (the body ends with one `\n`, or right after the data) still counts, as it does for
// the openai SDK reading the same server directly. A web page instead of a stream fails, saying so.

import { describe, expect, it } from "vitest";
import { client, model } from "../support/gateway";
import { withoutSdkFields } from "../upstream/chat-completions/harness";

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

describe("an upstream that answers a stream with a JSON error body", () => {
  it.each([
    ["an error object", "json-error"],
    ["Ollama's error string", "json-error:string"],
  ])("fails the response with the server's words (%s), stored or not", async (_name, scenario) => {
    const m = model(scenario);
    const message = "model 'missing' not found, try pulling it first";
    const created = await openai.responses.create({ model: m, input: "x" });
    expect(created).toMatchObject({ status: "failed", error: { message } });
    expect(await openai.responses.retrieve(created.id)).toMatchObject({ status: "failed", error: { message } });
    const stream = openai.responses.stream({ model: m, input: "x" });
    await expect(stream.finalResponse()).rejects.toThrow(message);
    const unstored = await openai.responses.create({ model: m, input: "x", store: false });
    expect(unstored.error?.message).toBe(message);
  });
});

describe("an upstream whose terminal event's output holds something that is not an item", () => {
  it("keeps the streamed output, stored as the client saw it", async () => {
    // Synthetic (test/fixtures/responses/PROVENANCE.md): `response.completed` with `output: [null]`.
    const m = model("fixture:synthetic__null-output-item.chunks.txt:0");
    const stream = openai.responses.stream({ model: m, input: "x" });
    const final = await stream.finalResponse();
    expect(final).toMatchObject({ status: "completed", output_text: "Héllo 😀 wörld" });
    expect(withoutSdkFields(await openai.responses.retrieve(final.id))).toEqual(withoutSdkFields(final));
  });
});
