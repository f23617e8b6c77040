// Bad frames never crash the socket: a frame that is not JSON, holds an unpaired surrogate, is not an
// object, of an unknown type or with a bad field gets an `error` event (with its status) and the
// socket stays usable; a binary frame closes with 1003 and one over the size cap with 1009. Steering
// is answered, not applied.

import { afterAll, afterEach, describe, expect, it } from "vitest";
import { INVALID_JSON_MESSAGE, MAX_JSON_DEPTH } from "../../src/http/json-body";
import { model, upstream, words } from "../support/gateway";
import { watchUnhandled } from "../support/uncaught";
import { finalResponse, RawSocket } from "./support/frames";

const watch = watchUnhandled();
afterEach(() => watch.expectNone());
afterAll(() => watch.stop());

const refusal = (message: string, param: string | null, code: string | null, extra: Record<string, unknown> = {}) => ({
  type: "error",
  status: 400,
  error: { type: "invalid_request_error", code, message, param },
  ...extra,
});

describe("bad frames", () => {
  it("each get one error event, and the socket goes on serving", async () => {
    const socket = await RawSocket.open();
    socket.send("{not json");
    expect(await socket.request()).toEqual([refusal(INVALID_JSON_MESSAGE, null, null)]);
    socket.send(`{"type":"response.create","model":"m","input":"x\\ud800"}`);
    expect(await socket.request()).toEqual([
      refusal(
        "Invalid 'input': the string holds an unpaired UTF-16 surrogate ('\\ud800' at index 1), which is not Unicode text. Send both halves of the pair, or neither.",
        "input",
        "invalid_value",
      ),
    ]);
    socket.send("[1, 2]");
    expect(await socket.request()).toEqual([
      refusal("Invalid type for 'event': expected an object, but got an array instead.", "event", "invalid_type"),
    ]);
    socket.send({ type: "response.cancel" });
    expect(await socket.request()).toEqual([
      refusal(
        "Invalid value: 'response.cancel'. Supported values are: 'response.create' and 'response.steer'.",
        "type",
        "invalid_value",
      ),
    ]);
    socket.send({ model: "x" });
    expect(await socket.request()).toEqual([
      refusal("Missing required parameter: 'type'.", "type", "missing_required_parameter"),
    ]);
    socket.send({ type: "response.create", model: model("text:1"), stream_id: "not a lane!" });
    expect(await socket.request()).toEqual([
      refusal(
        "Invalid 'stream_id': 'not a lane!'. Expected 1 to 256 characters from A-Z, a-z, 0-9, '_', '.' and '-'.",
        "stream_id",
        "invalid_stream_id",
      ),
    ]);
    socket.send({ type: "response.create", model: model("text:1"), stream_id: "x".repeat(257) });
    expect((await socket.request())[0]).toMatchObject({ error: { code: "invalid_stream_id" } });
    socket.send({ type: "response.create", model: model("text:1"), generate: "no", stream_id: "g" });
    expect(await socket.request("g")).toEqual([
      refusal(
        "Invalid type for 'generate': expected a boolean, but got a string instead.",
        "generate",
        "invalid_type",
        {
          stream_id: "g",
        },
      ),
    ]);
    // `stream` is implicit, yet a value HTTP refuses is refused (true and false are accepted).
    socket.send({ type: "response.create", model: model("text:1"), stream: "yes" });
    expect(await socket.request()).toEqual([
      refusal("Invalid type for 'stream': expected a boolean, but got a string instead.", "stream", "invalid_type"),
    ]);
    let deep: unknown = "x";
    for (let i = 0; i < MAX_JSON_DEPTH + 1; i++) deep = [deep];
    socket.send({ type: "response.create", model: model("text:1"), input: deep });
    expect((await socket.request())[0]).toMatchObject({
      status: 400,
      error: { message: expect.stringMatching(/nested too deeply/) as unknown },
    });
    // The create path's own validation, as over HTTP.
    socket.send({ type: "response.create", model: model("text:1"), temperature: 7 });
    expect((await socket.request())[0]).toMatchObject({
      type: "error",
      status: 400,
      error: { param: "temperature", code: "decimal_above_max_value" },
    });
    const after = finalResponse(await socket.create({ model: model("text:2"), input: "still here" }));
    expect(after.status).toBe("completed");
    socket.close();
  });

  it("refuses background: true with an error event and calls nothing", async () => {
    const socket = await RawSocket.open();
    const m = model("text:1");
    const events = await socket.create({ model: m, input: "x", background: true, stream_id: "bg" });
    socket.close();
    expect(events).toEqual([
      refusal(
        "Background responses are not supported over WebSocket: create them with POST /v1/responses.",
        "background",
        "unsupported_parameter",
        { stream_id: "bg" },
      ),
    ]);
    expect(await upstream.requests(m)).toEqual([]);
  });

  it("answers a bad frame on a busy lane after the lane's running request, not among its events", async () => {
    const socket = await RawSocket.open();
    const held = model("gate:1:3");
    socket.send({ type: "response.create", model: held, input: "x", stream_id: "work" });
    await socket.next("work");
    socket.send({ type: "response.create", model: model("text:1"), input: "y", background: true, stream_id: "work" });
    socket.send({ type: "response.create", model: model("text:1"), input: "z", generate: "no", stream_id: "work" });
    // Frames are read in order: once a later frame's answer is back, the refusals have been decided.
    const later = await socket.create({ model: model("text:1"), input: "w", stream_id: "other" });
    expect(finalResponse(later).status).toBe("completed");
    expect(socket.unread.filter((event) => event.type === "error")).toEqual([]);
    await upstream.release(held);
    expect((await socket.request("work")).at(-1)?.type).toBe("response.completed");
    expect(await socket.request("work")).toEqual([
      expect.objectContaining({ error: expect.objectContaining({ param: "background" }) as unknown }),
    ]);
    expect(await socket.request("work")).toEqual([
      expect.objectContaining({ error: expect.objectContaining({ param: "generate" }) as unknown }),
    ]);
    socket.close();
  });

  it("accepts stream: true and unknown fields such as client_metadata (Codex sends both)", async () => {
    const socket = await RawSocket.open();
    const events = await socket.create({
      model: model("text:2"),
      input: "x",
      stream: true,
      client_metadata: { "x-codex-turn": "1" },
    });
    socket.close();
    expect(finalResponse(events).status).toBe("completed");
  });

  it("answers response.steer with response.steer.failed, handing the input back on the target's lane", async () => {
    const socket = await RawSocket.open();
    const parent = finalResponse(await socket.create({ model: model("text:1"), input: "x", stream_id: "work" }));
    const input = [{ role: "user", content: "also this" }];
    socket.send({ type: "response.steer", previous_response_id: parent.id, input });
    expect(await socket.next()).toEqual({
      type: "response.steer.failed",
      sequence_number: 0,
      stream_id: "work",
      error: {
        type: "invalid_request_error",
        code: "steering_not_supported",
        message: "This gateway does not support steering; send the input with the next response.create instead.",
      },
      steer: { previous_response_id: parent.id, input },
    });
    socket.send({ type: "response.steer", previous_response_id: "resp_unknown", input: "hm" });
    expect(await socket.next()).toMatchObject({
      type: "response.steer.failed",
      steer: { previous_response_id: "resp_unknown", input: "hm" },
    });
    expect(socket.unread).toEqual([]);
    socket.close();
  });

  it("answers a steer of a response still running on its lane on that lane, stored or not", async () => {
    const socket = await RawSocket.open();
    for (const store of [false, true]) {
      const held = model("gate:1:2");
      socket.send({ type: "response.create", model: held, input: "x", store, stream_id: "work" });
      const created = await socket.next("work");
      const id = (created?.response as { id: string }).id;
      socket.send({ type: "response.steer", previous_response_id: id, input: "also this" });
      // Read from every lane: the answer must come, on the target's lane.
      let answer = await socket.next();
      while (answer?.type.startsWith("response.steer") === false) answer = await socket.next();
      expect(answer).toMatchObject({
        type: "response.steer.failed",
        stream_id: "work",
        steer: { previous_response_id: id, input: "also this" },
      });
      await upstream.release(held);
      expect((await socket.request("work")).at(-1)?.type).toBe("response.completed");
    }
    expect(socket.unread).toEqual([]);
    socket.close();
  });

  it("closes with 1003 on a binary frame", async () => {
    const socket = await RawSocket.open();
    socket.send(new TextEncoder().encode('{"type":"response.create"}').buffer);
    expect(await socket.closed).toEqual({ code: 1003, reason: "Binary frames are not supported; send JSON text." });
  });

  it("closes with 1009 on a frame over the size cap (MAX_REQUEST_BYTES)", async () => {
    const socket = await RawSocket.open({ overrides: { MAX_REQUEST_BYTES: "4096" } });
    const m = model("text:1");
    socket.send({ type: "response.create", model: m, input: "x".repeat(5000) });
    expect(await socket.closed).toEqual({ code: 1009, reason: "Frame too large: the limit is 4096 bytes." });
    expect(await upstream.requests(m)).toEqual([]);
  });
});

describe("a response that fails mid-stream", () => {
  it("ends with response.failed alone (its in-stream error stays off the socket), and the next request is unaffected", async () => {
    const socket = await RawSocket.open();
    const failed = await socket.create({ model: model("cut-after:5"), input: "x" });
    expect(failed.at(-1)).toMatchObject({ type: "response.failed", response: { status: "failed" } });
    expect(failed.some((event) => event.type === "error")).toBe(false);
    const next = await socket.create({ model: model("text:3"), input: "y" });
    socket.close();
    expect(next[0]?.type).toBe("response.created");
    expect(finalResponse(next).output).toHaveLength(1);
    expect(JSON.stringify(finalResponse(next).output)).toContain(words(3).trim());
  });
});
