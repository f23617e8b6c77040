// The body of a stored foreground stream as its client reads it (src/stream/client-stream.ts): frames
// reach a reading client in order; a send the client is not taking is let go when the run is stopped,
// and every send after that returns at once; a client that cancels the body is noticed as gone.

import { describe, expect, it } from "vitest";
import { ClientStream } from "../../src/stream/client-stream";

describe("ClientStream", () => {
  it("delivers each send's text, in order, to a client that reads", async () => {
    const stream = new ClientStream(new AbortController().signal, () => undefined);
    const reading = new Response(stream.readable).text();
    for (const text of ["event: a\n\n", "event: b\n\n", "event: c\n\n"]) await stream.send(text);
    await stream.close();
    expect(await reading).toBe("event: a\n\nevent: b\n\nevent: c\n\n");
  });

  it("lets a send the client is not taking go when the run is stopped, and sends after it return at once", async () => {
    const stop = new AbortController();
    let gone = 0;
    const stream = new ClientStream(stop.signal, () => gone++);
    // Nobody reads the body: the write waits for a reader that never comes.
    const waiting = stream.send("event: a\n\n").then(() => "let go");
    expect(await Promise.race([waiting, Promise.resolve("waiting")])).toBe("waiting");
    stop.abort();
    expect(await waiting).toBe("let go");
    await stream.send("event: b\n\n");
    // Stopped is not gone: the run ends its stream itself.
    expect(gone).toBe(0);
    expect(stream.connected).toBe(true);
  });

  it("notices a client that cancels the body, once", async () => {
    let gone = 0;
    const stream = new ClientStream(new AbortController().signal, () => gone++);
    await stream.readable.cancel();
    await stream.send("event: a\n\n");
    await stream.send("event: b\n\n");
    expect(stream.connected).toBe(false);
    expect(gone).toBe(1);
  });
});
