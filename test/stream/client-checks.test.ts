// The lists of runs a create may ask to test their client (src/stream/client-checks.ts): a run that let
// go by itself answers at once, without waiting for its once-a-second pickup.
import { describe, expect, it, vi } from "vitest";
import { CheckableRun, ClientChecks } from "../../src/stream/client-checks";

describe("client checks", () => {
  it("answers a create at once once the run let go by itself, and every later one too", async () => {
    const checks = new ClientChecks();
    let asked = 0;
    // A check that never answers: only the run's own letting go can.
    const run = new CheckableRun("resp_a", () => {
      asked++;
      return new Promise<boolean>(() => undefined);
    });
    const unlist = checks.note("t", "conv_a", run);
    const waiting = checks.check("t", "conv_a", "resp_b");
    run.letGo();
    expect(await waiting).toBe(true);
    expect(await checks.check("t", "conv_a", "resp_c")).toBe(true);
    // Answered by the run's letting go: its pickup never asked its client.
    expect(asked).toBe(0);
    unlist();
    run.end();
  });

  it("answers a create whose question the run's pickup took when the run ends before its check does", async () => {
    // Live (recheck7): a holder's stream ended while the check it had picked up was still out (that
    // check never answered), and the create waited out all of CHECK_WAIT_MS, then was refused.
    vi.useFakeTimers({ toFake: ["setTimeout", "setInterval", "clearInterval", "clearTimeout", "Date"] });
    try {
      const checks = new ClientChecks();
      let asked = 0;
      const run = new CheckableRun("resp_a", () => {
        asked++;
        return new Promise<boolean>(() => undefined);
      });
      const unlist = checks.note("t", "conv_a", run);
      let answer: boolean | undefined;
      const waiting = checks.check("t", "conv_a", "resp_b").then((letGo) => (answer = letGo));
      await vi.advanceTimersByTimeAsync(1_000);
      expect(asked).toBe(1);
      unlist();
      run.end();
      // The next answer poll, not the 2.5 s cap.
      await vi.advanceTimersByTimeAsync(200);
      expect(answer).toBe(true);
      await vi.advanceTimersByTimeAsync(3_000);
      await waiting;
    } finally {
      vi.useRealTimers();
    }
  });

  it("does not ask a run on behalf of itself, nor a run not listed", async () => {
    const checks = new ClientChecks();
    const run = new CheckableRun("resp_a", () => Promise.resolve(true));
    const unlist = checks.note("t", "conv_a", run);
    expect(await checks.check("t", "conv_a", "resp_a")).toBe(false);
    expect(await checks.check("t", "conv_other", "resp_b")).toBe(false);
    expect(await checks.check("other", "conv_a", "resp_b")).toBe(false);
    unlist();
    run.end();
  });
});
