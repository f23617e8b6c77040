// The lane scheduler on its own: FIFO within a lane, lanes side by side, at most 16 running at
// once (and MAX_RUNNING_BYTES of frames) with the rest queued in arrival order, a bounded queue, and
// dropped jobs told so.

import { describe, expect, it } from "vitest";
import { LaneScheduler } from "../../src/ws/lanes";
import { MAX_IN_FLIGHT, MAX_QUEUED_BYTES, MAX_RUNNING_BYTES } from "../../src/ws/limits";

/** A job that runs until `finish()` is called; `log` records starts and ends in order. */
function job(lane: string, name: string, log: string[], bytes = 1) {
  let finish: () => void = () => undefined;
  const dropped: string[] = [];
  const spec = {
    lane,
    bytes,
    run: () => {
      log.push(`start ${name}`);
      return new Promise<void>((resolve) => {
        finish = () => {
          log.push(`end ${name}`);
          resolve();
        };
      });
    },
    drop: () => dropped.push(name),
  };
  return { spec, finish: () => finish(), dropped };
}

/** Lets the scheduler's promise callbacks run. */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe("the lane scheduler", () => {
  it("runs a lane's jobs one at a time in order, and other lanes beside them", async () => {
    const log: string[] = [];
    let idle = 0;
    const lanes = new LaneScheduler(() => idle++);
    const a1 = job("a", "a1", log);
    const a2 = job("a", "a2", log);
    const b1 = job("b", "b1", log);
    lanes.enqueue(a1.spec);
    lanes.enqueue(a2.spec);
    lanes.enqueue(b1.spec);
    expect(log).toEqual(["start a1", "start b1"]);
    b1.finish();
    await settle();
    expect(log).toEqual(["start a1", "start b1", "end b1"]);
    a1.finish();
    await settle();
    expect(log).toEqual(["start a1", "start b1", "end b1", "end a1", "start a2"]);
    expect(idle).toBe(0);
    a2.finish();
    await settle();
    expect(idle).toBe(1);
    expect(lanes.idle).toBe(true);
  });

  it(`runs at most ${MAX_IN_FLIGHT} at once; the next waiting job starts as one ends`, async () => {
    const log: string[] = [];
    const lanes = new LaneScheduler(() => undefined);
    const jobs = Array.from({ length: MAX_IN_FLIGHT + 2 }, (_, i) => job(`lane${i}`, `j${i}`, log));
    for (const { spec } of jobs) expect(lanes.enqueue(spec)).toBe(true);
    expect(log).toHaveLength(MAX_IN_FLIGHT);
    expect(lanes.activeLanes.size).toBe(MAX_IN_FLIGHT + 2);
    jobs[3]?.finish();
    await settle();
    expect(log.slice(MAX_IN_FLIGHT)).toEqual(["end j3", `start j${MAX_IN_FLIGHT}`]);
  });

  it("refuses a job past the queue's byte budget, but always takes one into an empty queue", async () => {
    const log: string[] = [];
    const lanes = new LaneScheduler(() => undefined);
    const running = Array.from({ length: MAX_IN_FLIGHT }, (_, i) => job(`r${i}`, `r${i}`, log));
    for (const { spec } of running) lanes.enqueue(spec);
    // Waiting: one job as big as the whole budget is accepted into the empty queue.
    expect(lanes.enqueue(job("w", "big", log, MAX_QUEUED_BYTES + 10).spec)).toBe(true);
    expect(lanes.enqueue(job("w", "small", log, 1).spec)).toBe(false);
    // The big one runs once the others have ended (it is over the running bytes' budget).
    for (const { finish } of running) finish();
    await settle();
    expect(log.slice(-1)).toEqual(["start big"]);
    expect(lanes.enqueue(job("w", "small", log, 1).spec)).toBe(true);
  });

  it("runs at most MAX_RUNNING_BYTES of frames at once; a big frame waits its turn, and runs alone", async () => {
    const log: string[] = [];
    const lanes = new LaneScheduler(() => undefined);
    const half = MAX_RUNNING_BYTES / 2;
    const a = job("a", "a", log, half);
    const b = job("b", "b", log, half);
    const c = job("c", "c", log, half);
    const d = job("d", "d", log, 1);
    const huge = job("e", "huge", log, MAX_RUNNING_BYTES * 2);
    for (const { spec } of [a, b, c, d]) expect(lanes.enqueue(spec)).toBe(true);
    // c would pass the budget: it waits, and d, behind it, waits too.
    expect(log).toEqual(["start a", "start b"]);
    a.finish();
    await settle();
    expect(log).toEqual(["start a", "start b", "end a", "start c"]);
    b.finish();
    await settle();
    expect(log.slice(-2)).toEqual(["end b", "start d"]);
    expect(lanes.enqueue(huge.spec)).toBe(true);
    for (const done of [c, d]) done.finish();
    await settle();
    // With nothing else running, a frame over the budget runs alone.
    expect(log.slice(-1)).toEqual(["start huge"]);
  });

  it("drops waiting jobs (each told once its lane's running job ends), and lets running ones finish", async () => {
    const log: string[] = [];
    let idle = 0;
    const lanes = new LaneScheduler(() => idle++);
    const running = job("a", "a1", log);
    const waiting = job("a", "a2", log);
    const free = job("b", "b1", log);
    lanes.enqueue(running.spec);
    lanes.enqueue(waiting.spec);
    // b1 waits for a slot, not for a lane (the in-flight cap is reached).
    const filler = Array.from({ length: MAX_IN_FLIGHT - 1 }, (_, i) => job(`f${i}`, `f${i}`, log));
    for (const f of filler) lanes.enqueue(f.spec);
    lanes.enqueue(free.spec);
    lanes.dropWaiting();
    // b's lane runs nothing: told at once. a2's refusal would land amid a1's events: told after them.
    expect(free.dropped).toEqual(["b1"]);
    expect(waiting.dropped).toEqual([]);
    running.finish();
    await settle();
    expect(waiting.dropped).toEqual(["a2"]);
    expect(log.slice(-1)).toEqual(["end a1"]);
    for (const f of filler) f.finish();
    await settle();
    expect(idle).toBe(1);
  });

  it("tells what follows a lane (a refused create) after the lane's running and waiting jobs, at once on a free lane", async () => {
    const log: string[] = [];
    const lanes = new LaneScheduler(() => undefined);
    const a1 = job("a", "a1", log);
    const a2 = job("a", "a2", log);
    lanes.enqueue(a1.spec);
    lanes.enqueue(a2.spec);
    lanes.afterLane("a", () => log.push("refused a3"));
    lanes.afterLane("b", () => log.push("refused b1"));
    expect(log).toEqual(["start a1", "refused b1"]);
    a1.finish();
    await settle();
    a2.finish();
    await settle();
    expect(log).toEqual(["start a1", "refused b1", "end a1", "start a2", "end a2", "refused a3"]);
  });

  it("drops every waiting job at once when asked (the connection is closing)", () => {
    const lanes = new LaneScheduler(() => undefined);
    const running = job("a", "a1", []);
    const waiting = job("a", "a2", []);
    lanes.enqueue(running.spec);
    lanes.enqueue(waiting.spec);
    lanes.dropWaiting(undefined, true);
    expect(waiting.dropped).toEqual(["a2"]);
  });
});
