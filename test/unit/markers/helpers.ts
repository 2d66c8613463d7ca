/**
 * Shared test helpers for the markers: the native reference, string
 * generators biased towards near-matches, a pattern generator over the
 * supported subset, an engine-only compile (no safety rules) and a naive
 * backtracking matcher that counts its steps.
 */
import fc from "fast-check";
import type { Node } from "../../../policies/markers/ast.ts";
import type { CharSet } from "../../../policies/markers/charset.ts";
import { buildDfa } from "../../../policies/markers/dfa.ts";
import type { MarkerMatcher } from "../../../policies/markers/index.ts";
import { DfaMatcher } from "../../../policies/markers/matcher.ts";
import { buildNfa, type Nfa } from "../../../policies/markers/nfa.ts";
import { parsePattern } from "../../../policies/markers/parse.ts";
import { toPositions } from "../../../policies/markers/positions.ts";

/** Hand-written patterns covering the subset; every one must be accepted. */
export const HAND = [
  "CAL-[0-9]{6}",
  "^SECRET-",
  "[A-Z]{2}\\d{4}-[a-f0-9]{8}",
  "(?:foo|bar)baz",
  "x{2,5}",
  "x{0,3}?y",
  "colou?r",
  "(?:ab){2,}",
  "(?:a|b)*c",
  "a.?b",
  "a{0}b",
  "\\w+@\\w+",
  "[^\\s@]+@[^\\s@]+\\.[a-z]{2,}",
  "(?:\\d{1,3}\\.){3}\\d{1,3}",
  "(?<tag>x)y",
  "a$",
  "^$",
  "$",
  "^",
  "^(?:a|b)$",
  "(?:^|-)ab",
  "ab(?:$|-)",
  "a|^b",
  "(?:$)a",
  "a(?:^)",
  "^\\d{3}$",
  "[^a]",
  "[]",
  "[^]",
  "x[]|y",
  ".",
  "a.b",
  "\\s\\S",
  "\\D\\W",
  "[.-z]",
  "[\\b]",
  "\\0",
  "a\\nb",
  "\\x41|\\u00e9",
  "\\ud83d\\ude00",
  "[\\ud800-\\udbff][\\udc00-\\udfff]",
  "\\.\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$\\\\\\/",
  "[\\]\\-\\\\^]",
  "[^\\s\\d]+x",
  "[a-c-]",
  "\\t|\\v|\\f|\\r",
  "é+",
];

/** The reference: the lowest index whose native RegExp matches, or -1. */
export function nativeFirstMatch(patterns: readonly string[], value: string): number {
  return patterns.findIndex((p) => new RegExp(p).test(value));
}

/**
 * Compiles the automaton without the safety rules and pattern caps (only the
 * state cap: undefined past it), to test the matching engine itself on
 * patterns the rules refuse.
 */
export function engineOnly(patterns: readonly string[]): MarkerMatcher | undefined {
  const automata = patterns.map((p) => toPositions(buildNfa(parsePattern(p)), "exact"));
  const dfa = buildDfa(automata, { maxStates: 4096, maxWork: 1 << 24 });
  return dfa === undefined ? undefined : new DfaMatcher(patterns.length, dfa);
}

/** Code units that sit on the edges of the JavaScript classes and of `.`. */
const SPECIAL_UNITS = [
  0x00, 0x08, 0x09, 0x0a, 0x0b, 0x0d, 0x20, 0x2d, 0x5f, 0xa0, 0xe9, 0x2028, 0x2029, 0xd83d, 0xde00,
  0xfeff, 0xffff,
];

/** One code unit of `set`: an edge of one of its ranges, or any unit inside one. */
function unitOf(set: CharSet): fc.Arbitrary<number> | undefined {
  if (set.length === 0) return undefined;
  const ranges: [number, number][] = [];
  for (let i = 0; i < set.length; i += 2) ranges.push([set[i] ?? 0, set[i + 1] ?? 0]);
  const printable = ranges.filter(([lo, hi]) => hi >= 0x20 && lo <= 0x7e);
  return fc.oneof(
    fc.constantFrom(...ranges.flat()),
    fc.constantFrom(...ranges).chain(([lo, hi]) => fc.integer({ min: lo, max: hi })),
    ...(printable.length > 0
      ? [
          fc
            .constantFrom(...printable)
            .chain(([lo, hi]) => fc.integer({ min: Math.max(lo, 0x20), max: Math.min(hi, 0x7e) })),
        ]
      : []),
  );
}

/** Strings the node matches (anchors aside), a few iterations per repetition. */
export function matching(node: Node): fc.Arbitrary<string> {
  switch (node.kind) {
    case "empty":
    case "assert":
      return fc.constant("");
    case "chars":
      return unitOf(node.set)?.map((u) => String.fromCharCode(u)) ?? fc.constant("");
    case "seq":
      return fc.tuple(...node.items.map(matching)).map((parts) => parts.join(""));
    case "alt":
      return fc.oneof(...node.branches.map(matching));
    case "repeat": {
      const maxLength = Math.min(node.max, node.min + 3);
      return fc
        .array(matching(node.body), { minLength: node.min, maxLength })
        .map((parts) => parts.join(""));
    }
  }
}

