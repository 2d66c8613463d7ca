/**
 * Checks one pattern, in order: it compiles as a JavaScript RegExp (else
 * invalid_pattern), then keeps the length cap, the supported subset, the size
 * cap, the repetition rules and the ambiguity bound (else unsafe_pattern).
 * A pattern that passes comes back as its position automaton.
 */
import { checkAmbiguity } from "./ambiguity.ts";
import { quote } from "./describe.ts";
import { buildDfa, type DfaLimits } from "./dfa.ts";
import {
  MAX_ANALYSIS_STATES,
  MAX_DFA_STATES,
  MAX_DFA_WORK,
  MAX_PATTERN_LENGTH,
  MAX_POSITIONS,
} from "./limits.ts";
import { buildNfa } from "./nfa.ts";
import { parsePattern } from "./parse.ts";
import { type PositionAutomaton, toPositions } from "./positions.ts";
import { Unsupported } from "./reader.ts";
import { checkRepetitions } from "./safety.ts";
import { positionCount } from "./size.ts";
import type { MarkerIssue } from "./types.ts";

export type Checked =
  | { readonly ok: true; readonly automaton: PositionAutomaton }
  | { readonly ok: false; readonly issue: MarkerIssue };

export function checkPattern(pattern: string, index: number): Checked {
  const refuse = (code: MarkerIssue["code"], detail: string): Checked => ({
    ok: false,
    issue: { index, pattern, code, message: `pattern ${index} ${quote(pattern)}: ${detail}` },
  });
  const invalid = nativeError(pattern);
  if (invalid !== undefined) return refuse("invalid_pattern", invalid);
  if (pattern.length > MAX_PATTERN_LENGTH) {
    return refuse(
      "unsafe_pattern",
      `it is ${pattern.length} characters long; the limit is ${MAX_PATTERN_LENGTH}`,
    );
  }
  const result = analyse(pattern);
  return typeof result === "string"
    ? refuse("unsafe_pattern", result)
    : { ok: true, automaton: result };
}

/** Why `new RegExp(pattern)` throws, or undefined when it compiles. */
function nativeError(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
    return undefined;
  } catch (e) {
    return `it is not a valid JavaScript regular expression (${e instanceof Error ? e.message : String(e)})`;
  }
}

/** The automaton of a supported, safe pattern, or why it is refused. */
function analyse(pattern: string): PositionAutomaton | string {
  let ast: ReturnType<typeof parsePattern>;
  try {
    ast = parsePattern(pattern);
  } catch (e) {
    if (e instanceof Unsupported) return e.message;
    throw e;
  }
  const size = positionCount(ast);
  if (size > MAX_POSITIONS) {
    return (
      `it unrolls to ${size} character positions (bounded repetitions such as \`x{n}\` count ` +
      `n times, nested ones multiply); the limit is ${MAX_POSITIONS}`
    );
  }
  const repetition = checkRepetitions(pattern, ast);
  if (repetition !== undefined) return repetition;
  const automaton = toPositions(buildNfa(ast), "exact");
  const verdict = checkAmbiguity(automaton);
  if (verdict.kind === "ambiguous") return verdict.message;
  if (verdict.kind === "bounded") return automaton;
  // The analysis explores what the automaton does; when it runs out of budget the
  // automaton is usually too large as well, which is the clearer thing to say.
  if (buildDfa([automaton], DFA_LIMITS) === undefined) return STATE_CAP_ALONE;
  return (
    `it is too complex to prove safe (its analysis examined more than ` +
    `${MAX_ANALYSIS_STATES} states); simplify it`
  );
}

export const DFA_LIMITS: DfaLimits = { maxStates: MAX_DFA_STATES, maxWork: MAX_DFA_WORK };

export const STATE_CAP_ALONE =
  `its automaton exceeds the size limit (${MAX_DFA_STATES} states): it must remember too much of ` +
  "the input at once, as `(a|b)*a(a|b){20}` must remember its last 21 characters; simplify it";
