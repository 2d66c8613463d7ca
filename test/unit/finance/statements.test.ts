/**
 * Statements agree with attribution to the micro-unit: over random flows,
 * prices, value shares and currencies, a month's statement (period rows,
 * no adjustments) gives every partner, per currency, what /metrics/attribution
 * gives it over the same rows; every item's lines sum to it; earned = paid.
 * And the read plan: a window of whole days and months needs no hours.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { attribute } from "../../../functions/metrics/flows.ts";
import { planPeriods, wholePeriods } from "../../../functions/metrics/read-plan.ts";
import { statementItems } from "../../../functions/metrics/statements.ts";
import type { PeriodRow } from "../../../functions/store/meter-read.ts";
import type { Agreement } from "../../../policies/model.ts";

const PARTNERS = ["p-a", "p-b", "p-c", "p-d", "p-e"];
const CURRENCIES = ["EUR", "USD", "SEK"];

/** Basis points summing to 10 000 over 1..4 partners. */
const shares = fc
  .uniqueArray(fc.constantFrom(...PARTNERS), { minLength: 1, maxLength: 4 })
  .chain((partners) =>
    fc
      .array(fc.integer({ min: 1, max: 10_000 }), {
        minLength: partners.length,
        maxLength: partners.length,
      })
      .map((weights) => {
        const total = weights.reduce((a, b) => a + b, 0);
        const bps = weights.map((w) => Math.floor((w * 10_000) / total));
        bps[0] = (bps[0] ?? 0) + 10_000 - bps.reduce((a, b) => a + b, 0);
        return partners.map((partner, i) => ({ partner, bps: bps[i] ?? 0 }));
      }),
  );

const flow = fc.record({
  provider: fc.constantFrom(...PARTNERS),
  consumer: fc.constantFrom(...PARTNERS),
  currency: fc.constantFrom(...CURRENCIES),
  valueShares: shares,
  /** Shard rows of the month: each a part of the flow's counts. */
  rows: fc.array(
    fc.record({
      requests: fc.integer({ min: 0, max: 1_000 }),
      records: fc.integer({ min: 0, max: 100_000 }),
      value: fc.integer({ min: 0, max: 2 ** 40 }),
    }),
    { minLength: 1, maxLength: 8 },
  ),
});

type Flow = typeof flow extends fc.Arbitrary<infer T> ? T : never;

function setUp(flows: Flow[]) {
  const agreements = new Map<string, Agreement>();
  const rows: PeriodRow[] = [];
  flows.forEach((f, i) => {
    const id = `agr-${i}`;
    agreements.set(id, {
      id,
      provider: f.provider,
      consumer: f.consumer,
      dataset: "ds-1",
      valueShares: f.valueShares,
      price: { currency: f.currency, perRequest: 1, perRecord: 0 },
    } as unknown as Agreement);
    for (const r of f.rows) {
      rows.push({
        agreement: id,
        provider: f.provider,
        consumer: f.consumer,
        dataset: "ds-1",
        period: "2026-11",
        currency: f.currency,
        adjustment: false,
        denied: 0,
        blocked: 0,
        failed: 0,
        bytes: 0,
        ...r,
      });
    }
  });
  return { agreements, rows };
}

describe("statements", () => {
  it("equal attribution per partner and currency, to the micro-unit", () => {
    fc.assert(
      fc.property(fc.array(flow, { minLength: 1, maxLength: 12 }), (flows) => {
        const { agreements, rows } = setUp(flows);
        const items = statementItems(rows, agreements);
        const attribution = attribute(
          rows.map((r) => ({ ...r, hour: "2026-11-01T00" })),
          agreements,
        );
        const fromAttribution = new Map<string, { earned: number; paid: number }>();
        for (const a of attribution) {
          for (const c of new Set([...Object.keys(a.earned), ...Object.keys(a.paid)]))
            fromAttribution.set(`${a.partner}|${c}`, {
              earned: a.earned[c] ?? 0,
              paid: a.paid[c] ?? 0,
            });
        }
        for (const item of items) {
          const want = fromAttribution.get(`${item.partner}|${item.currency}`) ?? {
            earned: 0,
            paid: 0,
          };
          expect({ earned: item.earned, paid: item.paid }).toEqual(want);
          expect(item.lines.reduce((n, l) => n + l.earned, 0)).toBe(item.earned);
          expect(item.lines.reduce((n, l) => n + l.paid, 0)).toBe(item.paid);
          fromAttribution.delete(`${item.partner}|${item.currency}`);
        }
        // Nothing attribution has that the statement lacks (but zeros).
        for (const v of fromAttribution.values()) expect(v).toEqual({ earned: 0, paid: 0 });
        for (const c of CURRENCIES) {
          const of = items.filter((i) => i.currency === c);
          expect(of.reduce((n, i) => n + i.earned, 0)).toBe(of.reduce((n, i) => n + i.paid, 0));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("keep adjustments on lines of their own", () => {
    const { agreements, rows } = setUp([
      {
        provider: "p-a",
        consumer: "p-b",
        currency: "EUR",
        valueShares: [{ partner: "p-a", bps: 10_000 }],
        rows: [{ requests: 2, records: 4, value: 10 }],
      },
    ]);
    const adjustment = { ...(rows[0] as PeriodRow), adjustment: true, requests: -1, value: -5 };
    const items = statementItems([...rows, adjustment], agreements);
    expect(items.find((i) => i.partner === "p-b")?.lines.map((l) => [l.kind, l.paid])).toEqual([
      ["usage", 10],
      ["adjustment", -5],
    ]);
    // A negative adjustment is split as the negation of its opposite.
    expect(items.find((i) => i.partner === "p-a")?.earned).toBe(5);
  });
});

describe("the read plan", () => {
  const now = new Date("2026-12-02T10:20:00Z");
  const at = (s: string) => new Date(s);

  it("reads a month, or the days of a part of one, from the period index", () => {
    expect(planPeriods(at("2026-11-01T00:00Z"), at("2026-12-01T00:00Z"), "total", now)).toEqual([
      "2026-11",
    ]);
    expect(planPeriods(at("2026-10-30T00:00Z"), at("2026-12-01T00:00Z"), "total", now)).toEqual([
      "2026-10-30",
      "2026-10-31",
      "2026-11",
    ]);
    expect(planPeriods(at("2026-11-01T00:00Z"), at("2026-11-03T00:00Z"), "day", now)).toEqual([
      "2026-11-01",
      "2026-11-02",
    ]);
  });

  it("takes the current month whole when the window reaches now (nothing is booked later)", () => {
    expect(planPeriods(at("2026-12-01T00:00Z"), now, "total", now)).toEqual(["2026-12"]);
  });

  it("needs hours for a window that cuts a past day, or a read by the hour", () => {
    expect(planPeriods(at("2026-11-01T03:00Z"), at("2026-11-02T00:00Z"), "total", now)).toBe(
      undefined,
    );
    expect(planPeriods(at("2026-11-01T00:00Z"), at("2026-11-02T00:00Z"), "hour", now)).toBe(
      undefined,
    );
  });

  it("reconciles only the periods wholly inside the window", () => {
    expect(wholePeriods(at("2026-10-31T05:00Z"), at("2026-12-02T03:00Z"))).toEqual([
      "2026-11",
      "2026-12-01",
    ]);
  });
});
