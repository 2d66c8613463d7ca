/**
 * The arithmetic under the meter, without a store: the largest-remainder
 * split, the value of an exchange, quota budgets per shard, and the spread of
 * a need over shards.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { spread } from "../../../functions/store/meter.ts";
import { shardOf } from "../../../functions/store/meter-keys.ts";
import { exchangeValue, splitByShares, TOTAL_BPS } from "../../../policies/money.ts";
import {
  hoursBetween,
  nextDayStart,
  nextMonthStart,
  secondsUntil,
  shardBudget,
} from "../../../policies/windows.ts";

const shares = (...bps: number[]) => bps.map((b, i) => ({ partner: `p${i}`, bps: b }));

/** Random value shares: 1 to 20 positive parts summing to 10000 bps. */
const arbShares = fc
  .uniqueArray(fc.integer({ min: 1, max: TOTAL_BPS - 1 }), { maxLength: 19 })
  .map((cuts) => {
    const points = [0, ...[...cuts].sort((a, b) => a - b), TOTAL_BPS];
    return points.slice(1).map((p, i) => ({ partner: `p${i}`, bps: p - (points[i] ?? 0) }));
  });

describe("splitByShares (largest remainder, ties to the share listed first)", () => {
  it("gives the left-over micro-units to the largest remainders", () => {
    // 2000002 x 3333 / 10000 = 666600.6666, x 3334 = 666800.6668: floors sum to
    // 2000000, so 2 are left: the largest remainder (6668, the third) and, of
    // the two equal ones (6666), the first listed.
    expect(splitByShares(2_000_002, shares(3333, 3333, 3334)).map((p) => p.amount)).toEqual([
      666_601, 666_600, 666_801,
    ]);
    // 1 micro-unit over three equal-ish shares: the largest remainder wins.
    expect(splitByShares(1, shares(3333, 3334, 3333)).map((p) => p.amount)).toEqual([0, 1, 0]);
    // Exact tie everywhere: the first listed wins, then the next.
    expect(splitByShares(2, shares(2500, 2500, 2500, 2500)).map((p) => p.amount)).toEqual([
      1, 1, 0, 0,
    ]);
    expect(splitByShares(0, shares(5000, 5000)).map((p) => p.amount)).toEqual([0, 0]);
    expect(splitByShares(7, shares(10_000))).toEqual([{ partner: "p0", amount: 7 }]);
  });

  it("refuses shares that do not sum to 10000 and amounts that are not micro-units", () => {
    expect(() => splitByShares(10, shares(5000, 4000))).toThrow(RangeError);
    expect(() => splitByShares(-1, shares(10_000))).toThrow(RangeError);
    expect(() => splitByShares(1.5, shares(10_000))).toThrow(RangeError);
  });

  it("property: parts sum to the amount, each within one micro-unit, extras by largest remainder", () => {
    fc.assert(
      fc.property(
        arbShares,
        fc.maxSafeInteger().filter((n) => n >= 0),
        (ss, amount) => {
          const parts = splitByShares(amount, ss);
          expect(parts.map((p) => p.partner)).toEqual(ss.map((s) => s.partner));
          expect(parts.reduce((n, p) => n + BigInt(p.amount), 0n)).toBe(BigInt(amount));
          const exact = ss.map((s) => BigInt(amount) * BigInt(s.bps));
          const floors = exact.map((e) => e / BigInt(TOTAL_BPS));
          const rests = exact.map((e) => e % BigInt(TOTAL_BPS));
          const extra = parts.map((p, i) => BigInt(p.amount) - (floors[i] ?? 0n));
          for (const x of extra) expect(x === 0n || x === 1n).toBe(true);
          // Whoever got an extra unit ranks before whoever did not.
          for (let i = 0; i < ss.length; i++) {
            for (let j = 0; j < ss.length; j++) {
              if (extra[i] === 1n && extra[j] === 0n) {
                const ri = rests[i] ?? 0n;
                const rj = rests[j] ?? 0n;
                expect(ri > rj || (ri === rj && i < j)).toBe(true);
              }
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("property: earned equals paid when many flows are split and summed per partner", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(arbShares, fc.integer({ min: 0, max: 10 ** 12 })), { maxLength: 30 }),
        (flows) => {
          const earned = new Map<string, number>();
          let paid = 0;
          for (const [ss, amount] of flows) {
            paid += amount;
            for (const p of splitByShares(amount, ss))
              earned.set(p.partner, (earned.get(p.partner) ?? 0) + p.amount);
          }
          expect([...earned.values()].reduce((a, b) => a + b, 0)).toBe(paid);
        },
      ),
    );
  });
});

describe("exchangeValue", () => {
  it("is perRequest + perRecord x records, and refuses to lose precision", () => {
    expect(exchangeValue({ currency: "EUR", perRequest: 100, perRecord: 2000 }, 3)).toBe(6100);
    expect(exchangeValue({ currency: "EUR", perRequest: 5, perRecord: 0 }, 0)).toBe(5);
    expect(() =>
      exchangeValue({ currency: "EUR", perRequest: 0, perRecord: 2 ** 40 }, 2 ** 20),
    ).toThrow(RangeError);
  });
});

describe("quota shards", () => {
  it("property: budgets sum to the limit exactly and differ by at most one", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 ** 12 }),
        fc.integer({ min: 1, max: 64 }),
        (limit, n) => {
          const budgets = Array.from({ length: n }, (_, i) => shardBudget(limit, n, i));
          expect(budgets.reduce((a, b) => a + b, 0)).toBe(limit);
          expect(Math.max(...budgets) - Math.min(...budgets)).toBeLessThanOrEqual(1);
        },
      ),
    );
  });

  it("property: spread takes exactly the need, never more than a shard's room", () => {
    const arb = fc
      .array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 16 })
      .filter((rooms) => rooms.some((r) => r > 0))
      .chain((rooms) =>
        fc.tuple(fc.constant(rooms), fc.integer({ min: 1, max: rooms.reduce((a, b) => a + b, 0) })),
      );
    fc.assert(
      fc.property(arb, ([rooms, need]) => {
        const plan = spread(need, rooms);
        let taken = 0;
        for (const [shard, k] of Object.entries(plan)) {
          expect(k).toBeGreaterThan(0);
          expect(k).toBeLessThanOrEqual(rooms[Number(shard)] ?? 0);
          taken += k;
        }
        expect(taken).toBe(need);
      }),
    );
  });

  it("places an id on a stable shard", () => {
    expect(shardOf("abc", 16)).toBe(shardOf("abc", 16));
    const seen = new Set(Array.from({ length: 200 }, (_, i) => shardOf(`id-${i}`, 16)));
    expect(seen.size).toBe(16);
  });
});

describe("UTC windows", () => {
  it("ends days and months at UTC midnight and counts whole seconds up", () => {
    const t = new Date("2026-01-31T23:59:58.500Z");
    expect(nextDayStart(t).toISOString()).toBe("2026-02-01T00:00:00.000Z");
    expect(nextMonthStart(t).toISOString()).toBe("2026-02-01T00:00:00.000Z");
    expect(secondsUntil(t, nextDayStart(t))).toBe(2);
    expect(nextMonthStart(new Date("2026-12-15T10:00:00Z")).toISOString()).toBe(
      "2027-01-01T00:00:00.000Z",
    );
    expect(
      hoursBetween(new Date("2026-03-01T22:30:00Z"), new Date("2026-03-02T01:00:00Z")),
    ).toEqual(["2026-03-01T22", "2026-03-01T23", "2026-03-02T00", "2026-03-02T01"]);
  });
});
