/**
 * Long adversarial inputs. Where native RegExp is itself fast on them it is
 * the reference; where it would backtrack for a very long time, the expected
 * answer is reasoned out in the test. No timing assertions: a matcher that
 * were not linear would simply not finish within the test timeout.
 */
import { describe, expect, it } from "vitest";
import { compileMarkers, type MarkerMatcher } from "../../../policies/markers/index.ts";
import { engineOnly, nativeFirstMatch } from "./helpers.ts";

const N = 100_000;
const A = "a".repeat(N);
const DIGITS = "1".repeat(N);

function compiled(patterns: readonly string[]): MarkerMatcher {
  const result = compileMarkers(patterns);
  if (!result.ok) throw new Error(result.issues.map((i) => i.message).join("\n"));
  return result.matcher;
}

describe("accepted patterns on 100k-character inputs", () => {
  it("agree with native RegExp where native is fast (it is, on these)", () => {
    const patterns = [
      "CAL-[0-9]{6}",
      "^SECRET-",
      "[A-Z]{2}\\d{4}-[a-f0-9]{8}",
      "(?:foo|bar)baz",
      "x{2,5}",
      "a{100}b",
      "^a+$",
      "a$",
    ];
    const matcher = compiled(patterns);
    for (const input of [A, `${A}b`, `${A}X`, `x${A}`, `${A}CAL-123456`, `SECRET-${A}`, DIGITS]) {
      expect(matcher.firstMatch(input)).toBe(nativeFirstMatch(patterns, input));
    }
  });

  it("answer patterns on which a backtracking engine is quadratic", () => {
    // Unanchored, a backtracker retries `a+` / `\d+` from each of the 100k
    // offsets and each try scans to the end: about 5e9 steps, so the
    // expectations are reasoned: a match needs the final letter, and only
    // the inputs that end with it contain it.
    const matcher = compiled(["a+b", "\\d+x"]);
    expect(matcher.firstMatch(A)).toBe(-1);
    expect(matcher.firstMatch(DIGITS)).toBe(-1);
    expect(matcher.firstMatch(`${A}b`)).toBe(0);
    expect(matcher.firstMatch(`${DIGITS}x`)).toBe(1);
    expect(matcher.firstMatch(`${DIGITS}x${A}b`)).toBe(0);
  });

  it("agree with native when only one character can start a match (the matcher jumps between its occurrences)", () => {
    const patterns = ["CAL-[0-9]{6}", "CAB"];
    const matcher = compiled(patterns);
    const noise = "xC CA CAL-12345 CAL- CAL-x ".repeat(N / 25);
    for (const input of [
      noise,
      `${noise}CAL-123456`,
      `CAL-123456${noise}`,
      `${noise}CAB`,
      `${noise}C`,
      "C",
      "",
    ]) {
      expect(matcher.firstMatch(input)).toBe(nativeFirstMatch(patterns, input));
    }
  });

  it("answer a long value with a match at its very end and a lower-numbered one at its start", () => {
    const patterns = ["^a{50}", "b$"];
    const matcher = compiled(patterns);
    // Native is linear here: both patterns are anchored.
    expect(matcher.firstMatch(`${A}b`)).toBe(nativeFirstMatch(patterns, `${A}b`));
    expect(matcher.firstMatch(`c${A}b`)).toBe(nativeFirstMatch(patterns, `c${A}b`));
  });
});

describe("the automaton on catastrophic patterns (refused by the rules) stays linear", () => {
  // These are refused by compileMarkers; the engine itself still matches them
  // in one pass, which the rules do not rely on but which shows the matching
  // cost never depends on the pattern's ambiguity.
  it("(a+)+b: needs a b; only the inputs ending in b have one", () => {
    const matcher = engineOnly(["(a+)+b"]);
    expect(matcher?.firstMatch(A)).toBe(-1);
    expect(matcher?.firstMatch(`${A}b`)).toBe(0);
  });

  it("(a|a)*c and (a|ab)*c: need a c; only the inputs ending in c have one", () => {
    const matcher = engineOnly(["(a|a)*c", "(a|ab)*c"]);
    expect(matcher?.firstMatch(A)).toBe(-1);
    expect(matcher?.firstMatch("ab".repeat(N / 2))).toBe(-1);
    expect(matcher?.firstMatch(`${"ab".repeat(N / 2)}c`)).toBe(0);
  });

  it("(.*a){20}: any 20 a's on one line match; newlines break `.`", () => {
    const matcher = engineOnly(["(.*a){20}"]);
    expect(matcher?.firstMatch(A)).toBe(0);
    expect(matcher?.firstMatch("b".repeat(N))).toBe(-1);
    // 19 a's per line, never 20 on one line.
    expect(matcher?.firstMatch(`${"a".repeat(19)}\n`.repeat(N / 20))).toBe(-1);
  });

  it("^(\\w+\\s?)+$: any line of word characters and single spaces matches; a final ! does not", () => {
    const matcher = engineOnly(["^(\\w+\\s?)+$"]);
    expect(matcher?.firstMatch(`${"ab ".repeat(N / 3)}`)).toBe(0);
    expect(matcher?.firstMatch(`${"ab ".repeat(N / 3)}!`)).toBe(-1);
  });
});
