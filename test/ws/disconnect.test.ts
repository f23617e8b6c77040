// A client that goes away while the upstream is silent (a model thinking): the run is told at once,
// not at its next write. A stored response runs on for the disconnect grace, then ends `cancelled`
// with what it has; a store:false one stops its upstream call at once.

import { describe, expect, it } from "vitest";
import { client, model, upstream } from "../support/gateway";
import { until } from "../support/hooks";
import { RawSocket } from "./support/frames";

const KEY = "sk-test-ws-disconnect";

/** Opens a socket, starts a held create, reads until its first output item, then closes the socket. */
async function leaveWhileHeld(body: Record<string, unknown>): Promise<string> {
  const socket = await RawSocket.open({ overrides: { DISCONNECT_GRACE_SECONDS: "1" } }, KEY);
  socket.send({ type: "response.create", input: "x", ...body });
  let id = "";
  for (;;) {
    const event = await socket.next();
    if (event?.type === "response.created") id = String((event.response as { id: string }).id);
    if (event === null || event.type === "response.output_text.delta") break;
  }
  socket.close();
  await socket.closed;
  return id;
}

describe("a WebSocket client that leaves while the upstream is silent", () => {
  it("a stored response ends cancelled once the grace runs out, its partial output kept", async () => {
    // gate:5:6 sends w0, then holds the stream (comments only) until released.
    const m = model("gate:5:6");
    const id = await leaveWhileHeld({ model: m });
    const ended = await until(
      () => client(KEY).responses.retrieve(id),
      (response) => response.status !== "in_progress",
      "the run to end",
    );
    expect(ended).toMatchObject({ status: "cancelled", output_text: "w0 " });
    expect(await upstream.closedEarly(m)).toBe(1);
    await upstream.release(m);
  });

  it("a store:false response stops its upstream call at once", async () => {
    const m = model("gate:5:6");
    await leaveWhileHeld({ model: m, store: false });
    await until(
      () => upstream.closedEarly(m),
      (closed) => closed === 1,
      "the upstream call to stop",
    );
    await upstream.release(m);
  });
});
