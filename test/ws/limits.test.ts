// Lanes and limits on one connection: lanes run side by side while each stays FIFO; 32 named lanes
// at most; the connection's time limit (`websocket_connection_limit_reached`, then 1001); the key
// checked and rate limited on every create (a revoked key: error, then 1008); and a client that
// goes away mid-response leaves a stored response running, as an SSE client does, but stops a
// store:false one.

import { env } from "cloudflare:workers";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { MAX_NAMED_LANES, MAX_PENDING_REFUSALS, MAX_QUEUED_BYTES } from "../../src/ws/limits";
import { until } from "../support/hooks";
import { client, model, upstream, words } from "../support/gateway";
import { admin, ADMIN_TOKEN, newTenantKey, UPSTREAM_KEY } from "../support/managed";
import { watchUnhandled } from "../support/uncaught";
import { finalResponse, RawSocket, type ServerEvent } from "./support/frames";

const watch = watchUnhandled();
afterEach(() => watch.expectNone());
afterAll(() => watch.stop());

const KEYS_MODE = { AUTH_MODE: "keys", ADMIN_TOKEN, UPSTREAM_API_KEY: UPSTREAM_KEY };

/** Waits until the mock upstream has received `count` requests for `m` (a gated one is held there). */
const reached = (m: string, count = 1) =>
  until(
    () => upstream.requests(m),
    (requests) => requests.length >= count,
    `${count} request(s) for ${m} at the upstream`,
  );

describe("lanes", () => {
  it("run side by side, each in arrival order", async () => {
    const socket = await RawSocket.open();
    const held = model("gate:4:6");
    const queued = model("text:1");
    socket.send({ type: "response.create", model: held, input: "a1", stream_id: "a" });
    socket.send({ type: "response.create", model: queued, input: "a2", stream_id: "a" });
    // Lane b, sent after both, runs while lane a's first request is held at the upstream.
    const b = await socket.create({ model: model("text:2"), input: "b1", stream_id: "b" });
    expect(finalResponse(b).status).toBe("completed");
    await reached(held);
    expect(await upstream.requests(queued)).toEqual([]);
    await upstream.release(held);
    const a1 = await socket.request("a");
    const a2 = await socket.request("a");
    socket.close();
    expect(finalResponse(a1).status).toBe("completed");
    expect(finalResponse(a2).status).toBe("completed");
    expect(JSON.stringify(finalResponse(a1).output)).toContain(words(6).trim());
    expect(a1.every((event) => event.stream_id === "a")).toBe(true);
  });

  it(`allow ${MAX_NAMED_LANES} named lanes; the next is refused, while used lanes and the default lane go on`, async () => {
    const socket = await RawSocket.open();
    // store:false keeps this light (nothing recorded); each lane holds its response for continuation.
    for (let i = 0; i < MAX_NAMED_LANES; i++)
      socket.send({
        type: "response.create",
        model: model("text:1"),
        input: "x",
        store: false,
        stream_id: `lane-${i}`,
      });
    for (let i = 0; i < MAX_NAMED_LANES; i++)
      expect(finalResponse(await socket.request(`lane-${i}`)).status).toBe("completed");
    const refused = await socket.create({ model: model("text:1"), input: "x", stream_id: "one-too-many" });
    expect(refused).toEqual([
      {
        type: "error",
        status: 400,
        stream_id: "one-too-many",
        error: {
          type: "invalid_request_error",
          code: "websocket_stream_limit_reached",
          message: `Too many streams on this connection: at most ${MAX_NAMED_LANES} stream_id values may be in use at once.`,
          param: "stream_id",
        },
      },
    ]);
    expect(finalResponse(await socket.create({ model: model("text:1"), input: "x", stream_id: "lane-7" })).status).toBe(
      "completed",
    );
    expect(finalResponse(await socket.create({ model: model("text:1"), input: "x" })).status).toBe("completed");
    socket.close();
  });

  it("does not count a lane whose latest response is stored (D1 continues it): a fresh stream_id per task never runs out", async () => {
    const socket = await RawSocket.open();
    // One task after another, each on a lane of its own: none is waiting or running when the next comes.
    for (let i = 0; i <= MAX_NAMED_LANES; i++) {
      const task = await socket.create({ model: model("text:1"), input: "x", stream_id: `task-${i}` });
      expect(finalResponse(task).status).toBe("completed");
    }
    socket.close();
  });
});

