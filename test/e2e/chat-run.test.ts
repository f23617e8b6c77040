// The gateway's run features over a Chat Completions upstream, exactly as over a Responses one:
// background runs, resume and live follow, cancel, polling, a stream that breaks mid-way
// (`error` + `response.failed`, partial output stored), and store:false.

import { APIError } from "openai";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { describe, expect, it } from "vitest";
import { received, routed } from "../support/chat";
import { client, rawEvents, upstream, words } from "../support/gateway";
import { readToFailure, readUntil, rest } from "../support/streams";
import { withoutSdkFields } from "../upstream/chat-completions/harness";

const KEY = "sk-test-chat-run";
const openai = client(KEY);
const isDelta = (text: string) => (event: ResponseStreamEvent) =>
  event.type === "response.output_text.delta" && event.delta === text;

describe("runs over a Chat Completions upstream", () => {
  it("runs a background response, followed live by a resume, to the same stored result", async () => {
    // The chat stream is held before its fifth frame (role, w0, w1, w2 | w3 ...).
    const m = routed("gate:4:8");
    const queued = await openai.responses.create({ model: m.model, input: "go", background: true });
    expect(queued).toMatchObject({ status: "queued", background: true, output: [] });

    const follower = (await openai.responses.retrieve(queued.id, { stream: true }))[Symbol.asyncIterator]();
    const early = await readUntil(follower, isDelta("w2 "));
    expect(early.map((event) => event.type).slice(0, 3)).toEqual([
      "response.created",
      "response.queued",
      "response.in_progress",
    ]);
    const polled = await openai.responses.retrieve(queued.id);
    expect(polled.status).toBe("in_progress");
    expect(polled.output_text).toBe(words(3));

    await upstream.release(m.upstream);
    const events = [...early, ...(await rest(follower))];
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    expect(events.at(-1)?.type).toBe("response.completed");

    const stored = await openai.responses.retrieve(queued.id);
    expect(stored).toMatchObject({ status: "completed", background: true, output_text: words(8) });
    expect(stored.usage).toMatchObject({ input_tokens: 10, output_tokens: 8, total_tokens: 18 });
    const final = (events.at(-1) as { response: unknown }).response;
    expect(withoutSdkFields(stored)).toEqual(final);

    // The stream helper resumes from any point with a full replay filtered locally.
    const resumed = openai.responses.stream({ response_id: queued.id, starting_after: 5 });
    const seen: number[] = [];
    resumed.on("event", (event) => seen.push(event.sequence_number));
    expect(withoutSdkFields(await resumed.finalResponse())).toEqual(final);
    expect(seen[0]).toBe(6);
    expect(await received(m)).toHaveLength(1);
  });

  it("cancels a background response mid-stream, keeping the partial output, and closes the upstream", async () => {
    const m = routed("gate:3:6");
    const queued = await openai.responses.create({ model: m.model, input: "go", background: true });
    const follower = (await openai.responses.retrieve(queued.id, { stream: true }))[Symbol.asyncIterator]();
    await readUntil(follower, isDelta("w1 "));

    const cancelled = await openai.responses.cancel(queued.id);
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.output).toEqual([
      expect.objectContaining({ type: "message", content: [expect.objectContaining({ text: words(2) })] }),
    ]);
    expect(await openai.responses.retrieve(queued.id)).toMatchObject({ status: "cancelled", output_text: words(2) });
    await upstream.release(m.upstream);
    await expect.poll(() => upstream.closedEarly(m.upstream)).toBe(1);
  });

  it.each([
    ["cut-after:3", "The upstream connection failed before the response was complete."],
    ["end-after:3", "The upstream stream ended before the response was complete."],
  ])(
    "ends a chat stream broken by %s with error + response.failed, partial output stored",
    async (scenario, message) => {
      const m = routed(scenario);
      const stream = await openai.responses.create({ model: m.model, input: "x", stream: true });
      const { types, id, failure } = await readToFailure(stream);
      expect(failure).toBeInstanceOf(APIError);
      expect((failure as APIError).message).toContain(message);

      const stored = await openai.responses.retrieve(id);
      expect(stored.status).toBe("failed");
      expect(stored.error).toEqual({ code: "server_error", message, type: "server_error", param: null });
      expect(stored.output).toEqual([
        expect.objectContaining({
          type: "message",
          status: "incomplete",
          content: [expect.objectContaining({ text: "w0 w1 " })],
        }),
      ]);
      const replay = await rawEvents(KEY, `/responses/${id}?stream=true`);
      // The SDK threw at the `error` event; the log holds it and the terminal event after what it read.
      expect(replay.map((event) => event.type)).toEqual([...types, "error", "response.failed"]);
    },
  );

  it("fails a background response whose chat stream breaks, keeping what arrived", async () => {
    const m = routed("cut-after:3");
    const queued = await openai.responses.create({ model: m.model, input: "x", background: true });
    const events = await rawEvents(KEY, `/responses/${queued.id}?stream=true`);
    expect(events.map((event) => event.type).slice(-2)).toEqual(["error", "response.failed"]);
    expect(await openai.responses.retrieve(queued.id)).toMatchObject({ status: "failed", output_text: "w0 w1 " });
  });

  it("streams store:false straight through and stores nothing", async () => {
    const m = routed("text:3");
    const final = await openai.responses.stream({ model: m.model, input: "x", store: false }).finalResponse();
    expect(final).toMatchObject({ status: "completed", store: false, output_text: words(3) });
    await expect(openai.responses.retrieve(final.id)).rejects.toMatchObject({ status: 404 });
  });
});

describe("prompt_cache_options.prewarm over a chat route", () => {
  it("is a warm-up: no model call, completed with no output, its input chained from", async () => {
    const openai = client();
    const m = routed("echo");
    const warm = await openai.responses.create({
      model: m.model,
      input: "the prompt",
      prompt_cache_options: { prewarm: true, ttl: "30m" },
    });
    expect(warm).toMatchObject({ status: "completed", output: [] });
    expect(await received(m)).toEqual([]);
    const next = await openai.responses.create({ model: m.model, previous_response_id: warm.id, input: "go" });
    expect(next.output_text).toBe("echo(2): go");
  });

  it("refuses option fields of the wrong type, as OpenAI does", async () => {
    const m = routed("text:1");
    const bad = { model: m.model, input: "hi", prompt_cache_options: { prewarm: "yes" } };
    await expect(client().responses.create(bad as never)).rejects.toMatchObject({
      status: 400,
      error: { code: "invalid_type", param: "prompt_cache_options.prewarm" },
    });
    const access = { model: m.model, input: "hi", access_programs: "daybreak_red" };
    await expect(client().responses.create(access as never)).rejects.toMatchObject({
      status: 400,
      error: { code: "invalid_type", param: "access_programs" },
    });
    expect(await received(m)).toEqual([]);
  });
});
