// Whether the gateway compacts a create for a Responses server is decided once (compactForUpstream)
// and carried on the target the call is made with: the call does not ask the isolate's memory again,
// which may have changed meanwhile (learnt from another request, or forgotten after its hour).

import { afterEach, describe, expect, it, vi } from "vitest";
import { compactForUpstream, type CompactionDeps } from "../../src/compaction/compact";
import { validateCreateRequest } from "../../src/responses/create-request";
import { callUpstream, type UpstreamTarget } from "../../src/upstream/client";
import { rememberNoCompactEndpoint } from "../../src/upstream/compact-support";
import { responsesProtocol } from "../../src/upstream/responses-protocol";

const options = { signal: new AbortController().signal, firstByteTimeoutMs: 1000, retries: 0, requestId: "req_1" };
const contextManagement = [{ type: "compaction", compact_threshold: 1_000_000 }];

/** The bodies `callUpstream` sent, with fetch answering each at once. */
function sentBodies(): Record<string, unknown>[] {
  const bodies: Record<string, unknown>[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation((_url, init) => {
    bodies.push(JSON.parse(init?.body as string) as Record<string, unknown>);
    return Promise.resolve(new Response("{}", { headers: { "content-type": "application/json" } }));
  });
  return bodies;
}

const targetOf = (baseUrl: string): UpstreamTarget => ({ baseUrl, protocol: responsesProtocol, apiKey: null });
const deps = (target: UpstreamTarget): CompactionDeps => ({
  tenantId: "t",
  secret: null,
  target,
  options,
  idleTimeoutMs: 1000,
});

afterEach(() => vi.restoreAllMocks());

describe("the compaction decision of a create", () => {
  it("is carried on the target it returns, and the call keeps or drops context_management by it alone", async () => {
    const request = validateCreateRequest({ model: "m", input: "hi", context_management: contextManagement });
    const lacking = targetOf("http://lacking.test/v1");
    rememberNoCompactEndpoint(lacking, "m");
    const decided = await compactForUpstream(request, request.input, deps(lacking));
    expect(decided.target.gatewayCompaction).toBe(true);

    const bodies = sentBodies();
    await callUpstream(decided.target, { model: "m", input: [], context_management: contextManagement }, options);
    // Decided before the isolate learnt the server lacks compaction: forwarded, as decided.
    await callUpstream(lacking, { model: "m", input: [], context_management: contextManagement }, options);
    expect(bodies.map((body) => body.context_management)).toEqual([undefined, contextManagement]);
  });

  it("never asks OpenAI's own API whether it has /responses/compact: context_management goes with the create", async () => {
    const request = validateCreateRequest({ model: "m", input: "hi", context_management: contextManagement });
    const openai = targetOf("https://api.openai.com/v1");
    const bodies = sentBodies();
    const decided = await compactForUpstream(request, request.input, deps(openai));
    expect(decided.target.gatewayCompaction).not.toBe(true);
    expect(bodies).toEqual([]);
    // An unknown server is asked first, once.
    const unknown = targetOf("http://unknown-server.test/v1");
    await compactForUpstream(request, request.input, deps(unknown));
    await compactForUpstream(request, request.input, deps(unknown));
    expect(bodies).toEqual([{ model: "m", input: [] }]);
  });

  it("asks an unknown server once for concurrent creates, and an inconclusive answer only again after a minute", async () => {
    const request = validateCreateRequest({ model: "m", input: "hi", context_management: contextManagement });
    const asked: string[] = [];
    let answer = (): Response => new Response("404 page not found", { status: 404 });
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    vi.spyOn(globalThis, "fetch").mockImplementation(async (url) => {
      asked.push(url instanceof Request ? url.url : url.toString());
      await held;
      return answer();
    });
    // Three creates at once, before the isolate knows: one question, the answer for all three.
    const lacking = targetOf("http://concurrent-lacking.test/v1");
    const decisions = Promise.all([1, 2, 3].map(() => compactForUpstream(request, request.input, deps(lacking))));
    release();
    expect((await decisions).map((decided) => decided.target.gatewayCompaction)).toEqual([true, true, true]);
    expect(asked).toEqual(["http://concurrent-lacking.test/v1/responses/compact"]);

    // A server that is down (503) or rate limited (429) tells nothing: the create goes as it came,
    // and the next ones within a minute do not ask again.
    for (const status of [503, 429]) {
      asked.length = 0;
      answer = () => new Response(JSON.stringify({ error: { message: "no" } }), { status });
      const unsure = targetOf(`http://inconclusive-${status}.test/v1`);
      const first = await Promise.all([1, 2].map(() => compactForUpstream(request, request.input, deps(unsure))));
      const again = await compactForUpstream(request, request.input, deps(unsure));
      expect([...first, again].map((decided) => decided.target.gatewayCompaction)).toEqual([
        undefined,
        undefined,
        undefined,
      ]);
      expect(asked).toHaveLength(1);
      const now = Date.now();
      vi.spyOn(Date, "now").mockReturnValue(now + 61_000);
      await compactForUpstream(request, request.input, deps(unsure));
      expect(asked).toHaveLength(2);
      vi.mocked(Date.now).mockRestore();
    }
  });

  it("asks again at the next create after a refusal of the caller's key: another tenant's key may be taken", async () => {
    const request = validateCreateRequest({ model: "m", input: "hi", context_management: contextManagement });
    const asked: string[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation((url) => {
      asked.push(url instanceof Request ? url.url : url.toString());
      return Promise.resolve(new Response(JSON.stringify({ error: { message: "bad key" } }), { status: 401 }));
    });
    // Pass-through: the key is the caller's (a refusal of the operator's key is a 502, the same for all).
    const target = { ...targetOf("http://refused-key.test/v1"), apiKey: "sk-caller", callersKey: true };
    for (const _ of [1, 2]) {
      const decided = await compactForUpstream(request, request.input, deps(target));
      expect(decided.target.gatewayCompaction).toBeUndefined();
    }
    expect(asked).toHaveLength(2);
  });
});
