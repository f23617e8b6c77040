// The body callUpstream sends: JSON text made in pieces as it is sent (src/json-text.ts), never one
// string of the whole body, with its Content-Length, and sent whole again on a retry.

import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { protocolFor } from "../../src/upstream/registry";
import { callUpstream } from "../../src/upstream/client";
import { model, upstream } from "../support/gateway";

/** The longest text JSON.stringify makes while `run` runs. */
async function longestStringified(run: () => Promise<unknown>): Promise<number> {
  const stringify = JSON.stringify;
  let longest = 0;
  vi.spyOn(JSON, "stringify").mockImplementation((...args: Parameters<typeof JSON.stringify>) => {
    const text = stringify(...args);
    longest = Math.max(longest, text?.length ?? 0);
    return text;
  });
  await run();
  return longest;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("callUpstream's body", () => {
  it("is sent as the body's JSON with its length, never made as one string", async () => {
    const m = model("text:1");
    // Pairs across every slice boundary, escapes and text of one, two and three UTF-8 bytes.
    const text = 'a"\\\n é 中 😀 '.repeat(400_000);
    const body = { model: m, input: [{ role: "user", content: text }], store: false, stream: true };
    const longest = await longestStringified(async () => {
      const response = await callUpstream(
        { baseUrl: env.UPSTREAM_BASE_URL, protocol: protocolFor("responses"), apiKey: "sk-test" },
        body,
        { signal: new AbortController().signal, firstByteTimeoutMs: 10_000, retries: 0, requestId: "req_body" },
      );
      await response.body?.cancel();
    });
    // Past the length made whole by JSON.stringify (WHOLE_CHARS, 4 Mi characters).
    expect(text.length).toBeGreaterThan(4 * 1_048_576);
    expect(longest).toBeLessThan(200_000);
    const [sent] = await upstream.requests(m);
    expect(sent?.body).toEqual(body);
    expect(sent?.contentLength).toBe(String(new TextEncoder().encode(JSON.stringify(body)).byteLength));
  });

  it("is sent whole again on a retry", async () => {
    const m = model("flaky:1");
    const body = { model: m, input: "x".repeat(4_500_000), store: false, stream: true };
    const response = await callUpstream(
      { baseUrl: env.UPSTREAM_BASE_URL, protocol: protocolFor("responses"), apiKey: "sk-test" },
      body,
      { signal: new AbortController().signal, firstByteTimeoutMs: 10_000, retries: 1, requestId: "req_retry" },
    );
    await response.body?.cancel();
    const sent = await upstream.requests(m);
    expect(sent.map((request) => request.body)).toEqual([body, body]);
  });
});
