// The Open Responses compliance suite (test/outside/openresponses/, vendored unmodified; its README says
// from where) run against the real Worker on loopback, as its CLI runs against any server: HTTP, SSE and
// WebSocket turns, continuation and cache eviction, tool calls, images and compaction. Once over a
// `responses` upstream (the default) and once over a `chat_completions` one (a route), both the test
// suite's mock model server. Every test must pass; a failure prints the suite's own reasons.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestHarness } from "wrangler";
import { join } from "node:path";
import { startMockUpstream } from "../node/mock-upstream.ts";
import { runAllTests, testTemplates, type TestResult } from "./openresponses/src/lib/compliance-tests.ts";

type Harness = ReturnType<typeof createTestHarness>;

let harness: Harness;
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let baseUrl: string;

beforeAll(async () => {
  mock = await startMockUpstream();
  const upstream = `http://127.0.0.1:${mock.port}/v1`;
  harness = createTestHarness({
    workers: [
      {
        configPath: join(import.meta.dirname, "..", "..", "wrangler.toml"),
        vars: {
          UPSTREAM_BASE_URL: upstream,
          // `chat/<model>` reaches the same mock as a Chat Completions server, translated by the gateway.
          UPSTREAM_ROUTES: JSON.stringify([
            { model: "chat/*", base_url: upstream, protocol: "chat_completions", strip_prefix: "chat/" },
          ]),
        },
        // Compaction over a chat upstream is the gateway's own, sealed with this secret.
        secrets: { COMPACTION_SECRET: "outside-suite-compaction-secret-0123456789" },
      },
    ],
  });
  const { url } = await harness.listen();
  await harness.getWorker().applyD1Migrations("DB");
  baseUrl = `${url.origin}/v1`;
});

afterAll(async () => {
  await harness?.close();
  mock?.server.closeAllConnections();
  await new Promise<void>((resolve) => mock?.server.close(() => resolve()) ?? resolve());
});

/** Runs the suite's tests (those `ids`, or all) with one model name and gives each one's result. */
async function suite(model: string, ids?: string[]): Promise<TestResult[]> {
  const templates = ids === undefined ? testTemplates : testTemplates.filter((t) => ids.includes(t.id));
  const config = { baseUrl, apiKey: "sk-outside-suite", authHeaderName: "Authorization", useBearerPrefix: true, model };
  return runAllTests(config, () => undefined, templates);
}

/** Each test's id and status, with the suite's reasons for any that did not pass. */
const outcomes = (results: TestResult[]) =>
  results.map((r) =>
    r.status === "passed" ? `${r.id}: passed` : `${r.id}: ${r.status}: ${(r.errors ?? []).join("; ")}`,
  );

const passedAll = (results: TestResult[]) => results.map((r) => `${r.id}: passed`);

describe("the Open Responses compliance suite", () => {
  it("passes every test over a responses upstream", async () => {
    // The mock's `function:get_weather` answers every turn with a get_weather call: the suite checks the wire
    // format and the turns' order (which that answer passes), and its tool test needs the call.
    const results = await suite("function:get_weather");
    expect(outcomes(results)).toEqual(passedAll(results));
    expect(results).toHaveLength(testTemplates.length);
  });

  it("passes every test over a chat_completions upstream", async () => {
    // The mock's chat models each play one part: `tools` calls the tools it is offered, `summarize` answers
    // text (and a compaction's summary).
    const toolTests = ["tool-calling"];
    // A renamed tool test would otherwise run with `summarize` and fail for a reason that is not the gateway's.
    expect(testTemplates.map((t) => t.id)).toEqual(expect.arrayContaining(toolTests));
    const results = [
      ...(await suite("chat/tools", toolTests)),
      ...(await suite(
        "chat/summarize",
        testTemplates.map((t) => t.id).filter((id) => !toolTests.includes(id)),
      )),
    ];
    expect(outcomes(results)).toEqual(passedAll(results));
    expect(results).toHaveLength(testTemplates.length);
  });
});
