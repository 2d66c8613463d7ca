/**
 * Rules for unbounded repetitions (`*`, `+`, `{n,}`), where a backtracking
 * engine's work can grow exponentially with the input:
 *
 * 1. The repeated body must not match the empty string (`(a?)*`, `(a*)*`):
 *    otherwise iterations can be split off for nothing, in unboundedly many ways.
 * 2. The repetition, taken alone, must be deterministic: from the start of an
 *    iteration and after every character inside it, the next character must
 *    decide which part of the repetition consumes it, and that part must be
 *    reachable in only one way. Overlapping alternatives (`(a|a)*`,
 *    `(a|ab)*c`), quantifiers nested over the same characters (`(a+)+`,
 *    `([a-z]+)*`, `(\w+\s?)*`) and the like break it; disjoint ones such as
 *    `(?:[a-z]+\.)+` keep it. This is the one-unambiguity of the repeated
 *    sub-expression, which bounds a backtracker to one choice per character.
 *
 * Bounded repetitions and everything outside repetitions are judged by the
 * ambiguity bound instead (ambiguity.ts), which counts the choices directly.
 */
import { type Node, nullable, type Repeat, type Span, walkPostOrder } from "./ast.ts";
import { intersection, sampleUnit } from "./charset.ts";
import { quoteSpan, showUnit } from "./describe.ts";
import { buildNfa } from "./nfa.ts";
import { type PositionAutomaton, type Step, toPositions } from "./positions.ts";

/** The first unsafe unbounded repetition, innermost first, as a message; undefined if none. */
export function checkRepetitions(source: string, ast: Node): string | undefined {
  let problem: string | undefined;
  walkPostOrder(ast, (node) => {
    if (problem === undefined && node.kind === "repeat" && node.max === Infinity) {
      problem = emptyIterationProblem(source, node) ?? ambiguousIterationProblem(source, node);
    }
  });
  return problem;
}

function emptyIterationProblem(source: string, rep: Repeat): string | undefined {
  if (!nullable(rep.body)) return undefined;
  return (
    `${quoteSpan(source, rep)} repeats without bound something that can match the empty ` +
    "string, so a backtracking engine can split the input among its iterations in " +
    "unboundedly many ways; make every iteration consume at least one character"
  );
}

function ambiguousIterationProblem(source: string, rep: Repeat): string | undefined {
  const pa = toPositions(buildNfa(rep), "ignore");
  for (const step of [pa.atStart, ...pa.after]) {
    const clash = findClash(pa, step);
    if (clash !== undefined) return describeClash(source, rep, pa, clash);
  }
  return undefined;
}

interface Clash {
  readonly a: number;
  readonly b: number;
  readonly unit: number;
}

/** Two ways to consume the same next code unit: two positions, or one reached twice. */
function findClash(pa: PositionAutomaton, step: Step): Clash | undefined {
  const { targets, counts } = step;
  for (let i = 0; i < targets.length; i++) {
    const a = targets[i] ?? 0;
    const setA = pa.sets[a] ?? [];
    if ((counts[i] ?? 0) > 1 && setA.length > 0) return { a, b: a, unit: sampleUnit(setA) ?? 0 };
    for (let j = i + 1; j < targets.length; j++) {
      const b = targets[j] ?? 0;
      const unit = sampleUnit(intersection(setA, pa.sets[b] ?? []));
      if (unit !== undefined) return { a, b, unit };
    }
  }
  return undefined;
}

function describeClash(source: string, rep: Repeat, pa: PositionAutomaton, clash: Clash) {
  const a = pa.origins[clash.a] as Span;
  const b = pa.origins[clash.b] as Span;
  const how =
    a.start === b.start
      ? `by ${quoteSpan(source, a)} in more than one way (a quantifier nested in another ` +
        "over the same characters, as in `(a+)+`)"
      : `by ${quoteSpan(source, a)} or by ${quoteSpan(source, b)}`;
  return (
    `${quoteSpan(source, rep)} is ambiguous: the same character ${showUnit(clash.unit)} can ` +
    `be matched ${how}, so a backtracking engine can try exponentially many ways to split ` +
    "a long input among its iterations; rewrite it so that each character has one way to " +
    "match (factor out common prefixes, e.g. `a(?:b|c)` instead of `ab|ac`, and do not " +
    "nest quantifiers over the same characters)"
  );
}
