// Upstream faults end to end: whatever the model server does (refuse the connection, fail to
// resolve, answer 5xx or 429, hang, cut the stream, send what is not SSE, break the event grammar,
// send far too much), the client gets the documented error or a terminal event, a stored response
// ends terminal with its partial output kept and its log intact, and nothing goes unhandled.

import { env } from "cloudflare:workers";
import { APIError } from "openai";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { foldEvents } from "../../src/responses/fold";
import type { StreamEvent } from "../../src/responses/types";
import {
  client,
  expectKeptAsFailed,
  gatewayFetch,
  GATEWAY_URL,
  model,
  readEvents,
  storedFor,
  upstream,
} from "../support/gateway";
import { watchUnhandled } from "../support/uncaught";
import { allRows } from "../support/shards";

const KEY = "sk-test-upstream-faults";
/** The test caps (vitest.config.ts): UPSTREAM_MAX_BODY_BYTES and UPSTREAM_MAX_EVENT_BYTES. */
const BODY_CAP = 20 * 1024 * 1024;
const EVENT_CAP = 4 * 1024 * 1024;
/** The mock upstream's `host:port`, as errors name it. */
const UPSTREAM_HOST = new URL(env.UPSTREAM_BASE_URL).host;

const watch = watchUnhandled();
afterEach(() => watch.expectNone());
afterAll(() => watch.stop());

interface WireResponse {
  id: string;
  status: string;
  error: { code: string; message: string } | null;
  output: Record<string, unknown>[];
}
interface Event {
  type: string;
  sequence_number: number;
  response?: WireResponse;
}

/** The Response an event carries (the first and last events of a stream carry one). */
function responseOf(event: Event | undefined): WireResponse {
  if (event?.response === undefined) throw new Error(`no response in ${JSON.stringify(event)}`);
  return event.response;
}