describe("the queue's byte budget", () => {
  it("refuses a create past it with websocket_queue_full after the lane's earlier requests, not among their events", async () => {
    const socket = await RawSocket.open();
    const held = model("gate:4:6");
    socket.send({ type: "response.create", model: held, input: "running", stream_id: "a" });
    await reached(held);
    // A frame that fills the queue alone (refused by the create path when it runs: no upstream call).
    const filler = { type: "response.create", model: model("text:1"), temperature: 99, stream_id: "a", input: "" };
    filler.input = "x".repeat(MAX_QUEUED_BYTES - JSON.stringify(filler).length - 16);
    socket.send(filler);
    socket.send({ type: "response.create", model: model("text:1"), input: "over", stream_id: "a" });
    // Frames are read in order: once an unreadable frame's error is back, the refusal has been decided.
    socket.send("{");
    expect(await socket.request("")).toEqual([expect.objectContaining({ type: "error", status: 400 })]);
    expect(socket.unread.filter((event) => event.type === "error")).toEqual([]);
    await upstream.release(held);
    expect(finalResponse(await socket.request("a")).status).toBe("completed");
    expect(await socket.request("a")).toEqual([
      expect.objectContaining({
        type: "error",
        status: 400,
        error: expect.objectContaining({ param: "temperature" }) as unknown,
      }),
    ]);
    expect(await socket.request("a")).toEqual([
      {
        type: "error",
        status: 429,
        stream_id: "a",
        error: expect.objectContaining({ type: "rate_limit_error", code: "websocket_queue_full" }) as unknown,
      },
    ]);
    socket.close();
  });
});

describe("refusals waiting for a busy lane", () => {
  it(`close the connection (1008) past ${MAX_PENDING_REFUSALS}, rather than grow with every frame a client floods the lane with`, async () => {
    const socket = await RawSocket.open();
    const held = model("gate:4:6");
    socket.send({ type: "response.create", model: held, input: "running", stream_id: "a" });
    await reached(held);
    // Each is refused after the running request's events: it waits for the lane until then.
    for (let index = 0; index <= MAX_PENDING_REFUSALS; index++)
      socket.send({ type: "response.create", model: model("text:1"), input: "x", background: true, stream_id: "a" });
    expect(await socket.closed).toEqual({
      code: 1008,
      reason: "Too many refused requests are waiting for their lanes.",
    });
    await upstream.release(held);
  });
});

describe("the connection limit", () => {
  it("refuses what has not started with websocket_connection_limit_reached, lets running turns end, then closes 1001", async () => {
    const socket = await RawSocket.open({ overrides: { WEBSOCKET_MAX_SECONDS: "2" } });
    const held = model("gate:4:6");
    const queued = model("text:1");
    socket.send({ type: "response.create", model: held, input: "running", stream_id: "a" });
    socket.send({ type: "response.create", model: queued, input: "waiting", stream_id: "a" });
    await reached(held);
    // Past the limit a new create is refused at once (on a free lane); creates before it just run.
    const probe = model("text:1");
    const late = await until(
      () => socket.create({ model: probe, input: "too late?", stream_id: "late" }),
      (events) => events[0]?.type === "error",
      "the connection limit",
    );
    expect(late[0]).toMatchObject({ error: { code: "websocket_connection_limit_reached" } });
    // The waiting request's refusal comes after the running one's events, not among them: a client
    // reads a lane in request order and would take it as the running request's end.
    expect(socket.unread.filter((event) => event.type === "error")).toEqual([]);
    await upstream.release(held);
    const running = await socket.request("a");
    expect(running.map((event) => event.sequence_number)).toEqual(running.map((_, index) => index));
    expect(running.at(-1)).toMatchObject({ type: "response.completed", response: { status: "completed" } });
    expect(await socket.request("a")).toEqual([
      {
        type: "error",
        status: 400,
        stream_id: "a",
        error: {
          type: "invalid_request_error",
          code: "websocket_connection_limit_reached",
          message:
            "Responses websocket connection limit reached (2 seconds). Create a new websocket connection to continue.",
          param: null,
        },
      },
    ]);
    expect(await socket.closed).toEqual({ code: 1001, reason: "Connection limit reached; reconnect to continue." });
    expect(await upstream.requests(queued)).toEqual([]);
  });
});

