// The lists of runs a create may ask to test their client (src/stream/client-checks.ts): a run that let
// go by itself answers at once, without waiting for its once-a-second pickup.
import { describe, expect, it } from "vitest";
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