/** Every code unit a pattern names, plus the special ones: the alphabet of near misses. */
function alphabetOf(node: Node): number[] {
  const units = new Set<number>(SPECIAL_UNITS);
  const visit = (n: Node): void => {
    if (n.kind === "chars") {
      for (let i = 0; i < n.set.length; i += 2) {
        units.add(n.set[i] ?? 0);
        units.add(n.set[i + 1] ?? 0);
      }
    }
    if (n.kind === "seq") n.items.forEach(visit);
    if (n.kind === "alt") n.branches.forEach(visit);
    if (n.kind === "repeat") visit(n.body);
  };
  visit(node);
  for (const u of "abcxyz019-._@ ") units.add(u.charCodeAt(0));
  return [...units];
}

/**
 * Inputs for a set of patterns: a match of one of them, cut, edited and
 * wrapped (a near-match), or text over the patterns' own characters.
 */
export function inputsFor(patterns: readonly string[]): fc.Arbitrary<string> {
  const asts = patterns.map(parsePattern);
  const alphabet = [...new Set(asts.flatMap(alphabetOf))];
  const text = fc
    .array(fc.constantFrom(...alphabet), { maxLength: 24 })
    .map((units) => String.fromCharCode(...units));
  const near = fc
    .tuple(
      fc.oneof(...asts.map(matching)),
      text,
      text,
      fc.nat(),
      fc.nat(3),
      fc.constantFrom(...alphabet),
    )
    .map(([core, before, after, at, edit, unit]) => {
      const i = core.length === 0 ? 0 : at % core.length;
      const c = String.fromCharCode(unit);
      const edited =
        [
          core,
          core.slice(0, i) + core.slice(i + 1),
          core.slice(0, i) + c + core.slice(i + 1),
          core.slice(0, i) + c + core.slice(i),
        ][edit] ?? core;
      return `${before.slice(0, at % 4)}${edited}${after.slice(0, at % 3)}`;
    });
  return fc.oneof({ arbitrary: near, weight: 3 }, { arbitrary: text, weight: 1 });
}

/** Patterns over the supported subset: literals, escapes, classes, groups, alternation, quantifiers, anchors. */
export const generatedPattern: fc.Arbitrary<string> = fc.letrec<{
  alt: string;
  seq: string;
  term: string;
  atom: string;
}>((tie) => ({
  // Past depth 2 oneof takes its first arbitrary: a literal, so patterns stay small.
  atom: fc.oneof(
    { maxDepth: 2, depthIdentifier: "pattern" },
    { arbitrary: fc.constantFrom("a", "b", "c", "-", "x", "0", "9"), weight: 6 },
    {
      arbitrary: fc.constantFrom(
        "[abc]",
        "[^a]",
        "[a-c]",
        "[0-9x]",
        "[^\\n]",
        "[\\d-]",
        "[.]",
        "[]",
        "[^]",
        "\\d",
        "\\D",
        "\\w",
        "\\W",
        "\\s",
        "\\S",
        ".",
        "\\.",
        "\\-",
        "\\x61",
        "\\u0062",
        "\\n",
        "\\t",
      ),
      weight: 3,
    },
    { arbitrary: tie("alt").map((a) => `(?:${a})`), weight: 1 },
    { arbitrary: tie("alt").map((a) => `(${a})`), weight: 1 },
  ),
  term: fc
    .tuple(
      tie("atom"),
      fc.constantFrom("", "", "", "*", "+", "?", "{2}", "{0,2}", "{1,}", "{1,3}", "{0}"),
      fc.boolean(),
    )
    .map(([atom, q, lazy]) => `${atom}${q}${q !== "" && lazy ? "?" : ""}`),
  seq: fc
    .tuple(
      fc.constantFrom("", "", "", "^"),
      fc.array(tie("term"), { minLength: 1, maxLength: 3 }),
      fc.constantFrom("", "", "", "$"),
    )
    .map(([start, terms, end]) => `${start}${terms.join("")}${end}`),
  alt: fc.array(tie("seq"), { minLength: 1, maxLength: 3 }).map((branches) => branches.join("|")),
})).alt;

/**
 * Steps (node visits) of a naive backtracking matcher from one start offset:
 * depth first, preferred branch first, no memo, stopping at the first match;
 * Infinity past `budget`. An explicit stack keeps long inputs off the call stack.
 */
export function backtrackingSteps(nfa: Nfa, input: string, start: number, budget: number): number {
  const stack: [number, number][] = [[nfa.start, start]];
  let steps = 0;
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [node, i] = top;
    steps += 1;
    if (steps > budget) return Number.POSITIVE_INFINITY;
    const kind = nfa.kind[node];
    if (kind === "accept") return steps;
    const passes =
      kind === "char"
        ? i < input.length && inSet(nfa.set[node] ?? [], input.charCodeAt(i))
        : kind === "caret"
          ? i === 0
          : kind === "dollar"
            ? i === input.length
            : true;
    if (!passes) continue;
    const next = nfa.next[node] ?? [];
    const j = kind === "char" ? i + 1 : i;
    for (let k = next.length - 1; k >= 0; k--) stack.push([next[k] ?? 0, j]);
  }
  return steps;
}

function inSet(set: CharSet, unit: number): boolean {
  for (let i = 0; i < set.length; i += 2) {
    if (unit >= (set[i] ?? 0) && unit <= (set[i + 1] ?? 0)) return true;
  }
  return false;
}
