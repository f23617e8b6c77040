// The bounded load test of the reliability promises (`npm run test:load`, also run by CI): the real
// Worker under Miniflare on loopback, at least 200 concurrent stored streams and 1,000 responses, then
// a check of every one with the `openai` SDK: terminal, its recorded log gap-free from 0 and equal to
// what its client received, its snapshot equal to the fold of its log, nothing duplicated.
//   node bench/load-check.ts [--responses=1000] [--concurrency=200] [--events=40] [--pace=10]

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { startGatewayOnMock } from "#bench/gateway";

const arg = (name: string, fallback: number): number =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);

const RESPONSES = arg("responses", 1000);
const CONCURRENCY = arg("concurrency", 200);
const EVENTS = arg("events", 40);
const PACE_MS = arg("pace", 10);
/** The whole check must end well inside CI's budget. */
const LIMIT_MS = arg("limit-seconds", 300) * 1000;

const work = mkdtempSync(join(process.env.LOAD_TMPDIR ?? tmpdir(), "gw-load-"));
const deadline = setTimeout(() => {
  console.error(`load check: over ${LIMIT_MS / 1000} s, giving up`);
  process.exit(2);
}, LIMIT_MS);

const { mock, gateway } = await startGatewayOnMock(work, {
  logFile: process.env.LOAD_LOG ?? join(work, "gateway.log"),
});

const failures: string[] = [];
const fail = (message: string) => {
  if (failures.length < 20) console.error(`FAIL ${message}`);
  failures.push(message);
};

try {
  const client = new OpenAI({
    apiKey: "load-key",
    baseURL: gateway.baseUrl.replace(/\/$/, ""),
    maxRetries: 0,
    timeout: 120_000,
  });
  const model = `bench:events=${EVENTS},pace=${PACE_MS}`;
  const received = new Map<string, ResponseStreamEvent[]>();
  let next = 0;
  let peak = 0;
  let live = 0;
  const started = performance.now();

  // Each worker keeps one stream open at a time: CONCURRENCY stored streams run at once.
  const worker = async () => {
    while (next < RESPONSES) {
      next++;
      live++;
      peak = Math.max(peak, live);
      try {
        const events: ResponseStreamEvent[] = [];
        const stream = await client.responses.create({ model, input: "load", stream: true });
        for await (const event of stream) events.push(event);
        const first = events[0];
        if (first?.type !== "response.created") fail(`a stream did not start with response.created`);
        else received.set(first.response.id, events);
      } catch (error) {
        fail(`request failed: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        live--;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const streamSeconds = (performance.now() - started) / 1000;

  // Check every response as a client would see it afterwards.
  let events = 0;
  const ids = [...received.keys()];
  const checkOne = async (id: string) => {
    const seen = received.get(id) ?? [];
    events += seen.length;
    const numbers = seen.map((event) => event.sequence_number);
    if (numbers.some((n, i) => n !== i)) fail(`${id}: client saw a gap or reordering`);
    const stored = await client.responses.retrieve(id);
    if (!["completed", "failed", "incomplete", "cancelled"].includes(stored.status ?? ""))
      fail(`${id}: not terminal (${stored.status})`);
    if (stored.status !== "completed") fail(`${id}: ended ${stored.status}`);
    const log: ResponseStreamEvent[] = [];
    for await (const event of await client.responses.retrieve(id, { stream: true })) log.push(event);
    if (log.some((event, i) => event.sequence_number !== i)) fail(`${id}: recorded log is not gap-free from 0`);
    if (JSON.stringify(log) !== JSON.stringify(seen)) fail(`${id}: recorded log differs from what the client received`);
    const folded = await client.responses.stream({ response_id: id }).finalResponse();
    const { output_parsed: _parsed, ...fold } = folded as unknown as Record<string, unknown>;
    if (JSON.stringify(normalize(fold)) !== JSON.stringify(normalize(stored)))
      fail(`${id}: snapshot differs from the fold of its log`);
  };
  const queue = [...ids];
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let id = queue.pop(); id !== undefined; id = queue.pop()) await checkOne(id);
    }),
  );

  const counts = await gateway.tableCounts();
  if ((counts.responses ?? 0) !== RESPONSES) fail(`D1 has ${counts.responses} responses, expected ${RESPONSES}`);
  if (new Set(ids).size !== ids.length) fail("duplicate response ids");
  if (ids.length !== RESPONSES) fail(`${ids.length} streams finished, expected ${RESPONSES}`);

  const summary = {
    responses: ids.length,
    peakConcurrentStreams: peak,
    eventsChecked: events,
    streamSeconds: Number(streamSeconds.toFixed(1)),
    d1Rows: counts,
    failures: failures.length,
  };
  console.log(JSON.stringify(summary));
  process.exitCode = failures.length === 0 ? 0 : 1;
} finally {
  clearTimeout(deadline);
  await gateway.stop();
  await mock.close();
  rmSync(work, { recursive: true, force: true });
}

/** Key order and SDK-added convenience fields aside, the same Response. */
function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalize);
  if (typeof value !== "object" || value === null) return value;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([key]) => key !== "output_text" && key !== "parsed" && key !== "output_parsed")
    .sort(([a], [b]) => a.localeCompare(b));
  return Object.fromEntries(entries.map(([key, item]) => [key, normalize(item)]));
}
