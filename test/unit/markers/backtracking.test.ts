/**
 * The safety rules' promise, checked against a naive backtracking matcher
 * (depth first, preferred branch first, no memo; see helpers.ts): on an
 * accepted pattern its work from one start offset grows linearly with the
 * input. Inputs are a near-match pumped k times; for a linear cost, pumping
 * 16 more copies adds the same number of steps each time (equal increments),
 * while a quadratic cost adds 5/3 as much from 32 to 48 copies as from 16 to
 * 32, and an exponential one exhausts the step budget.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileMarkers } from "../../../policies/markers/index.ts";
import { buildNfa, type Nfa } from "../../../policies/markers/nfa.ts";
import { parsePattern } from "../../../policies/markers/parse.ts";
import { backtrackingSteps, generatedPattern, HAND, inputsFor } from "./helpers.ts";

const BUDGET = 1_000_000;

/** Worst steps over the start offsets of one period, for prefix + pump^k + suffix. */
function steps(nfa: Nfa, prefix: string, pump: string, suffix: string, k: number): number {
  const input = `${prefix}${pump.repeat(k)}${suffix}`;
  let worst = 0;
  for (let start = 0; start < prefix.length + pump.length; start++) {
    worst = Math.max(worst, backtrackingSteps(nfa, input, start, BUDGET));
  }
  return worst;
}

/** Whether the step count grows faster than linearly: the second increment well above the first. */
function superLinear(pattern: string, prefix: string, pump: string, suffix = ""): boolean {
  const nfa = buildNfa(parsePattern(pattern));
  const [a, b, c] = [16, 32, 48].map((k) => steps(nfa, prefix, pump, suffix, k)) as [
    number,
    number,
    number,
  ];
  if (!Number.isFinite(c)) return true;
  return c - b > 1.25 * (b - a) + 8;
}

/** Property runs may take a while on a busy machine; nothing here asserts time. */
describe("accepted patterns keep a backtracking engine linear", { timeout: 120_000 }, () => {
  it("on pumped near-matches of generated and hand-written patterns", () => {
    const accepted = fc
      .oneof(fc.constantFrom(...HAND), generatedPattern)
      .filter((p) => compileMarkers([p]).ok);
    fc.assert(
      fc.property(
        accepted.chain((p) =>
          fc.tuple(
            fc.constant(p),
            inputsFor([p]).filter((s) => s.length > 0),
          ),
        ),
        ([pattern, pump]) => {
          expect(superLinear(pattern, "", pump)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("the measure has teeth: refused patterns make the same engine super-linear", () => {
  const refused: [string, string, string, string][] = [
    ["(a|a)*b", "", "a", ""],
    ["(a+)+b", "", "a", ""],
    ["\\d+\\d+x", "", "1", ""],
    [".*a.*b", "", "a", ""],
    ["^.*x.*x.*$", "", "x", "\n"],
    ["a(?:.*b.*c|)", "a", "b", ""],
    ["(.*a){3}x", "", "a", ""],
  ];
  it.each(refused)("%s", (pattern, prefix, pump, suffix) => {
    expect(compileMarkers([pattern]).ok).toBe(false);
    expect(superLinear(pattern, prefix, pump, suffix)).toBe(true);
  });
});
