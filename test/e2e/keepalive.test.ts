// A stream the model leaves silent gets `: keepalive` SSE comments (STREAM_KEEPALIVE_SECONDS, 1 s
// here): the write is how a client that closed its connection meanwhile is noticed. Clients skip
// comments: the SDK's stream helper, which rejects anything out of place, reads the stream whole;
// and nothing of them is recorded.

import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { GATEWAY_URL, gatewayFetch, model, readEvents, upstream } from "../support/gateway";

const KEY = "sk-test-keepalive";
const COMMENT = ": keepalive\n\n";

/** The Worker with 1 s keepalives; `onComment` is told when the first comment reaches the client. */
function keepaliveClient(onComment: () => void): OpenAI {
  const fetchWithKeepalive = async (input: string | URL | Request, init?: RequestInit) => {
    const res = await worker.fetch(
      new Request(input, init),
      { ...env, STREAM_KEEPALIVE_SECONDS: "1" } as Env,
      createExecutionContext(),
    );
    if (res.body === null) return res;
    let seen = "";
    const watch = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += new TextDecoder().decode(chunk);
        if (seen.includes(COMMENT)) onComment();
        controller.enqueue(chunk);
      },
    });
    return new Response(res.body.pipeThrough(watch), res);
  };
  return new OpenAI({ apiKey: KEY, baseURL: GATEWAY_URL, fetch: fetchWithKeepalive, maxRetries: 0 });
}

describe("keepalive comments on a silent stream", () => {
  it.each([true, false])(
    "store: %s — sent while the model is silent, skipped by the SDK, never recorded",
    async (store) => {
      let commented!: () => void;
      const comment = new Promise<void>((resolve) => (commented = resolve));
      const openai = keepaliveClient(commented);
      // The model holds after its first two events; once the client got a comment, it goes on.
      const m = model("gate:2:5");
      const released = comment.then(() => upstream.release(m));
      const stream = openai.responses.stream({ model: m, input: "think first", store });
      const types: string[] = [];
      for await (const event of stream) types.push(event.type);
      await released;
      expect(types.slice(0, 2)).toEqual(["response.created", "response.in_progress"]);
      const final = await stream.finalResponse();
      expect(final).toMatchObject({ status: "completed", output_text: "w0 w1 w2 w3 w4 " });
      if (!store) return;
      const replay = await gatewayFetch(`${GATEWAY_URL}/responses/${final.id}?stream=true`, {
        headers: { authorization: `Bearer ${KEY}` },
      });
      const text = await replay.text();
      expect(text).not.toContain("keepalive");
      expect((await readEvents(new Response(text).body)).at(-1)).toMatchObject({ type: "response.completed" });
    },
  );
});

describe("keepalive comments on a silent background stream", () => {
  it("sent on the create's stream, whose events come from the run's object", async () => {
    let commented!: () => void;
    const comment = new Promise<void>((resolve) => (commented = resolve));
    const openai = keepaliveClient(commented);
    const m = model("gate:2:5");
    const released = comment.then(() => upstream.release(m));
    const stream = openai.responses.stream({ model: m, input: "think first", background: true });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    await released;
    expect(types.slice(0, 2)).toEqual(["response.created", "response.queued"]);
    expect(await stream.finalResponse()).toMatchObject({ status: "completed", output_text: "w0 w1 w2 w3 w4 " });
  });

  it("sent to a reader following the run (GET ?stream=true), between whole frames", async () => {
    let commented!: () => void;
    const comment = new Promise<void>((resolve) => (commented = resolve));
    const openai = keepaliveClient(commented);
    const m = model("gate:2:5");
    const created = await openai.responses.create({ model: m, input: "think first", background: true });
    const released = comment.then(() => upstream.release(m));
    const events = [];
    for await (const event of await openai.responses.retrieve(created.id, { stream: true })) events.push(event);
    await released;
    expect(events.at(-1)).toMatchObject({ type: "response.completed", response: { status: "completed" } });
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
  });
});
