/**
 * Subset construction: the position automata of all patterns of a dataset
 * become one deterministic automaton over the alphabet classes, searching
 * unanchored (every offset may start a match, as RegExp.test does). A state is
 * the set of positions just consumed; each state remembers the lowest pattern
 * index that has matched when it is reached.
 */
import { type Alphabet, classMap, partition } from "./alphabet.ts";
import type { PositionAutomaton, Step } from "./positions.ts";
import { Gatherer, Interner } from "./subsets.ts";

/** "No pattern" in accept tables; larger than any pattern index. */
export const NO_MATCH = 0x7fffffff;

export interface Dfa {
  readonly classOf: Uint16Array;
  readonly classCount: number;
  readonly stateCount: number;
  /** Row per state, column per class; entries are target rows premultiplied by classCount. */
  readonly transitions: Int32Array;
  /** Per state: the lowest pattern index that matches on reaching it, or NO_MATCH. */
  readonly accept: Int32Array;
  /** Per state: the lowest pattern index that matches if the input ends here, or NO_MATCH. */
  readonly acceptAtEnd: Int32Array;
  /** Premultiplied initial state (offset 0 of the input, where `^` holds). */
  readonly initial: number;
  /** Premultiplied states from here on accept or are dead; the hot loop checks one bound. */
  readonly specialFrom: number;
  /** Premultiplied state where no pattern can match any more (-1 if none). */
  readonly dead: number;
  /**
   * Premultiplied state with nothing under way that only one code unit can
   * leave (-1 if none): from it the matcher jumps with indexOf (a fast scan
   * in the engine) to the next occurrence of `skipTo`, as for `CAL-[0-9]{6}`.
   */
  readonly idle: number;
  readonly skipTo: string;
}

export interface DfaLimits {
  readonly maxStates: number;
  readonly maxWork: number;
}

/** Builds the automaton, or answers undefined when it would exceed the limits. */
export function buildDfa(
  automata: readonly PositionAutomaton[],
  limits: DfaLimits,
): Dfa | undefined {
  const all = combine(automata);
  const raw = explore(all, limits);
  return raw === undefined ? undefined : layout(raw, all.alphabet);
}

/** All patterns' positions in one numbering, with what each accepts. */
interface Combined {
  readonly alphabet: Alphabet;
  readonly classesOf: readonly (readonly number[])[];
  readonly after: readonly Step[];
  readonly acceptOf: Int32Array;
  readonly acceptAtEndOf: Int32Array;
  readonly atStart: Start;
  readonly elsewhere: Start;
}

interface Start {
  readonly step: Step;
  /** Lowest pattern index that matches the empty string here, or NO_MATCH. */
  readonly accept: number;
  readonly acceptAtEnd: number;
}

function combine(automata: readonly PositionAutomaton[]): Combined {
  const offsets: number[] = [];
  let total = 0;
  for (const a of automata) {
    offsets.push(total);
    total += a.sets.length;
  }
  const shift = (step: Step, pattern: number): Step => ({
    ...step,
    targets: step.targets.map((t) => t + (offsets[pattern] ?? 0)),
  });
  const alphabet = partition(automata.flatMap((a) => a.sets));
  const acceptOf = new Int32Array(total).fill(NO_MATCH);
  const acceptAtEndOf = new Int32Array(total).fill(NO_MATCH);
  automata.forEach((a, pattern) => {
    a.after.forEach((step, p) => {
      const at = p + (offsets[pattern] ?? 0);
      if (step.accept) acceptOf[at] = pattern;
      if (step.acceptAtEnd) acceptAtEndOf[at] = pattern;
    });
  });
  const start = (pick: (a: PositionAutomaton) => Step): Start => {
    const steps = automata.map((a, i) => shift(pick(a), i));
    const lowest = (ok: (s: Step) => boolean) => {
      const i = steps.findIndex(ok);
      return i < 0 ? NO_MATCH : i;
    };
    return {
      step: {
        targets: steps.flatMap((s) => s.targets),
        counts: steps.flatMap((s) => s.counts),
        accept: false,
        acceptAtEnd: false,
      },
      accept: lowest((s) => s.accept),
      acceptAtEnd: lowest((s) => s.acceptAtEnd),
    };
  };
  return {
    alphabet,
    classesOf: automata.flatMap((a) => a.sets.map((s) => alphabet.classesOf(s))),
    after: automata.flatMap((a, i) => a.after.map((step) => shift(step, i))),
    acceptOf,
    acceptAtEndOf,
    atStart: start((a) => a.atStart),
    elsewhere: start((a) => a.elsewhere),
  };
}

/** States in discovery order (0 is the initial one), with unnumbered transitions. */
interface Raw {
  readonly sets: readonly Int32Array[];
  readonly rows: readonly number[];
  readonly accept: readonly number[];
  readonly acceptAtEnd: readonly number[];
  readonly dead: number;
  /** The state of the empty set (nothing under way), or -1. */
  readonly empty: number;
}

