/** The console's pure parts: return paths, money, the finance window and charts, the graph layout. */
import { describe, expect, it } from "vitest";
import { chartsOf, financeWindow } from "../../../functions/console/finance.tsx";
import { edgePath, layoutCircle } from "../../../functions/console/flows.tsx";
import { safeReturnPath } from "../../../functions/console/http.ts";
import { money } from "../../../functions/console/pages/layout.tsx";
import { parseRoleMap } from "../../../functions/people/settings.ts";

describe("console units", () => {
  it("returns only to console paths after sign-in", () => {
    expect(safeReturnPath("/console/audit?action=partner.revoke")).toBe(
      "/console/audit?action=partner.revoke",
    );
    for (const bad of [
      "https://evil.example/console",
      "//evil.example/console",
      "/console/../admin/partners",
      "/admin",
      "/console\\evil",
      undefined,
    ]) {
      expect(safeReturnPath(bad)).toBe("/console");
    }
  });

  it("writes micro-units as exact decimals", () => {
    expect(money(0)).toBe("0.00");
    expect(money(2000)).toBe("0.002");
    expect(money(5_000_000)).toBe("5.00");
    expect(money(1_234_567)).toBe("1.234567");
    expect(money(-1_500_000)).toBe("-1.50");
  });

  it("a finance window covers whole UTC days, the last inclusive", () => {
    const now = new Date("2026-11-15T13:45:00Z");
    expect(financeWindow(undefined, undefined, now)).toEqual({
      fromDay: "2026-10-17",
      toDay: "2026-11-15",
      from: "2026-10-17T00:00:00.000Z",
      to: "2026-11-16T00:00:00.000Z",
    });
    expect(financeWindow("2026-11-01", "2026-11-02", now)).toMatchObject({
      from: "2026-11-01T00:00:00.000Z",
      to: "2026-11-03T00:00:00.000Z",
    });
    expect(financeWindow("not-a-day", "2026-13-45", now).toDay).toBe("2026-11-15");
  });

  it("charts value per currency and records per flow, zero on days without traffic", () => {
    const w = financeWindow("2026-11-01", "2026-11-03", new Date());
    const row = (
      agreement: string,
      period: string,
      currency: string,
      amount: number,
      records: number,
    ) => ({
      agreement,
      period,
      requests: 1,
      denied: 0,
      blocked: 0,
      failed: 0,
      records,
      bytes: 10,
      value: { currency, amount },
    });
    const charts = chartsOf(
      [
        row("agr-1", "2026-11-01", "EUR", 2_500_000, 5),
        row("agr-2", "2026-11-03", "SEK", 1_000_000, 7),
        row("agr-1", "2026-11-03", "EUR", 500_000, 1),
      ],
      w,
    );
    expect(charts.map((c) => c.id)).toEqual([
      "chart-value-EUR",
      "chart-value-SEK",
      "chart-records",
    ]);
    expect(charts[0]?.x).toHaveLength(3);
    expect(charts[0]?.series).toEqual([{ label: "agr-1", values: [2.5, 0, 0.5] }]);
    expect(charts[2]?.series).toEqual([
      { label: "agr-1", values: [5, 0, 1] },
      { label: "agr-2", values: [0, 0, 7] },
    ]);
  });

  it("places partners on a circle and bends parallel edges apart", () => {
    const placed = layoutCircle(4, 600, 100);
    expect(placed[0]).toEqual({ x: 300, y: 100 });
    expect(placed[2]).toEqual({ x: 300, y: 500 });
    const a = edgePath({ x: 0, y: 0 }, { x: 200, y: 0 }, 10, 0);
    const b = edgePath({ x: 0, y: 0 }, { x: 200, y: 0 }, 10, 1);
    expect(a.d.startsWith("M 10 0 Q")).toBe(true);
    expect(b.label.y).toBeGreaterThan(a.label.y);
  });

  it("parses a role map and refuses roles the gateway does not have", () => {
    expect(parseRoleMap("operators=admin, finance=metrics:read, audit=admin+metrics:read")).toEqual(
      {
        operators: ["admin"],
        finance: ["metrics:read"],
        audit: ["admin", "metrics:read"],
      },
    );
    expect(() => parseRoleMap("operators=root")).toThrow(/root/);
    expect(() => parseRoleMap("operators")).toThrow(/group=role/);
  });
});
