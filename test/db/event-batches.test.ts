// The packed text of a batch of events: frames leave out their sequence numbers where their place
// gives them, and every frame comes back exactly as it was sent, in batches written before too.

import { describe, expect, it } from "vitest";
import { packEvents, unpackEvents, type RecordedEvent } from "../../src/db/event-batches";
import { compressText } from "../../src/db/codec";
import { encodeFrame } from "../../src/sse";

const delta = (seq: number, text: string): string =>
  encodeFrame(
    "response.output_text.delta",
    JSON.stringify({
      type: "response.output_text.delta",
      sequence_number: seq,
      item_id: "msg_1",
      output_index: 0,
      content_index: 0,
      delta: text,
      logprobs: [],
    }),
  );

const recorded = (frames: string[], firstSeq = 7): RecordedEvent[] =>
  frames.map((frame, index) => ({ seq: firstSeq + index, frame, at: 1_700_000_000_000 + index * 10 }));

describe("packed events", () => {
  it("gives back every frame as sent, whatever its sequence number says or where it stands", () => {
    const events = recorded([
      delta(7, "plain"),
      // The text repeats the field, quotes escaped: only the frame's own field is left out.
      delta(8, '"sequence_number":8, and "sequence_number":,'),
      // The number last in its object (no comma after it) is kept as it is.
      encodeFrame("error", JSON.stringify({ type: "error", message: "x", sequence_number: 9 })),
      encodeFrame("response.completed", JSON.stringify({ type: "response.completed", sequence_number: 10 })),
    ]);
    const text = packEvents(events);
    expect(text.match(/"sequence_number":\d+[,}]/g)).toEqual(['"sequence_number":9}', '"sequence_number":10}']);
    expect(unpackEvents(text, 7)).toEqual(events);
  });

  it("keeps the numbers of frames after a gap (a recovered end numbered past events that were lost)", () => {
    const events = [
      ...recorded([delta(7, "a"), delta(8, "b")]),
      { seq: 1000, frame: delta(1000, '"sequence_number":5, lost'), at: 1_700_000_000_020 },
      {
        seq: 1001,
        frame: encodeFrame("response.failed", JSON.stringify({ type: "response.failed", sequence_number: 1001 })),
        at: 1_700_000_000_030,
      },
    ];
    expect(unpackEvents(packEvents(events), 7)).toEqual(events);
  });

  it("reads batches written before sequence numbers were left out", () => {
    const events = recorded([delta(3, "a"), delta(4, "b")], 3);
    const before = `${events[0]!.at},10\n${events.map((event) => event.frame).join("")}`;
    expect(unpackEvents(before, 3)).toEqual(events);
  });

  it("compresses 1,000 text deltas to less than 60% of what their numbered frames take", () => {
    const events = recorded(
      Array.from({ length: 1000 }, (_, i) => delta(i, `word ${i % 50} `)),
      0,
    );
    const numbered = `${events[0]!.at}${",10".repeat(999)}\n${events.map((event) => event.frame).join("")}`;
    const [packed, plain] = [compressText(packEvents(events)), compressText(numbered)];
    expect(packed.byteLength).toBeLessThan(plain.byteLength * 0.6);
  });
});
