// A client that pauses reading a stream: the time the gateway waits on it is not upstream silence,
// so UPSTREAM_IDLE_TIMEOUT_MS never ends a response whose upstream kept talking.

import { describe, expect, it } from "vitest";
import { GATEWAY_URL, model, readEvents } from "../support/gateway";
import { managedFetch } from "../support/managed";

/** Short enough that the pause below is several idle periods; the upstream sends every 40 ms. */
const IDLE_TIMEOUT_MS = 300;
const PAUSE_MS = 5 * IDLE_TIMEOUT_MS;
const PASSTHROUGH = { AUTH_MODE: "passthrough", UPSTREAM_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS) };

describe("a client that pauses reading", () => {
  it.each([
    ["store: false", false],
    ["stored", true],
  ])("still gets the whole %s stream when the upstream never went silent", async (_name, store) => {
    const res = await managedFetch(
      `${GATEWAY_URL}/responses`,
      {
        method: "POST",
        headers: { authorization: "Bearer sk-test-slow-reader", "content-type": "application/json" },
        body: JSON.stringify({ model: model("paced:40:30"), input: "x", stream: true, store }),
      },
      PASSTHROUGH,
    );
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    // The slow reader: it reads nothing for several idle periods while the upstream keeps streaming.
    await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
    const rest = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(first.value);
      },
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
    });
    const events = await readEvents(rest);
    expect(events.filter((event) => event.type === "error")).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: "response.completed" });
    expect(events.filter((event) => event.type === "response.output_text.delta")).toHaveLength(30);
  });
});
