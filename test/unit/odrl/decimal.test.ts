import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decimalToMicros, microsToDecimal } from "../../../policies/odrl/decimal.ts";

describe("micro-units as xsd:decimal", () => {
  it("writes six fraction digits", () => {
    expect(microsToDecimal(0)).toBe("0.000000");
    expect(microsToDecimal(1)).toBe("0.000001");
    expect(microsToDecimal(2_000)).toBe("0.002000");
    expect(microsToDecimal(1_500_000)).toBe("1.500000");
    expect(microsToDecimal(1_000_000_000_000)).toBe("1000000.000000");
  });

  it("reads any exact decimal of whole micro-units", () => {
    expect(decimalToMicros("0.002")).toBe(2_000);
    expect(decimalToMicros("5")).toBe(5_000_000);
    expect(decimalToMicros("5.")).toBe(5_000_000);
    expect(decimalToMicros(".5")).toBe(500_000);
    expect(decimalToMicros("1.0000000")).toBe(1_000_000);
    expect(decimalToMicros("0012.340000")).toBe(12_340_000);
  });

  it("refuses what is not a non-negative decimal of whole micro-units", () => {
    for (const text of ["", ".", "-1", "+1", "1e3", "0.0000001", "1,5", " 1", "NaN", "0x10"]) {
      expect(decimalToMicros(text), text).toBeUndefined();
    }
  });

  it("reads back what it writes, exactly", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000_000_000 }), (micros) => {
        expect(decimalToMicros(microsToDecimal(micros))).toBe(micros);
      }),
    );
  });
});
