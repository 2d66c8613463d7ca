/** The one backoff of the store's retry loops: exponential, capped, full jitter. */
import { describe, expect, it } from "vitest";
import { jitteredDelay } from "../../../functions/store/backoff.ts";

const SAMPLES = 2000;
const draw = (attempt: number, baseMs: number, capMs: number) =>
  Array.from({ length: SAMPLES }, () => jitteredDelay(attempt, { baseMs, capMs }));

describe("jitteredDelay", () => {
  it("waits less than base × 2^attempt, and less than the cap once that is larger", () => {
    for (let attempt = 0; attempt <= 12; attempt++) {
      const waits = draw(attempt, 10, 200);
      expect(Math.min(...waits)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...waits)).toBeLessThan(Math.min(200, 10 * 2 ** attempt));
    }
  });

  it("spreads the waits over the whole range (full jitter, not a fixed wait)", () => {
    const waits = draw(3, 10, 200);
    // 2000 uniform draws from [0, 80): each tenth of the range is hit.
    const tenths = new Set(waits.map((ms) => Math.floor(ms / 8)));
    expect(tenths.size).toBe(10);
  });
});
