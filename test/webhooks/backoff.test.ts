import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { afterAttempt, MAX_RETRY_DELAY_MS, retryDelayMs } from "../../src/webhooks/backoff";

describe("webhook retry backoff", () => {
  it("doubles from the base, jittered into the upper half, and never exceeds an hour", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 600_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (failures, base, r) => {
          const full = Math.min(base * 2 ** Math.min(failures - 1, 40), MAX_RETRY_DELAY_MS);
          const delay = retryDelayMs(failures, base, () => r);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(full / 2));
          expect(delay).toBeLessThanOrEqual(Math.ceil(full));
          expect(delay).toBeLessThanOrEqual(MAX_RETRY_DELAY_MS);
        },
      ),
    );
  });

  it("with the default 5 s base: 2.5-5 s, then 5-10 s, ..., reaching the one-hour cap after 11 failures", () => {
    expect(retryDelayMs(1, 5000, () => 0)).toBe(2500);
    expect(retryDelayMs(1, 5000, () => 0.999999)).toBe(5000);
    expect(retryDelayMs(2, 5000, () => 0)).toBe(5000);
    expect(retryDelayMs(10, 5000, () => 0)).toBe((5000 * 2 ** 9) / 2);
    expect(retryDelayMs(11, 5000, () => 0)).toBe(MAX_RETRY_DELAY_MS / 2);
    expect(retryDelayMs(500, 5000, () => 0)).toBe(MAX_RETRY_DELAY_MS / 2);
  });

  it("waits out a longer Retry-After up to the one-hour cap, never a shorter one, and never past the window", () => {
    const failed = (retryAfterMs: number | null) => ({ delivered: false, permanent: false, retryAfterMs });
    const now = 1_000_000;
    const far = now + 72 * MAX_RETRY_DELAY_MS;
    expect(afterAttempt(1, failed(30_000), now, far, 1000, () => 0)).toEqual({
      status: "pending",
      nextAttemptAt: now + 30_000,
    });
    expect(afterAttempt(1, failed(10), now, far, 1000, () => 0)).toEqual({
      status: "pending",
      nextAttemptAt: now + 500,
    });
    expect(afterAttempt(1, failed(1e15), now, far, 1000, () => 0)).toEqual({
      status: "pending",
      nextAttemptAt: now + MAX_RETRY_DELAY_MS,
    });
    // A wait that would end after the delivery's window gives it up now rather than parking it.
    expect(afterAttempt(1, failed(1e15), now, now + MAX_RETRY_DELAY_MS - 1, 1000, () => 0)).toEqual({
      status: "failed",
      nextAttemptAt: null,
    });
  });
});
