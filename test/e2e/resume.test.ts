import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { describe, expect, it } from "vitest";
import {
  client,
  gatewayFetch,
  GATEWAY_URL,
  model,
  readEvents,
  upstream,
  withoutParsed,
  words,
} from "../support/gateway";
import { until } from "../support/hooks";
import { collect, openStream, responseIdOf, rest as restOf } from "../support/streams";

describe("GET /v1/responses/{id}?stream=true", () => {
  it("replays a finished response's recorded events with their original numbers", async () => {
    const openai = client();
    const created = await collect(await openai.responses.create({ model: model("text:4"), input: "x", stream: true }));
    const id = responseIdOf(created[0]);
    const replay = await collect(await openai.responses.retrieve(id, { stream: true }));
    expect(replay).toEqual(created);
    const after = await collect(await openai.responses.retrieve(id, { stream: true, starting_after: 5 }));
    expect(after).toEqual(created.filter((event) => event.sequence_number > 5));
  });

  it("resumes with the stream helper (full replay filtered locally) to the same final response", async () => {
    const openai = client();
    const final = await openai.responses.stream({ model: model("text:3"), input: "x" }).finalResponse();
    const resumed = openai.responses.stream({ response_id: final.id, starting_after: 2 });
    const seen: number[] = [];
    resumed.on("event", (event) => seen.push(event.sequence_number));
    expect(withoutParsed(await resumed.finalResponse())).toEqual(withoutParsed(final));
    expect(seen[0]).toBe(3);
  });

  it("a client that disconnects mid-stream resumes and gets every remaining event exactly once", async () => {
    const openai = client();
    const m = model("gate:5:12");
    const abort = new AbortController();
    const stream = await openai.responses.create({ model: m, input: "x", stream: true }, { signal: abort.signal });
    const seen: ResponseStreamEvent[] = [];
    for await (const event of stream) {
      seen.push(event);
      if (seen.length === 5) break; // leaves the loop: the SDK aborts the request
    }
    abort.abort();
    const id = responseIdOf(seen[0]);
    const last = seen.at(-1)?.sequence_number ?? -1;
    // The run is still held at the gate: it keeps going after the client left.
    expect((await openai.responses.retrieve(id)).status).toBe("in_progress");
    await upstream.release(m);
    const rest = await collect(await openai.responses.retrieve(id, { stream: true, starting_after: last }));
    const all = [...seen, ...rest];
    expect(all.map((event) => event.sequence_number)).toEqual(all.map((_, index) => index));
    expect(all.at(-1)?.type).toBe("response.completed");
    const stored = await openai.responses.retrieve(id);
    expect(stored.status).toBe("completed");
    expect(stored.output_text).toBe(words(12));
    expect(await upstream.closedEarly(m)).toBe(0);
  });

  it("follows a running response live from a resume request", async () => {
    const openai = client();
    const m = model("gate:4:6");
    const stream = await openai.responses.create({ model: m, input: "x", stream: true });
    const { iterator, id } = await openStream(stream);
    const follower = collect(await openai.responses.retrieve(id, { stream: true, starting_after: 0 }));
    await upstream.release(m);
    const rest = await restOf(iterator);
    const followed = await follower;
    expect(followed).toEqual(rest);
    expect(followed.at(-1)?.type).toBe("response.completed");
  });

  it("shows the recorded partial output when polled while running (batches land within RECORD_FLUSH_SECONDS)", async () => {
    const openai = client();
    const m = model("gate:6:8");
    const stream = await openai.responses.create({ model: m, input: "x", stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    let id = "";
    for (let i = 0; i < 6; i++) {
      const event = (await iterator.next()).value as ResponseStreamEvent;
      if (event.type === "response.created") id = event.response.id;
    }
    // A foreground run's events reach D1 in batches at least every flush interval (1 s in tests).
    const polled = await until(
      () => openai.responses.retrieve(id),
      (response) => response.output_text === "w0 w1 ",
      "the recorded partial output",
    );
    expect(polled.status).toBe("in_progress");
    await upstream.release(m);
    await restOf(iterator);
    expect((await openai.responses.retrieve(id)).status).toBe("completed");
  });

  it("rejects a non-integer starting_after", async () => {
    const openai = client();
    const response = await openai.responses.create({ model: model("text:1"), input: "x" });
    await expect(
      openai.responses.retrieve(response.id, { stream: true, starting_after: "x" as unknown as number }),
    ).rejects.toMatchObject({ status: 400, param: "starting_after" });
  });

  it("leaves the deltas' obfuscation out of a replay with include_obfuscation=false, and only then", async () => {
    const openai = client();
    const response = await openai.responses.create({ model: model("fixture:azure-text.1.chunks.txt"), input: "x" });
    const url = `${GATEWAY_URL}/responses/${response.id}?stream=true`;
    const headers = { authorization: "Bearer sk-test-tenant-a" };
    const deltas = async (query: string) =>
      (await readEvents((await gatewayFetch(`${url}${query}`, { headers })).body)).filter(
        (event) => event.type === "response.output_text.delta",
      );
    const padded = await deltas("");
    expect(padded.length).toBeGreaterThan(0);
    expect(padded.every((event) => typeof event.obfuscation === "string")).toBe(true);
    const plain = await deltas("&include_obfuscation=false");
    expect(plain).toEqual(padded.map(({ obfuscation: _, ...event }) => event));
  });

  it("rejects a stream value that is not a boolean, and reads stream=false as the JSON Response", async () => {
    const openai = client();
    const response = await openai.responses.create({ model: model("text:1"), input: "x" });
    const url = `${GATEWAY_URL}/responses/${response.id}`;
    const headers = { authorization: "Bearer sk-test-tenant-a" };
    const refused = await gatewayFetch(`${url}?stream=yes`, { headers });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { param: "stream", code: "invalid_type" } });
    const plain = await gatewayFetch(`${url}?stream=false`, { headers });
    expect(await plain.json()).toMatchObject({ id: response.id, status: "completed" });
  });

  it("rejects an include_obfuscation value that is not a boolean, on a replay and on create", async () => {
    const openai = client();
    const response = await openai.responses.create({ model: model("text:1"), input: "x" });
    const headers = { authorization: "Bearer sk-test-tenant-a" };
    const refused = await gatewayFetch(`${GATEWAY_URL}/responses/${response.id}?stream=true&include_obfuscation=no`, {
      headers,
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { param: "include_obfuscation", code: "invalid_type" } });
    await expect(
      openai.responses.create({
        model: model("text:1"),
        input: "x",
        stream: true,
        stream_options: { include_obfuscation: "no" as unknown as boolean },
      }),
    ).rejects.toMatchObject({ status: 400, param: "stream_options.include_obfuscation", code: "invalid_type" });
  });
});
