import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { describe, expect, it } from "vitest";
import {
  client,
  gatewayFetch,
  GATEWAY_URL,
  model,
  untilOutput,
  upstream,
  withoutParsed,
  words,
} from "../support/gateway";
import { until } from "../support/hooks";
import { collect, responseIdOf } from "../support/streams";
import { firstRow } from "../support/shards";

describe("background responses", () => {
  it("answers at once with status queued, then polling shows the live status, partial output and the end", async () => {
    const openai = client();
    const m = model("gate:6:8");
    const created = await openai.responses.create({ model: m, input: "x", background: true });
    expect(created).toMatchObject({
      object: "response",
      status: "queued",
      background: true,
      output: [],
      usage: null,
      completed_at: null,
    });
    // Held before its 7th event: two words are out, the run is in progress.
    const running = await untilOutput(openai, created.id, "w0 w1 ");
    expect(running.status).toBe("in_progress");
    await upstream.release(m);
    const done = await until(
      () => openai.responses.retrieve(created.id),
      (response) => response.status !== "in_progress",
      "the end of the run",
    );
    expect(done.status).toBe("completed");
    expect(done.output_text).toBe(words(8));
    expect(done.background).toBe(true);
    expect(typeof done.completed_at).toBe("number");
    const row = await firstRow("SELECT status, background FROM responses WHERE id = ?", created.id);
    expect(row).toEqual({ status: "completed", background: 1 });
  });

  it("streams response.created (queued), response.queued, response.in_progress, ... accepted by the SDK's stream helper", async () => {
    const openai = client();
    const events: ResponseStreamEvent[] = [];
    const stream = openai.responses.stream({ model: model("text:3"), input: "x", background: true });
    stream.on("event", (event) => events.push(event));
    const final = await stream.finalResponse();
    expect(events.slice(0, 3).map((event) => event.type)).toEqual([
      "response.created",
      "response.queued",
      "response.in_progress",
    ]);
    expect(events[0]).toMatchObject({ response: { status: "queued", background: true } });
    expect(events[1]).toMatchObject({ response: { status: "queued" } });
    expect(events[2]).toMatchObject({ response: { status: "in_progress" } });
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    expect(events.at(-1)?.type).toBe("response.completed");
    expect(final.output_text).toBe(words(3));
    expect(await openai.responses.retrieve(final.id)).toEqual(withoutParsed(final));
  });

  it("resumes from any place during and after the run: a disconnected client gets every event exactly once", async () => {
    const openai = client();
    const m = model("gate:7:10");
    const abort = new AbortController();
    const stream = await openai.responses.create(
      { model: m, input: "x", background: true, stream: true },
      { signal: abort.signal },
    );
    const seen: ResponseStreamEvent[] = [];
    for await (const event of stream) {
      seen.push(event);
      if (seen.length === 4) break; // the SDK aborts the request: the client is gone
    }
    abort.abort();
    const id = responseIdOf(seen[0]);
    // During the run (held at the gate): resumes from several places follow it live.
    const during = [-1, 0, 2, 3, 5].map(async (after) => ({
      after,
      events: await collect(
        await openai.responses.retrieve(id, after < 0 ? { stream: true } : { stream: true, starting_after: after }),
      ),
    }));
    await untilOutput(openai, id, "w0 w1 w2 ");
    await upstream.release(m);
    const resumed = await Promise.all(during);
    const all = resumed.find((entry) => entry.after === -1)?.events ?? [];
    expect(all.map((event) => event.sequence_number)).toEqual(all.map((_, index) => index));
    expect(all.slice(0, seen.length)).toEqual(seen);
    expect(all.at(-1)?.type).toBe("response.completed");
    for (const { after, events } of resumed) expect(events).toEqual(all.filter((e) => e.sequence_number > after));
    // The disconnected client resumes where it left: the rest, each event once.
    const last = seen.at(-1)?.sequence_number ?? -1;
    const rest = await collect(await openai.responses.retrieve(id, { stream: true, starting_after: last }));
    expect([...seen, ...rest]).toEqual(all);
    // After the run: from every place.
    for (let after = -1; after < all.length; after++) {
      const replay = await collect(
        await openai.responses.retrieve(id, after < 0 ? { stream: true } : { stream: true, starting_after: after }),
      );
      expect(replay, `starting_after=${after}`).toEqual(all.filter((event) => event.sequence_number > after));
    }
    expect(await upstream.closedEarly(m)).toBe(0);
  });

  it("ends failed when the upstream refuses, and incomplete when it stops short, like a synchronous response", async () => {
    const openai = client();
    const failed = await openai.responses.create({ model: model("status:400"), input: "x", background: true });
    expect(failed.status).toBe("queued");
    const failedEnd = await until(
      () => openai.responses.retrieve(failed.id),
      (response) => response.status !== "queued" && response.status !== "in_progress",
      "a failed end",
    );
    expect(failedEnd.status).toBe("failed");
    expect(failedEnd.error).toMatchObject({ code: "mock_400" });
    const incomplete = await openai.responses.create({ model: model("incomplete"), input: "x", background: true });
    const incompleteEnd = await until(
      () => openai.responses.retrieve(incomplete.id),
      (response) => response.status !== "queued" && response.status !== "in_progress",
      "an incomplete end",
    );
    expect(incompleteEnd).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
  });

  it("records a background response like any stored one: input items, chaining, replay from D1", async () => {
    const openai = client();
    const first = await openai.responses.create({ model: model("echo"), input: "one", background: true });
    const firstEnd = await until(
      () => openai.responses.retrieve(first.id),
      (response) => response.status === "completed",
      "completion",
    );
    expect(firstEnd.output_text).toBe("echo(1): one");
    const items = await openai.responses.inputItems.list(first.id);
    expect(items.data).toHaveLength(1);
    const second = await openai.responses.create({
      model: model("echo"),
      input: "two",
      previous_response_id: first.id,
    });
    expect(second.output_text).toBe("echo(3): two");
  });
});

