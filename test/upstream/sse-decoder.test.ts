// The SSE decoder of upstream bodies: an event over the size cap is refused whether it arrives
// whole in one network chunk or split over many, and the events before it are kept.

import { describe, expect, it } from "vitest";
import { SseDecoder, UpstreamEventTooLarge } from "../../src/sse";

const bytes = (text: string) => new TextEncoder().encode(text);
const frame = (data: string) => `event: x\ndata: ${data}\n\n`;

describe("SseDecoder size cap", () => {
  it("refuses an oversized event that arrives whole in one chunk, after the events before it", () => {
    const decoder = new SseDecoder(100);
    const first = decoder.feed(bytes(frame("small") + frame("y".repeat(101)) + frame("after")));
    expect(first).toEqual([{ event: "x", data: "small" }]);
    expect(() => decoder.feed(bytes(frame("more")))).toThrow(UpstreamEventTooLarge);
    expect(() => decoder.end()).toThrow("The upstream sent an event larger than 100 bytes.");
  });

  it("refuses an oversized event split over many chunks", () => {
    const decoder = new SseDecoder(100);
    expect(decoder.feed(bytes(frame("small")))).toHaveLength(1);
    const text = frame("y".repeat(150));
    expect(() => {
      for (let i = 0; i < text.length; i += 10) decoder.feed(bytes(text.slice(i, i + 10)));
    }).toThrow(UpstreamEventTooLarge);
  });

  it("accepts an event of exactly the cap", () => {
    const decoder = new SseDecoder(100);
    expect(decoder.feed(bytes(frame("y".repeat(100))))).toEqual([{ event: "x", data: "y".repeat(100) }]);
    expect(decoder.end()).toEqual([]);
  });
});

describe("SseDecoder error lines", () => {
  it("reads llama.cpp's `error: {...}` line as an error event, in order", () => {
    const error =
      '{"code":400,"message":"the request exceeds the available context size","type":"exceed_context_size_error"}';
    const decoder = new SseDecoder();
    expect(decoder.feed(bytes(`data: {"a":1}\n\nerror: ${error}\n\ndata: [DONE]\n\n`))).toEqual([
      { data: '{"a":1}' },
      { event: "error", data: error },
      { data: "[DONE]" },
    ]);
  });

  it("still skips other fields SSE does not have", () => {
    expect(new SseDecoder().feed(bytes("foo: bar\n\ndata: x\n\n"))).toEqual([{ data: "x" }]);
  });
});