describe("the key on every create", () => {
  it("is checked again: a key revoked mid-connection gets a 401 error event, then the socket closes 1008", async () => {
    const { key, keyId } = await newTenantKey("ws revoked");
    const socket = await RawSocket.open({ overrides: KEYS_MODE }, key);
    expect(finalResponse(await socket.create({ model: model("text:1"), input: "x" })).status).toBe("completed");
    expect((await admin("POST", `/keys/${keyId}/revoke`, undefined, KEYS_MODE)).status).toBe(200);
    const refused = await socket.create({ model: model("text:1"), input: "y" });
    expect(refused).toEqual([
      expect.objectContaining({
        type: "error",
        status: 401,
        error: expect.objectContaining({ code: "invalid_api_key" }) as unknown,
      }),
    ]);
    expect(await socket.closed).toEqual({ code: 1008, reason: "The API key was refused." });
  });

  it("ends the waiting requests with the refusal and lets a running one end as it would, then closes 1008", async () => {
    const { key, keyId } = await newTenantKey("ws revoked with lanes");
    const socket = await RawSocket.open({ overrides: KEYS_MODE }, key);
    const held = model("gate:4:6");
    socket.send({ type: "response.create", model: held, input: "running", stream_id: "b" });
    socket.send({ type: "response.create", model: model("text:1"), input: "waiting", stream_id: "b" });
    await reached(held);
    expect((await admin("POST", `/keys/${keyId}/revoke`, undefined, KEYS_MODE)).status).toBe(200);
    expect(await socket.create({ model: model("text:1"), input: "y", stream_id: "a" })).toEqual([
      expect.objectContaining({ type: "error", status: 401 }),
    ]);
    // Refused without asking the create path again (after its lane's running request, as every refusal).
    expect(await socket.create({ model: model("text:1"), input: "z", stream_id: "c" })).toEqual([
      expect.objectContaining({ type: "error", status: 401 }),
    ]);
    await upstream.release(held);
    // Started with the key accepted, as an HTTP stream begun before a revocation: it ends as it would.
    const running = await socket.request("b");
    expect(running.at(-1)).toMatchObject({ type: "response.completed", response: { status: "completed" } });
    expect(await socket.request("b")).toEqual([
      expect.objectContaining({
        type: "error",
        status: 401,
        error: expect.objectContaining({ code: "invalid_api_key" }) as unknown,
      }),
    ]);
    expect(await socket.closed).toEqual({ code: 1008, reason: "The API key was refused." });
  });

  it("is not taken as refused when the upstream refuses the gateway's own key: that request ends with a 502, the socket stays", async () => {
    const { key } = await newTenantKey("ws upstream refuses");
    const socket = await RawSocket.open({ overrides: KEYS_MODE }, key);
    socket.send({ type: "response.create", model: model("status:401"), input: "x", stream_id: "a" });
    const ok = model("text:1");
    socket.send({ type: "response.create", model: ok, input: "y", stream_id: "b" });
    expect(await socket.request("a")).toEqual([
      expect.objectContaining({
        type: "error",
        status: 502,
        error: expect.objectContaining({ code: "upstream_key_refused" }) as unknown,
      }),
    ]);
    expect(finalResponse(await socket.request("b")).status).toBe("completed");
    expect(finalResponse(await socket.create({ model: ok, input: "z" })).status).toBe("completed");
    socket.close();
  });

  it("is rate limited per create event: a refused one gets a 429 error event with retry-after", async () => {
    const strict = { RATE_LIMITER: (env as unknown as Record<string, unknown>).STRICT_RATE_LIMITER };
    const socket = await RawSocket.open({ overrides: strict }, `sk-test-ws-rate-${crypto.randomUUID()}`);
    let refused: ServerEvent | undefined;
    // 3 a minute, the handshake included; a minute boundary can reset the count once.
    for (let i = 0; i < 7 && refused === undefined; i++) {
      const events = await socket.create({ model: model("text:1"), input: "x" });
      if (events[0]?.type === "error") refused = events[0];
    }
    socket.close();
    expect(refused).toMatchObject({
      type: "error",
      status: 429,
      error: {
        type: "requests",
        code: "rate_limit_exceeded",
        headers: { "retry-after": expect.stringMatching(/^\d+$/) as unknown },
      },
    });
  });
});

describe("a client that goes away mid-response", () => {
  it("leaves a stored response running to its end, recorded, as an SSE client's disconnect does", async () => {
    const key = "sk-test-ws-gone-stored";
    const socket = await RawSocket.open({}, key);
    const m = model("gate:5:8");
    socket.send({ type: "response.create", model: m, input: "x" });
    const first = await socket.next();
    const id = (first?.response as { id: string }).id;
    await reached(m);
    socket.close();
    await socket.closed;
    await upstream.release(m);
    const done = await until(
      () => client(key).responses.retrieve(id),
      (response) => response.status === "completed",
      "the response to complete",
    );
    expect(done.output_text).toBe(words(8));
    expect(await upstream.closedEarly(m)).toBe(0);
  });

  it("stops a store:false response: its upstream call is closed at the next event", async () => {
    const socket = await RawSocket.open();
    // 200 events 20 ms apart: the upstream is still sending when the client leaves.
    const m = model("paced:20:200");
    socket.send({ type: "response.create", model: m, input: "x", store: false });
    await socket.next();
    socket.close();
    await socket.closed;
    await until(
      () => upstream.closedEarly(m),
      (closed) => closed === 1,
      "the upstream connection to close",
    );
  });

  it("a stored response deleted mid-stream ends its request with an error event; the lane goes on", async () => {
    const key = "sk-test-ws-deleted";
    const socket = await RawSocket.open({}, key);
    const m = model("gate:5:8");
    socket.send({ type: "response.create", model: m, input: "x", stream_id: "d" });
    const started = await socket.next("d");
    await reached(m);
    await client(key).responses.delete((started?.response as { id: string }).id);
    await upstream.release(m);
    // Its end cannot be recorded any more: the request ends with that error, not a terminal event.
    const rest = await socket.request("d");
    expect(rest.at(-1)).toEqual({
      type: "error",
      status: 500,
      stream_id: "d",
      error: {
        type: "server_error",
        code: "response_not_recorded",
        message: "The response was deleted or ended by the gateway before its end could be recorded.",
        param: null,
      },
    });
    expect(rest.some((event) => event.type === "response.completed")).toBe(false);
    expect(finalResponse(await socket.create({ model: model("text:1"), input: "y", stream_id: "d" })).status).toBe(
      "completed",
    );
    socket.close();
  });
});