describe("background_options", () => {
  it("is never sent upstream: the gateway runs the background, and the upstream is streamed", async () => {
    const openai = client();
    const m = model("text:1");
    const queued = await openai.responses.create({
      model: m,
      input: "hi",
      background: true,
      background_options: { completion_window: "2h", continuation_id: "batch-7" },
    });
    const done = await until(
      () => openai.responses.retrieve(queued.id),
      (response) => response.status !== "queued" && response.status !== "in_progress",
      "the end of the run",
    );
    expect(done.status).toBe("completed");
    const [sent] = await upstream.requests(m);
    expect(sent?.body).not.toHaveProperty("background_options");
  });

  it.each([
    [{ background_options: { completion_window: "8h" } }, "'background' to be true"],
    [{ background: true, stream: true, background_options: { completion_window: "2h" } }, "'stream' to be false"],
    [
      { background: true, service_tier: "flex", background_options: { completion_window: "2h" } },
      "Standard processing",
    ],
    [{ background: true, background_options: { completion_window: "3h" } }, "Invalid value: '3h'"],
    [{ background: true, background_options: { completion_window: 2 } }, "Invalid type"],
    [{ background: true, background_options: "2h" }, "Invalid type"],
  ])("refuses %j before anything runs", async (fields, message) => {
    const response = await gatewayFetch(`${GATEWAY_URL}/responses`, {
      method: "POST",
      headers: { authorization: "Bearer sk-test-tenant-a", "content-type": "application/json" },
      body: JSON.stringify({ model: model("text:1"), input: "hi", ...fields }),
    });
    expect(response.status).toBe(400);
    const { error } = await response.json<{ error: { message: string; param: string } }>();
    expect(error.message).toContain(message);
    expect(error.param).toMatch(/^background_options/);
  });
});
