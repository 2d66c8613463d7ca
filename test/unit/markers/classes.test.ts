/**
 * The class escapes, `.` and classes decide membership code unit by code
 * unit; check every one of the 65536 against native RegExp.
 */
import { describe, expect, it } from "vitest";
import { compileMarkers } from "../../../policies/markers/index.ts";

const SINGLE_UNIT_PATTERNS = [
  "\\s",
  "\\S",
  "\\d",
  "\\D",
  "\\w",
  "\\W",
  ".",
  "[^]",
  "[]",
  "[\\s\\S]",
  "[^\\n\\r]",
  "[^\\s\\w]",
  "[\\b]",
  "\\0",
  "[\\0-\\x1f]",
  "[\\ud800-\\udfff]",
  "[^a-z\\d]",
  "\\v|\\f",
];

describe("membership of every UTF-16 code unit", () => {
  it.each(SINGLE_UNIT_PATTERNS)("%s", (pattern) => {
    const result = compileMarkers([pattern]);
    if (!result.ok) throw new Error(result.issues[0]?.message);
    const native = new RegExp(pattern);
    const mismatches: number[] = [];
    for (let unit = 0; unit <= 0xffff; unit++) {
      const value = String.fromCharCode(unit);
      if (result.matcher.firstMatch(value) !== (native.test(value) ? 0 : -1)) mismatches.push(unit);
    }
    expect(mismatches).toEqual([]);
  });
});
