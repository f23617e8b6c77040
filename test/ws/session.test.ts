// The socket session against a scripted create path (no Worker, no upstream): what it sends when a
// turn's stream ends without a terminal event (a cancelled run: `response_cancelled`), when the
// create path answers something that is not its JSON envelope, that in-stream errors stay off the socket,
// and that a stream cut by a storage fault ends with HTTP's status for it.

import { describe, expect, it } from "vitest";
import { ResponsesSocket } from "../../src/ws/session";
import { encodeFrame, SSE_HEADERS } from "../../src/sse";

const sse = (events: Record<string, unknown>[]) =>
  new Response(events.map((event) => encodeFrame(String(event.type), JSON.stringify(event))).join(""), {
    headers: SSE_HEADERS,
  });

const created = { type: "response.created", sequence_number: 0, response: { id: "resp_1", status: "in_progress" } };

/** A session whose create path answers `post`, and whose retrieve answers `status`; returns what it sent. */
function session(post: () => Response, status: string | null = null) {
  const sent: Record<string, unknown>[] = [];
  const closes: number[] = [];
  let onSent: (() => void) | undefined;
  const socket = new ResponsesSocket(
    {
      send: (text) => {
        sent.push(JSON.parse(text) as Record<string, unknown>);
        onSent?.();
      },
      close: (code) => closes.push(code),
    },
    {
      gateway: (request) =>
        Promise.resolve(
          request.method === "POST"
            ? post()
            : status === null
              ? new Response(null, { status: 404 })
              : Response.json({ id: "resp_1", status }),
        ),
      origin: new URL("http://gateway.test/v1/responses"),
      credentials: new Headers({ authorization: "Bearer sk-test" }),
      maxFrameBytes: 1 << 20,
      maxConnectionMs: 60_000,
    },
  );
  /** Sends a create; resolves with what was sent once the request ended. */
  const create = (body: Record<string, unknown>) =>
    new Promise<Record<string, unknown>[]>((resolve) => {
      onSent = () => {
        const last = sent.at(-1);
        if (
          last &&
          ["error", "response.completed", "response.failed", "response.incomplete"].includes(String(last.type))
        )
          resolve([...sent]);
      };
      socket.receive(JSON.stringify({ type: "response.create", model: "m", ...body }));
    });
  return { socket, create, closes };
}

describe("the socket session", () => {
  it("ends a request whose run was cancelled with an error event, code response_cancelled", async () => {
    const { socket, create } = session(() => sse([created]), "cancelled");
    expect(await create({ stream_id: "x" })).toEqual([
      { ...created, stream_id: "x" },
      {
        type: "error",
        status: 400,
        stream_id: "x",
        error: {
          type: "invalid_request_error",
          code: "response_cancelled",
          message: "Response 'resp_1' was cancelled.",
          param: null,
        },
      },
    ]);
    socket.disconnected();
  });

  it("ends a request whose stream stopped for another reason with a server_error", async () => {
    const { socket, create } = session(() => sse([created]), "in_progress");
    const sent = await create({});
    expect(sent.at(-1)).toEqual({
      type: "error",
      status: 500,
      error: {
        type: "server_error",
        code: "server_error",
        message: "The response stream ended before the response was complete.",
        param: null,
      },
    });
    socket.disconnected();
  });

  it("turns an answer that is not the envelope into an error event with its status", async () => {
    const { socket, create } = session(() => new Response("<html>bad gateway</html>", { status: 502 }));
    expect(await create({})).toEqual([
      {
        type: "error",
        status: 502,
        error: {
          type: "server_error",
          code: null,
          message: "The request failed with status 502.",
          param: null,
        },
      },
    ]);
    socket.disconnected();
  });

  it("never sends an in-stream error: the request ends with its one terminal event, or with that error", async () => {
    const error = { type: "error", sequence_number: 1, code: "x", message: "hiccup", param: null };
    const completed = { type: "response.completed", sequence_number: 2, response: { id: "resp_1", output: [] } };
    const survived = session(() => sse([created, error, completed]));
    expect((await survived.create({})).map((event) => event.type)).toEqual(["response.created", "response.completed"]);
    survived.socket.disconnected();
    const failed = { type: "response.failed", sequence_number: 2, response: { id: "resp_1", output: [] } };
    const ended = session(() => sse([created, error, failed]));
    expect((await ended.create({})).map((event) => event.type)).toEqual(["response.created", "response.failed"]);
    ended.socket.disconnected();
    const cut = session(() => sse([created, error]));
    expect((await cut.create({})).at(-1)).toEqual({
      type: "error",
      status: 500,
      error: { type: "server_error", code: "x", message: "hiccup", param: null },
    });
    cut.socket.disconnected();
  });

  it("ends a stream cut by a storage fault with the status and headers HTTP answers that fault with", async () => {
    const fault = (code: string) => ({ type: "error", sequence_number: 1, code, message: "told", param: null });
    // A refused end (or start): HTTP's 503 with retry-after, which Codex waits for before retrying.
    const refused = session(() => sse([created, fault("storage_unavailable")]));
    expect((await refused.create({ stream_id: "x" })).at(-1)).toEqual({
      type: "error",
      status: 503,
      stream_id: "x",
      error: {
        type: "server_error",
        code: "storage_unavailable",
        message: "told",
        param: null,
        headers: { "retry-after": "1" },
      },
    });
    refused.socket.disconnected();
    // A missing migration: a 500 that asks not to be retried, as over HTTP.
    const unmigrated = session(() => sse([created, fault("database_not_migrated")]));
    const last = (await unmigrated.create({})).at(-1);
    expect(last).toMatchObject({ status: 500, error: { headers: { "x-should-retry": "false" } } });
    unmigrated.socket.disconnected();
  });
});
