// Checks the harness itself (no gateway needed): the SSE splitter under any chunking, the mock's knobs, the
// mock's streams as the load client and the official `openai` SDK read them, and (bench/meter-check.ts) the
// cost meter and its prices. Run with `node bench/self-check.ts` (node:test; named so that vitest does not
// collect it).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { FrameSplitter, runLoad, type WireMode } from "#bench/load-client";
import { parseKnobs, startMockUpstream, type MockUpstream } from "#bench/mock-upstream";
import "#bench/meter-check";

void test("the frame splitter yields the same frames however the bytes are chunked", () => {
  const frames = ['event: a\ndata: {"x":1}', 'data: {"y":"two\\n"}', ": comment\ndata: [DONE]"];
  const text = frames.map((frame) => `${frame}\n\n`).join("");
  const bytes = new TextEncoder().encode(text.replaceAll("\n", "\r\n"));
  for (let size = 1; size <= bytes.length; size++) {
    const splitter = new FrameSplitter();
    const seen: string[] = [];
    for (let at = 0; at < bytes.length; at += size) splitter.feed(bytes.subarray(at, at + size), (f) => seen.push(f));
    assert.deepEqual(seen, frames, `chunks of ${size} bytes`);
    assert.equal(splitter.rest(), "");
  }
});

void test("knobs come from the model string, headers override, bad values fall back", () => {
  assert.deepEqual(parseKnobs("bench:events=3,pace=20,ttft=300,size=5"), {
    events: 3,
    pace: 20,
    ttft: 300,
    size: 5,
    chunk: 4096,
  });
  assert.equal(parseKnobs("gpt-4o").events, 100);
  assert.equal(parseKnobs("bench:events=-1").events, 100);
  assert.equal(parseKnobs("bench:events=3", { "x-bench-events": "7" }).events, 7);
});

let mock: MockUpstream;
let baseUrl: string;
before(async () => {
  mock = await startMockUpstream();
  baseUrl = `http://127.0.0.1:${mock.port}/v1`;
});
after(() => mock.close());

for (const [path, mode, stream, frames] of [
  ["/responses", "responses-sse", true, 18],
  ["/responses", "responses-json", false, undefined],
  ["/chat/completions", "chat-sse", true, 13],
  ["/chat/completions", "chat-json", false, undefined],
] as const) {
  void test(`the load client accepts the mock's ${mode} replies, paced and not`, async () => {
    for (const pace of [0, 2]) {
      const model = `bench:events=10,size=3,pace=${pace}`;
      const body =
        path === "/responses"
          ? { model, input: "hi", stream }
          : { model, messages: [{ role: "user", content: "hi" }], stream };
      const load = await runLoad({
        baseUrl,
        path,
        headers: {},
        body: JSON.stringify(body),
        mode: mode satisfies WireMode,
        expect: { deltas: 10, size: 3, ...(frames === undefined ? {} : { frames }) },
        concurrency: 3,
        requests: 6,
        minSeconds: 0,
        maxSeconds: 10,
        rampMs: 0,
        timeoutMs: 10_000,
      });
      assert.deepEqual(
        load.results.filter((r) => !r.ok).map((r) => r.error),
        [],
      );
      assert.equal(load.results.length, 6);
    }
  });
}

void test("the load client rejects a stream that breaks the grammar", async () => {
  const load = await runLoad({
    baseUrl,
    path: "/responses",
    headers: {},
    body: JSON.stringify({ model: "bench:events=10", input: "hi", stream: true }),
    mode: "responses-sse",
    expect: { deltas: 11, size: 8 },
    concurrency: 1,
    requests: 1,
    minSeconds: 0,
    maxSeconds: 10,
    rampMs: 0,
    timeoutMs: 10_000,
  });
  assert.equal(load.results[0]?.ok, false);
  assert.match(load.results[0]?.error ?? "", /10 text deltas \(expected 11\)/);
});

void test("the official SDK's responses.stream() accepts the mock's stream", async () => {
  const client = new OpenAI({ baseURL: baseUrl, apiKey: "bench-key", maxRetries: 0 });
  const final = await client.responses.stream({ model: "bench:events=25,size=4", input: "hi" }).finalResponse();
  assert.equal(final.status, "completed");
  assert.equal(final.output_text.length, 100);
});
