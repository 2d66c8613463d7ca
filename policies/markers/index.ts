/**
 * Core markers: the patterns of a data owner's core data, matched against
 * every value that would leave the gateway.
 *
 * compileMarkers checks each pattern of a dataset (validate.ts), in order:
 * - invalid_pattern: `new RegExp(pattern)` throws;
 * - unsafe_pattern, when the pattern
 *   - is longer than 256 code units;
 *   - leaves the supported subset (parse.ts): literals; `\d \D \w \W \s \S
 *     \t \n \r \f \v \0 \xHH \uHHHH` and escaped punctuation; `.`; classes
 *     with ranges, negation and escapes (`[\b]` is backspace); groups `( )`,
 *     `(?: )`, `(?<name> )`; `|`; `* + ? {n} {n,} {n,m}` greedy or lazy;
 *     `^` and `$` anywhere. Refused: backreferences, lookaround, `\b`, `\B`,
 *     `\p`, `\c`, legacy octal, `\u{..}`, bare `{ } ]`, other escaped letters;
 *   - has a repetition bound over 100 or unrolls to more than 1024 positions;
 *   - repeats without bound something that matches the empty string, or a
 *     sub-expression that is not deterministic (safety.ts);
 *   - lets some input be read by more than 64 paths at once (ambiguity.ts);
 * then compiles all of them into one deterministic automaton of at most
 * 4096 states (dfa.ts), whose matcher runs in linear time (matcher.ts).
 */

import { quote } from "./describe.ts";
import { buildDfa } from "./dfa.ts";
import { MAX_DFA_STATES } from "./limits.ts";
import { DfaMatcher } from "./matcher.ts";
import type { PositionAutomaton } from "./positions.ts";
import type { MarkerCompileResult, MarkerIssue } from "./types.ts";
import { checkPattern, DFA_LIMITS, STATE_CAP_ALONE } from "./validate.ts";

export { MAX_DFA_STATES, MAX_PATTERN_LENGTH, MAX_REPEAT } from "./limits.ts";
export type { MarkerCompileResult, MarkerIssue, MarkerMatcher } from "./types.ts";

export function compileMarkers(patterns: readonly string[]): MarkerCompileResult {
  const automata: PositionAutomaton[] = [];
  const issues: MarkerIssue[] = [];
  patterns.forEach((pattern, index) => {
    const checked = checkPattern(pattern, index);
    if (checked.ok) automata.push(checked.automaton);
    else issues.push(checked.issue);
  });
  if (issues.length > 0) return { ok: false, issues };
  const dfa = buildDfa(automata, DFA_LIMITS);
  if (dfa === undefined) return { ok: false, issues: blameStateCap(patterns, automata) };
  return { ok: true, matcher: new DfaMatcher(patterns.length, dfa) };
}

/**
 * The combined automaton is too large. Adding patterns never shrinks it, so a
 * binary search finds the first pattern that makes the ones before it too
 * large; it is named, alone or together with those before it.
 */
function blameStateCap(
  patterns: readonly string[],
  automata: readonly PositionAutomaton[],
): MarkerIssue[] {
  const tooLarge = (list: readonly PositionAutomaton[]) => buildDfa(list, DFA_LIMITS) === undefined;
  let lo = 0;
  let hi = automata.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tooLarge(automata.slice(0, mid + 1))) hi = mid;
    else lo = mid + 1;
  }
  const k = lo;
  const alone = k === 0 || tooLarge(automata.slice(k, k + 1));
  const before = k === 1 ? "pattern 0" : `patterns 0 to ${k - 1}`;
  const detail = alone
    ? STATE_CAP_ALONE
    : `together with ${before}, the combined automaton of the dataset's markers exceeds ` +
      `the size limit (${MAX_DFA_STATES} states); simplify the markers or use fewer of them`;
  const pattern = patterns[k] ?? "";
  return [
    {
      index: k,
      pattern,
      code: "unsafe_pattern",
      message: `pattern ${k} ${quote(pattern)}: ${detail}`,
    },
  ];
}
