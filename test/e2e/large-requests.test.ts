// A request larger than a D1 row outside its `input` (issue 18 item 8): 3 MB of `instructions`, or
// 3 MB of `tools`, which the Response echoes. Such a response is stored (its snapshot split into
// parts that each fit a row), read back whole, listed, and a chain can continue from it, in the
// foreground and in the background. Part of the text is random, so that even compressed it is larger
// than a value kept in its row (600 kB) and goes to parts; the rest compresses well, since
// local D1 writes large BLOBs at about 1 MB a second and a slower write would outlast the test
// configuration's 3-second upstream timeouts. Values split over several parts: test/e2e/storage.test.ts.

import type OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { client, model, storedFor } from "../support/gateway";
import { countAll } from "../support/shards";
import { collect } from "../support/streams";
import { randomText } from "../support/random-text";

const KEY = "sk-test-large-requests";
/** Over D1's 2 MB a row. */
const LARGE_CHARS = 3 * 1024 * 1024;

/**
 * Random base64 that compresses to a little more than a row keeps inline (600 kB): 6 bits a character.
 */
const RANDOM_CHARS = 850_000;

/** `chars` characters: `RANDOM_CHARS` random base64, then a repeated sentence. */
function largeText(chars: number): string {
  const random = randomText(Math.min(chars, RANDOM_CHARS));
  return random + "All work and no play makes a long prompt. ".repeat(chars).slice(0, chars - random.length);
}

/** 30 function tools whose descriptions are a `largeText(chars)` cut in 30. */
function largeTools(chars: number): OpenAI.Responses.FunctionTool[] {
  const text = largeText(chars);
  const each = Math.ceil(chars / 30);
  return Array.from({ length: 30 }, (_, i) => ({
    type: "function" as const,
    name: `tool_${i}`,
    description: text.slice(i * each, (i + 1) * each),
    parameters: { type: "object", properties: {}, additionalProperties: false },
    strict: true,
  }));
}

/**
 * Runs a create to its end: a foreground one as JSON; a background one attached to its stream (polling
 * would fetch its 3 MB snapshot over and over). Answers the final Response.
 */
async function run(
  openai: OpenAI,
  body: OpenAI.Responses.ResponseCreateParamsNonStreaming,
): Promise<OpenAI.Responses.Response> {
  if (body.background !== true) return openai.responses.create(body);
  const events = await collect(await openai.responses.create({ ...body, stream: true }));
  const last = events.at(-1);
  if (last?.type !== "response.completed" && last?.type !== "response.failed")
    throw new Error(`the stream ended with ${last?.type}`);
  return openai.responses.retrieve(last.response.id);
}

describe.each([false, true])("a request over 2 MB outside its input (background: %s)", (background) => {
  it("3 MB of instructions: stored, read back whole, listed, and chained from", async () => {
    const openai = client(KEY);
    const m = model("echo");
    const instructions = largeText(LARGE_CHARS);
    const first = await run(openai, { model: m, instructions, input: "first", background });
    expect({ status: first.status, error: first.error, text: first.output_text }).toEqual({
      status: "completed",
      error: null,
      text: "echo(1): first",
    });
    const stored = await openai.responses.retrieve(first.id);
    expect(stored.status).toBe("completed");
    // Compared by length first: a mismatch of 3 MB strings would flood the report.
    expect(stored.instructions?.length).toBe(instructions.length);
    expect(stored.instructions === instructions).toBe(true);
    // Its snapshot went to parts (more than a row keeps inline).
    const parts = await countAll("SELECT count(*) AS n FROM blobs WHERE owner_id = ? AND name = 'snapshot'", first.id);
    expect(parts).toBeGreaterThan(0);
    expect((await storedFor(openai, m)).map((response) => response.id)).toEqual([first.id]);
    // The chain carries the first turn's input and output (not its instructions, as OpenAI's does not).
    const second = await run(openai, { model: m, input: "second", previous_response_id: first.id, background });
    expect(second).toMatchObject({ status: "completed", output_text: "echo(3): second" });
  });

  it("3 MB of tools: stored, read back whole, listed, and chained from", async () => {
    const openai = client(KEY);
    const m = model("echo");
    const tools = largeTools(LARGE_CHARS);
    const first = await run(openai, { model: m, tools, input: "first", background });
    expect(first.status).toBe("completed");
    const stored = await openai.responses.retrieve(first.id);
    // What the Response echoes of its tools is the upstream's (the mock's echo is empty); the start
    // wrote them in full, and what the end wrote is read back as the client was given it.
    expect(stored.tools).toEqual(first.tools);
    expect((await storedFor(openai, m)).map((response) => response.id)).toEqual([first.id]);
    const second = await run(openai, { model: m, input: "second", previous_response_id: first.id, background });
    expect(second).toMatchObject({ status: "completed", output_text: "echo(3): second" });
  });
});
