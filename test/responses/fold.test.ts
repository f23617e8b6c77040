import { describe, expect, it } from "vitest";
import { GrammarError, ResponseFold, foldEvents } from "../../src/responses/fold";
import type { StreamEvent } from "../../src/responses/types";
import { fixtureEvents, splitResponses } from "../support/fixtures";

const recordings = [
  "responses/azure-text.1.chunks.txt",
  "responses/azure-tool-call.1.chunks.txt",
  "responses/openai-web-search-tool.1.chunks.txt",
  "responses/openai-error.1.chunks.txt",
];

describe("fold", () => {
  it.each(recordings)("folds %s to its terminal event's response", (path) => {
    const events = fixtureEvents(path) as StreamEvent[];
    const terminal = events.at(-1) as StreamEvent;
    expect(foldEvents(events)).toEqual(terminal.response);
  });

  it("folds each of four chained reasoning responses", () => {
    const runs = splitResponses(fixtureEvents("responses/openai-reasoning-encrypted-content.1.chunks.txt"));
    expect(runs).toHaveLength(4);
    for (const run of runs) expect(foldEvents(run as StreamEvent[])).toEqual((run.at(-1) as StreamEvent).response);
  });

  it("builds partial output from deltas before any terminal event", () => {
    const events = fixtureEvents("responses/azure-text.1.chunks.txt") as StreamEvent[];
    const fold = new ResponseFold();
    for (const event of events.slice(0, -3)) fold.apply(event);
    const message = fold.snapshot?.output[0] as unknown as { content: { text: string }[] };
    expect(message.content[0]?.text).toBe("Hello");
    expect([...fold.openItems]).toEqual([0]);
  });

  it("rejects a stream that does not start with response.created", () => {
    const events = fixtureEvents("responses/azure-text.1.chunks.txt") as StreamEvent[];
    expect(() => foldEvents(events.slice(1))).toThrow(GrammarError);
  });

  it("rejects a delta for an item that was never added", () => {
    const [created] = fixtureEvents("responses/azure-text.1.chunks.txt") as StreamEvent[];
    const fold = new ResponseFold();
    fold.apply(created as StreamEvent);
    expect(() =>
      fold.apply({
        type: "response.output_text.delta",
        item_id: "msg_1",
        output_index: 0,
        content_index: 0,
        delta: "x",
      }),
    ).toThrow("missing output at index 0");
  });

  it("rejects unknown event types", () => {
    const [created] = fixtureEvents("responses/azure-text.1.chunks.txt") as StreamEvent[];
    const fold = new ResponseFold();
    fold.apply(created as StreamEvent);
    expect(() => fold.apply({ type: "response.custom_thing" })).toThrow("unknown event type");
  });
});
