/**
 * Differential tests: firstMatch must agree with native RegExp.test (and, for
 * several patterns, with the lowest index whose RegExp matches) on inputs
 * biased towards near-matches.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileMarkers, type MarkerMatcher } from "../../../policies/markers/index.ts";
import { parsePattern } from "../../../policies/markers/parse.ts";
import {
  engineOnly,
  generatedPattern,
  HAND,
  inputsFor,
  matching,
  nativeFirstMatch,
} from "./helpers.ts";

/** Property runs may take a while on a busy machine; nothing here asserts time. */
const SLOW = { timeout: 120_000 };

function compiled(patterns: readonly string[]): MarkerMatcher {
  const result = compileMarkers(patterns);
  if (!result.ok) throw new Error(result.issues.map((i) => i.message).join("\n"));
  return result.matcher;
}

describe("firstMatch agrees with RegExp.test", SLOW, () => {
  it.each(HAND)("on %s", (pattern) => {
    const matcher = compiled([pattern]);
    fc.assert(
      fc.property(inputsFor([pattern]), (input) => {
        expect(matcher.firstMatch(input)).toBe(nativeFirstMatch([pattern], input));
      }),
      { numRuns: 300 },
    );
  });

  it("on strings that match every hand-written pattern exactly (anchors aside)", () => {
    // The sampler builds strings from the pattern's own tree; native decides.
    for (const pattern of HAND) {
      const matcher = compiled([pattern]);
      for (const input of fc.sample(matching(parsePattern(pattern)), 50)) {
        expect(matcher.firstMatch(input), `${pattern} on ${JSON.stringify(input)}`).toBe(
          nativeFirstMatch([pattern], input),
        );
      }
    }
  });

  it("on generated patterns that compileMarkers accepts", () => {
    let accepted = 0;
    let total = 0;
    fc.assert(
      fc.property(
        generatedPattern.chain((p) =>
          fc.tuple(fc.constant(p), fc.array(inputsFor([p]), { minLength: 20, maxLength: 20 })),
        ),
        ([pattern, inputs]) => {
          total += 1;
          const result = compileMarkers([pattern]);
          if (!result.ok) {
            // Generated patterns are valid JavaScript; refusals are the safety rules or caps.
            expect(result.issues.map((i) => i.code)).toEqual(["unsafe_pattern"]);
            return;
          }
          accepted += 1;
          for (const input of inputs) {
            expect(result.matcher.firstMatch(input), JSON.stringify(input)).toBe(
              nativeFirstMatch([pattern], input),
            );
          }
        },
      ),
      { numRuns: 600 },
    );
    // The property is not vacuous: most generated patterns are safe.
    expect(accepted / total).toBeGreaterThan(0.4);
  });
});

describe("firstMatch answers the lowest matching index", SLOW, () => {
  it("for lists of accepted patterns", () => {
    const pattern = fc.oneof(fc.constantFrom(...HAND), generatedPattern);
    const safeList = fc
      .array(pattern, { minLength: 2, maxLength: 6 })
      .filter((ps) => compileMarkers(ps).ok);
    fc.assert(
      fc.property(
        safeList.chain((ps) =>
          fc.tuple(fc.constant(ps), fc.array(inputsFor(ps), { minLength: 20, maxLength: 20 })),
        ),
        ([patterns, inputs]) => {
          const matcher = compiled(patterns);
          expect(matcher.size).toBe(patterns.length);
          for (const input of inputs) {
            expect(matcher.firstMatch(input), JSON.stringify(input)).toBe(
              nativeFirstMatch(patterns, input),
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("when a later pattern matches earlier in the value than a lower-numbered one", () => {
    const patterns = ["zz$", "a", "^b", "c\\d"];
    const matcher = compiled(patterns);
    for (const input of ["a", "b", "bzz", "c1 zz", "ab", "ba", "c1a", "xb", "", "zzz"]) {
      expect(matcher.firstMatch(input), input).toBe(nativeFirstMatch(patterns, input));
    }
  });
});

describe("the automaton alone (without the safety rules) agrees with RegExp.test", SLOW, () => {
  // Catastrophic patterns included: inputs stay short so that native backtracking stays cheap.
  const catastrophic = [
    "(a+)+b",
    "(a*)*b",
    "(a|a)*c",
    "(a|ab)*c",
    "(.*a){3}x",
    "(\\w+\\s?)+$",
    "(a?){5}a{5}",
    "(?:)*x",
    "(?:^|a)+b",
  ];
  it.each(catastrophic)("on %s", (pattern) => {
    const matcher = engineOnly([pattern]);
    if (matcher === undefined) throw new Error(`no automaton for ${pattern}`);
    fc.assert(
      fc.property(
        inputsFor([pattern]).filter((s) => s.length <= 14),
        (input) => {
          expect(matcher.firstMatch(input)).toBe(nativeFirstMatch([pattern], input));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("on generated patterns, accepted or not", () => {
    fc.assert(
      fc.property(
        generatedPattern.chain((p) =>
          fc.tuple(
            fc.constant(p),
            fc.array(
              inputsFor([p]).filter((s) => s.length <= 12),
              { minLength: 10, maxLength: 10 },
            ),
          ),
        ),
        ([pattern, inputs]) => {
          const matcher = engineOnly([pattern]);
          fc.pre(matcher !== undefined);
          for (const input of inputs) {
            expect(matcher.firstMatch(input), JSON.stringify(input)).toBe(
              nativeFirstMatch([pattern], input),
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("firstMatchIn matches a range of a text as RegExp matches its slice", SLOW, () => {
  // The guard matches values in place inside the body: the text around the range must not count.
  it.each(HAND)("on %s", (pattern) => {
    const matcher = compiled([pattern]);
    const inRange = matcher.firstMatchIn?.bind(matcher);
    if (inRange === undefined) throw new Error("the compiled matcher matches in place");
    fc.assert(
      fc.property(inputsFor([pattern]), inputsFor([pattern]), inputsFor([pattern]), (a, v, b) => {
        const text = a + v + b;
        expect(inRange(text, a.length, a.length + v.length)).toBe(nativeFirstMatch([pattern], v));
      }),
      { numRuns: 200 },
    );
  });

  it("for several patterns at once, on ranges of one text", () => {
    const patterns = ["CAL-[0-9]{6}", "^ab", "c$", "x{3}"];
    const matcher = compiled(patterns);
    fc.assert(
      fc.property(inputsFor(patterns), fc.nat(), fc.nat(), (text, i, j) => {
        const from = i % (text.length + 1);
        const to = from + (j % (text.length - from + 1));
        expect(matcher.firstMatchIn?.(text, from, to)).toBe(
          nativeFirstMatch(patterns, text.slice(from, to)),
        );
      }),
      { numRuns: 2000 },
    );
  });
});