function explore(all: Combined, limits: DfaLimits): Raw | undefined {
  const C = all.alphabet.size;
  // Interned sets are the states after the first unit; state s > 0 is set s - 1.
  const sets = new Interner();
  const gatherer = new Gatherer(all.after.length);
  const buckets: number[][] = Array.from({ length: C }, () => []);
  const rows: number[] = [];
  let work = 0;
  for (let s = 0; s <= sets.size; s++) {
    const { targets } = gatherer.gather(
      sourcesOf(all, s === 0 ? undefined : sets.lists[s - 1]),
      [],
    );
    for (const b of buckets) b.length = 0;
    for (const t of targets) {
      const classes = all.classesOf[t] ?? [];
      for (const c of classes) buckets[c]?.push(t);
      work += classes.length + 1;
    }
    for (const bucket of buckets) rows.push(sets.intern(bucket) + 1);
    work += C;
    if (sets.size + 1 > limits.maxStates || work > limits.maxWork) return undefined;
  }
  const allSets = [new Int32Array(0), ...sets.lists];
  const empty = sets.lists.findIndex((l) => l.length === 0);
  return {
    sets: allSets,
    rows,
    ...acceptance(all, allSets),
    dead: deadState(all, empty < 0 ? -1 : empty + 1),
    empty: empty < 0 ? -1 : empty + 1,
  };
}

/** What may consume the next unit from a state (the initial one: undefined). */
function sourcesOf(all: Combined, set: Int32Array | undefined): Step[] {
  if (set === undefined) return [all.atStart.step];
  const steps = [all.elsewhere.step];
  for (const p of set) steps.push(all.after[p] as Step);
  return steps;
}

function acceptance(all: Combined, sets: readonly Int32Array[]) {
  const lowest = (set: Int32Array, of: Int32Array, base: number) =>
    set.reduce((m, p) => Math.min(m, of[p] ?? NO_MATCH), base);
  return {
    accept: sets.map((set, s) =>
      s === 0 ? all.atStart.accept : lowest(set, all.acceptOf, all.elsewhere.accept),
    ),
    acceptAtEnd: sets.map((set, s) =>
      s === 0 ? all.atStart.acceptAtEnd : lowest(set, all.acceptAtEndOf, all.elsewhere.acceptAtEnd),
    ),
  };
}

/** The empty set is dead when no pattern can start after offset 0 (all are `^`-anchored). */
function deadState(all: Combined, empty: number): number {
  const restarts = all.elsewhere.step.targets.length > 0 || all.elsewhere.accept !== NO_MATCH;
  return empty < 0 || restarts ? -1 : empty;
}

/**
 * The code unit that alone leads out of the empty set's state, if there is
 * exactly one (and the state neither accepts nor is dead); else undefined.
 */
function skipUnit(raw: Raw, alphabet: Alphabet): number | undefined {
  const C = alphabet.size;
  const e = raw.empty;
  if (e < 0 || e === raw.dead || raw.accept[e] !== NO_MATCH) return undefined;
  const leaving = new Set<number>();
  for (let c = 0; c < C; c++) if (raw.rows[e * C + c] !== e) leaving.add(c);
  const units = alphabet.intervals.filter((iv) => leaving.has(iv.cls));
  const [only] = units;
  return units.length === 1 && only !== undefined && only.lo === only.hi ? only.lo : undefined;
}

/** Renumbers so that accepting, dead and skipping states come last, and premultiplies rows. */
function layout(raw: Raw, alphabet: Alphabet): Dfa {
  const C = alphabet.size;
  const n = raw.sets.length;
  const skip = skipUnit(raw, alphabet);
  const idle = skip === undefined ? -1 : raw.empty;
  const special = (s: number) => raw.accept[s] !== NO_MATCH || s === raw.dead || s === idle;
  const order = [...Array(n).keys()].sort((a, b) => Number(special(a)) - Number(special(b)));
  const rank = new Int32Array(n);
  order.forEach((s, r) => {
    rank[s] = r;
  });
  const transitions = new Int32Array(n * C);
  const accept = new Int32Array(n);
  const acceptAtEnd = new Int32Array(n);
  order.forEach((s, r) => {
    accept[r] = raw.accept[s] ?? NO_MATCH;
    acceptAtEnd[r] = raw.acceptAtEnd[s] ?? NO_MATCH;
    for (let c = 0; c < C; c++) transitions[r * C + c] = (rank[raw.rows[s * C + c] ?? 0] ?? 0) * C;
  });
  const firstSpecial = order.findIndex(special);
  return {
    classOf: classMap(alphabet),
    classCount: C,
    stateCount: n,
    transitions,
    accept,
    acceptAtEnd,
    initial: (rank[0] ?? 0) * C,
    specialFrom: (firstSpecial < 0 ? n : firstSpecial) * C,
    dead: raw.dead < 0 ? -1 : (rank[raw.dead] ?? 0) * C,
    idle: idle < 0 ? -1 : (rank[idle] ?? 0) * C,
    skipTo: skip === undefined ? "" : String.fromCharCode(skip),
  };
}
