/**
 * The metering path's text, written without the general-purpose calls it
 * replaces: isoString is Date#toISOString, fastPlanText is JSON.stringify of
 * the fast plan. Each compared with the original over arbitrary inputs.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fastPlanText } from "../../../functions/store/meter.ts";
import { isoString } from "../../../policies/windows.ts";

const MAX_MS = 8.64e15;

describe("isoString", () => {
  it("is toISOString for any sequence of times (near each other, far apart, any year)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.integer({ min: -MAX_MS, max: MAX_MS }),
            fc.integer({ min: 1_790_000_000_000, max: 1_790_000_600_000 }),
            fc.constantFrom(0, -1, 59_999, 60_000, -60_000, -60_001, MAX_MS, -MAX_MS),
          ),
          { minLength: 1, maxLength: 40 },
        ),
        (times) => {
          for (const ms of times) expect(isoString(new Date(ms))).toBe(new Date(ms).toISOString());
        },
      ),
      { numRuns: 500 },
    );
  });

  it("walks a minute millisecond by millisecond, and over its edges", () => {
    const start = Date.UTC(2026, 11, 31, 23, 59, 0);
    for (let ms = start - 5; ms < start + 60_005; ms += 7) {
      expect(isoString(new Date(ms))).toBe(new Date(ms).toISOString());
    }
  });

  it("refuses an invalid date as toISOString does", () => {
    expect(() => isoString(new Date(Number.NaN))).toThrow(RangeError);
    const now = new Date();
    expect(isoString(now)).toBe(now.toISOString());
  });
});

describe("fastPlanText", () => {
  it("is JSON.stringify of the plan fastPlan makes", () => {
    const shard = fc.oneof(fc.nat({ max: 7 }), fc.integer(), fc.constant(undefined));
    fc.assert(
      fc.property(
        fc.nat({ max: 7 }),
        shard,
        shard,
        fc.oneof(fc.nat(), fc.double()),
        (rollup, day, monthShard, records) => {
          const plan = {
            rollup,
            day,
            month: monthShard === undefined ? undefined : { [monthShard]: records },
          };
          expect(fastPlanText(rollup, day, monthShard, records)).toBe(JSON.stringify(plan));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
