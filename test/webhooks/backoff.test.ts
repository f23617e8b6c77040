import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_RETRY_DELAY_MS, retryDelayMs } from "../../src/webhooks/backoff";

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
});