async function send(path: string, body?: unknown): Promise<Response> {
  return gatewayFetch(`${GATEWAY_URL}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Raw SSE events (the SDK's iterator throws at the `error` event that precedes `response.failed`). */
const events = async (response: Response) => (await readEvents(response.body)) as unknown as Event[];

async function storedRows(m: string): Promise<{ status: string; id: string }[]> {
  return allRows<{ status: string; id: string }>("SELECT id, status FROM responses WHERE model = ?", m);
}

const outputText = (response: { output?: unknown }): string =>
  ((response.output ?? []) as { type: string; content?: { type: string; text: string }[] }[])
    .filter((item) => item.type === "message")
    .flatMap((item) => item.content ?? [])
    .map((part) => part.text)
    .join("");

/** A stream that ended `failed`: contiguous numbers from 0, `error` then `response.failed` last. */
function expectFailedStream(list: Event[], message: string | RegExp, partial: string) {
  expect(list.map((event) => event.sequence_number)).toEqual(list.map((_, index) => index));
  expect(list[0]?.type).toBe("response.created");
  expect(list.slice(-2).map((event) => event.type)).toEqual(["error", "response.failed"]);
  const failed = responseOf(list.at(-1));
  expect(failed.error?.message).toMatch(message);
  expect(outputText(failed)).toBe(partial);
  if (partial !== "") expect(failed.output[0]).toMatchObject({ status: "incomplete" });
  return failed;
}

/** A stored response is `failed` everywhere: its retrieve, its D1 row, its replay, the fold of its log. */
async function expectStoredFailure(list: Event[], m: string) {
  const { id } = responseOf(list[0]);
  const failed = responseOf(list.at(-1));
  // Without the SDK's own `output_text`, to compare with what went over the wire.
  const { output_text: _text, ...stored } = await client(KEY).responses.retrieve(id);
  expect(stored).toMatchObject({ status: "failed", error: failed.error });
  expect(await storedRows(m)).toEqual([{ id, status: "failed" }]);
  const replay = await events(await send(`/responses/${id}?stream=true`));
  expect(replay).toEqual(list);
  expect(foldEvents(replay as unknown as StreamEvent[])).toEqual(stored);
  expect(stored).toEqual(failed);
}

interface MidStreamFault {
  name: string;
  scenario: string;
  message: string | RegExp;
  partial: string;
}

const MID_STREAM: MidStreamFault[] = [
  {
    name: "an event sequence that breaks the grammar",
    scenario: "grammar",
    message: /^The upstream stream broke the Responses event grammar: .*output index 7/,
    partial: "w0 w1 ",
  },
  {
    name: "a first event that breaks the grammar (the start events it was numbered after go out too)",
    scenario: "grammar:first",
    message: /^The upstream stream broke the Responses event grammar: .*output index 0/,
    partial: "",
  },
  {
    name: "malformed SSE (invalid UTF-8, unknown fields, an HTML page) and no terminal event",
    scenario: "malformed-sse",
    message: "The upstream stream ended before the response was complete.",
    partial: "ab\ufffd\ufffd",
  },
  {
    name: "invalid JSON in an event",
    scenario: "malformed",
    message: "The upstream sent an event that is not valid JSON.",
    partial: "",
  },
  {
    name: "a connection cut without a terminal event",
    scenario: "cut-after:5",
    message: "The upstream connection failed before the response was complete.",
    partial: "a",
  },
  {
    name: "a hang mid-stream (UPSTREAM_IDLE_TIMEOUT_MS)",
    scenario: "hang-after:5",
    message: "The upstream stream was idle for more than 3 seconds.",
    partial: "a",
  },
  {
    name: "a body far larger than expected (UPSTREAM_MAX_BODY_BYTES)",
    scenario: `flood:${BODY_CAP + 1024 * 1024}`,
    message: `The upstream response exceeded ${BODY_CAP} bytes.`,
    partial: "a",
  },
  {
    name: "one event far larger than expected (UPSTREAM_MAX_EVENT_BYTES)",
    scenario: `huge-event:${EVENT_CAP + 1024}`,
    message: `The upstream sent an event larger than ${EVENT_CAP} bytes.`,
    partial: "a",
  },
];

// Concurrent: each test has its own tagged model; the timeouts' waits overlap instead of adding up.
describe.concurrent("upstream faults mid-stream", () => {
  describe.each(MID_STREAM)("$name", ({ scenario, message, partial }) => {
    it("a stored stream ends with error + response.failed; stored failed with its partial output and log", async () => {
      const m = model(scenario);
      const list = await events(await send("/responses", { model: m, input: "x", stream: true }));
      expectFailedStream(list, message, partial);
      await expectStoredFailure(list, m);
    });

    it("a background stream ends the same way, and so does its stored response", async () => {
      const m = model(scenario);
      const list = await events(await send("/responses", { model: m, input: "x", stream: true, background: true }));
      expect(list.slice(0, 2).map((event) => event.type)).toEqual(["response.created", "response.queued"]);
      expectFailedStream(list, message, partial);
      await expectStoredFailure(list, m);
    });

    it("a synchronous create answers the failed Response, stored as such", async () => {
      const m = model(scenario);
      const answer = await client(KEY).responses.create({ model: m, input: "x" });
      expect(answer.status).toBe("failed");
      expect(answer.error?.message).toMatch(message);
      expect(answer.output_text).toBe(partial);
      expect(await client(KEY).responses.retrieve(answer.id)).toEqual(answer);
    });

    it("a store:false stream ends the same way and stores nothing", async () => {
      const unstored = model(scenario);
      const list = await events(await send("/responses", { model: unstored, input: "x", stream: true, store: false }));
      expectFailedStream(list, message, partial);
      expect(await storedRows(unstored)).toEqual([]);
    });
  });
});

describe("a stream whose first upstream event breaks the grammar", () => {
  it("reaches the SDK's stream helper as response.created and response.in_progress, then the error", async () => {
    const m = model("grammar:first");
    const seen: Event[] = [];
    const stream = client(KEY).responses.stream({ model: m, input: "x" });
    const read = async () => {
      for await (const event of stream) seen.push(event as unknown as Event);
    };
    await expect(read()).rejects.toBeInstanceOf(APIError);
    expect(seen.map((event) => [event.type, event.sequence_number])).toEqual([
      ["response.created", 0],
      ["response.in_progress", 1],
    ]);
    // The stored log is what the client was sent, the error and response.failed after those.
    const replay = await events(await send(`/responses/${responseOf(seen[0]).id}?stream=true`));
    expect(replay.slice(0, 2)).toEqual(seen);
    expect(replay.map((event) => event.type).slice(2)).toEqual(["error", "response.failed"]);
  });
});

describe.concurrent("upstream faults before the first byte", () => {
  it.each([
    [
      "a refused connection",
      "refused/m",
      "The upstream model server at 127.0.0.1:1 could not be reached: the connection was refused or cut (is the server running, and listening on that port?).",
    ],
    [
      "a name that does not resolve",
      "nxdomain/m",
      "The upstream model server at upstream.invalid could not be reached: its name does not resolve (DNS), or the network is down.",
    ],
  ])(
    "%s: 502 upstream_unreachable naming the host and cause, kept as failed; background: failed",
    async (_name, base, message) => {
      const openai = client(KEY);
      const m = model(base);
      const error = await openai.responses.create({ model: m, input: "x" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(APIError);
      expect(error).toMatchObject({
        status: 502,
        code: "upstream_unreachable",
        type: "server_error",
        error: { message },
      });
      const streamed = await send("/responses", { model: m, input: "x", stream: true });
      expect(streamed.status).toBe(502);
      expect(await streamed.json()).toMatchObject({ error: { code: "upstream_unreachable", message } });
      // Both refused creates are history: failed, with the cause.
      const kept = await storedFor(openai, m);
      expect(kept.map((response) => [response.status, response.error?.code, response.error?.message])).toEqual([
        ["failed", "upstream_unreachable", message],
        ["failed", "upstream_unreachable", message],
      ]);

      const background = model(base);
      const list = await events(
        await send("/responses", { model: background, input: "x", stream: true, background: true }),
      );
      expect(list.map((event) => event.type)).toEqual([
        "response.created",
        "response.queued",
        "response.in_progress",
        "error",
        "response.failed",
      ]);
      const { id } = responseOf(list[0]);
      expect(await openai.responses.retrieve(id)).toMatchObject({
        status: "failed",
        output: [],
        error: { code: "upstream_unreachable", message },
      });
      expect(await storedRows(background)).toEqual([{ id, status: "failed" }]);
    },
  );

  it("keeps a refused create's reasoning left out of the call in the failed response's input_transformations", async () => {
    const openai = client(KEY);
    const failing = model("flaky:3");
    // Neither encrypted_content nor content: `keep` leaves it out (OpenAI could only look it up by id).
    const bare = { type: "reasoning" as const, id: "rs_bare", summary: [] };
    const input = [{ role: "user" as const, content: "x" }, bare];
    await expect(openai.responses.create({ model: failing, input })).rejects.toMatchObject({ status: 503 });
    await expectKeptAsFailed(openai, failing, { message: /503/ });
    const [kept] = await storedFor(openai, failing);
    expect(kept?.input_transformations).toEqual([
      { id: "rs_bare", action: "removed", reason: "model_mismatch", type: "reasoning" },
    ]);
  });

  it("retries a 5xx UPSTREAM_RETRIES (2) times: a third failure reaches the client, a third success wins", async () => {
    const openai = client(KEY);
    const failing = model("flaky:3");
    await expect(openai.responses.create({ model: failing, input: "x" })).rejects.toMatchObject({ status: 503 });
    expect(await upstream.requests(failing)).toHaveLength(3);
    await expectKeptAsFailed(openai, failing, { message: /503/ });
    const recovering = model("flaky:2");
    const response = await openai.responses.create({ model: recovering, input: "x" });
    expect(response).toMatchObject({ status: "completed", output_text: "recovered" });
    expect(await upstream.requests(recovering)).toHaveLength(3);
  });

  it("does not retry an upstream error that says x-should-retry: false, and passes the header on", async () => {
    for (const status of [500, 503, 429]) {
      const m = model(`no-retry:${status}`);
      const res = await send("/responses", { model: m, input: "x" });
      expect(res.status).toBe(status);
      expect(res.headers.get("x-should-retry")).toBe("false");
      expect(await upstream.requests(m)).toHaveLength(1);
    }
  });

  it("waits out a 429's retry-after within the 10 s cap, then goes on", async () => {
    const m = model("flaky-429:1:1");
    const started = Date.now();
    const response = await client(KEY).responses.create({ model: m, input: "x" });
    expect(response).toMatchObject({ status: "completed", output_text: "after the wait" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(await upstream.requests(m)).toHaveLength(2);
  });

  it("hands a 429 whose retry-after is beyond the cap to the client at once, retry-after kept, kept as failed", async () => {
    const m = model("flaky-429:1:30");
    const res = await send("/responses", { model: m, input: "x", stream: true });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("30");
    expect(await res.json()).toMatchObject({ error: { type: "rate_limit_exceeded", code: "mock_429" } });
    expect(await upstream.requests(m)).toHaveLength(1);
    await expectKeptAsFailed(client(KEY), m, { code: "mock_429" });
  });

  it("hands a 429 whose retry-after-ms is beyond the cap to the client at once, retry-after-ms kept", async () => {
    const m = model("flaky-429-ms:1:30000");
    const started = Date.now();
    const res = await send("/responses", { model: m, input: "x" });
    expect(res.status).toBe(429);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(res.headers.get("retry-after-ms")).toBe("30000");
    expect(await upstream.requests(m)).toHaveLength(1);
  });

  it("waits out a 429's retry-after-ms within the cap, then goes on", async () => {
    const m = model("flaky-429-ms:1:300");
    const started = Date.now();
    const response = await client(KEY).responses.create({ model: m, input: "x" });
    expect(response).toMatchObject({ status: "completed", output_text: "after the wait" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(await upstream.requests(m)).toHaveLength(2);
  });

  it("answers a deployed Worker's Cloudflare 530/1016 (origin DNS) as 502 naming the host and DNS, after the retries", async () => {
    const m = model("cloudflare:530");
    const error = await client(KEY)
      .responses.create({ model: m, input: "x" })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      status: 502,
      code: "upstream_unreachable",
      error: {
        message: `The upstream model server at ${UPSTREAM_HOST} could not be reached: its name does not resolve (DNS; Cloudflare error 1016).`,
      },
    });
    expect(await upstream.requests(m)).toHaveLength(3);
  });

  it("keeps a 404 from a server without /responses, with a hint to set UPSTREAM_PROTOCOL=chat_completions", async () => {
    const m = model("no-route");
    const error = await client(KEY)
      .responses.create({ model: m, input: "x" })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      status: 404,
      error: {
        message: `404 page not found (The upstream at ${UPSTREAM_HOST} has no /responses endpoint. If it serves only Chat Completions, as Ollama and llama.cpp do, set UPSTREAM_PROTOCOL=chat_completions, or "protocol": "chat_completions" in its UPSTREAM_ROUTES entry.)`,
        type: "invalid_request_error",
        param: null,
        code: null,
      },
    });
  });

  it("answers 504 upstream_timeout when no headers come within the first-byte timeout (not retried)", async () => {
    const m = model("hang-headers");
    const error = await client(KEY)
      .responses.create({ model: m, input: "x" })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      status: 504,
      code: "upstream_timeout",
      error: {
        message: `The upstream model server at ${UPSTREAM_HOST} did not answer within 3 seconds (UPSTREAM_FIRST_BYTE_TIMEOUT_MS).`,
      },
    });
    expect(await upstream.requests(m)).toHaveLength(1);
    await expectKeptAsFailed(client(KEY), m, { code: "upstream_timeout" });
  });

  it("answers an error whose body stalls after its first bytes with what came, within the first-byte timeout", async () => {
    const m = model("stall-error-body:400");
    const error = await client(KEY)
      .responses.create({ model: m, input: "x" })
      .catch((e: unknown) => e);
    // The 400 is the upstream's, its message the body's first bytes; the call no longer waits for the rest.
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ status: 400, error: { message: '{"error":{"message":"The request was' } });
    expect(await upstream.requests(m)).toHaveLength(1);
    await expectKeptAsFailed(client(KEY), m, { message: /The request was/ });
  });
});
