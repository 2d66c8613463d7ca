/**
 * The ambiguity bound. A backtracking engine, from one start offset, keeps
 * (on its stack) every partial match it has not yet ruled out; for a given
 * input prefix their number is the number of distinct NFA paths that read it.
 * We explore the pattern's inputs with those counts (a weighted subset
 * construction) and refuse the pattern when some input is read by more than
 * MAX_AMBIGUITY paths.
 *
 * Paths stop being counted where the match may end (an accepting position):
 * an engine that gets there succeeds, once it has tried the continuations it
 * prefers (a greedy `.*` at the end first eats the rest of the input). Those
 * continuations are counted from each accepting position afresh, so the
 * bound holds from the start offset and from every point where a match could
 * end. Counts that grow with the input (`^.*a.*a$`, `(.*a){20}`, `\d+\d+x`:
 * polynomial backtracking) or are merely huge (`(a|a){30}`: 2^30) exceed the
 * bound; unambiguous patterns stay at 1 per live position.
 */
import { partition } from "./alphabet.ts";
import { sampleUnit } from "./charset.ts";
import { showInput } from "./describe.ts";
import { MAX_AMBIGUITY, MAX_ANALYSIS_STATES } from "./limits.ts";
import type { PositionAutomaton, Step } from "./positions.ts";
import { Gatherer, Interner } from "./subsets.ts";

export type AmbiguityVerdict =
  | { readonly kind: "bounded" }
  | { readonly kind: "ambiguous"; readonly message: string }
  /** The analysis ran out of budget before it could decide. */
  | { readonly kind: "too_complex" };

export function checkAmbiguity(pa: PositionAutomaton): AmbiguityVerdict {
  return new Analysis(pa).run();
}

class Analysis {
  private readonly alphabet;
  private readonly classesOf: readonly (readonly number[])[];
  private readonly gatherer: Gatherer;
  /** States as [position, paths, position, paths, ...], ascending positions. */
  private readonly states = new Interner();
  private readonly parent: number[] = [];
  private readonly unit: number[] = [];
  private readonly buckets: number[][];

  constructor(private readonly pa: PositionAutomaton) {
    this.alphabet = partition(pa.sets);
    this.classesOf = pa.sets.map((s) => this.alphabet.classesOf(s));
    this.gatherer = new Gatherer(pa.sets.length);
    this.buckets = Array.from({ length: this.alphabet.size }, () => []);
  }

  run(): AmbiguityVerdict {
    const { atStart, elsewhere, after } = this.pa;
    // Parent codes: -1 for the start offset, -2 - p for accepting position p.
    const roots: [Step, number][] = [
      [atStart, -1],
      [elsewhere, -1],
      ...after.flatMap((step, p): [Step, number][] => (step.accept ? [[step, -2 - p]] : [])),
    ];
    for (const [root, parent] of roots) {
      const verdict = this.expand([root], [1], parent);
      if (verdict !== undefined) return verdict;
    }
    for (let s = 0; s < this.states.size; s++) {
      const state = this.states.lists[s] as Int32Array;
      const steps: Step[] = [];
      const weights: number[] = [];
      for (let i = 0; i < state.length; i += 2) {
        steps.push(this.pa.after[state[i] ?? 0] as Step);
        weights.push(state[i + 1] ?? 0);
      }
      const verdict = this.expand(steps, weights, s);
      if (verdict !== undefined) return verdict;
    }
    return { kind: "bounded" };
  }

  /** Adds the states reached from `steps` (weighted) on each class; a verdict stops the search. */
  private expand(steps: readonly Step[], weights: readonly number[], from: number) {
    const { targets, paths } = this.gatherer.gather(steps, weights);
    for (const b of this.buckets) b.length = 0;
    targets.forEach((t, i) => {
      if (this.pa.after[t]?.accept) return;
      for (const c of this.classesOf[t] ?? []) this.buckets[c]?.push(t, paths[i] ?? 0);
    });
    for (let c = 0; c < this.buckets.length; c++) {
      const bucket = this.buckets[c] as number[];
      const before = this.states.size;
      if (bucket.length === 0 || this.states.intern(bucket) < before) continue;
      this.parent.push(from);
      this.unit.push(this.alphabet.sample(c));
      const total = bucket.reduce((sum, v, i) => (i % 2 === 1 ? sum + v : sum), 0);
      if (total > MAX_AMBIGUITY) return this.ambiguous(before, total);
      if (this.states.size > MAX_ANALYSIS_STATES) return { kind: "too_complex" } as const;
    }
    return undefined;
  }

  private ambiguous(state: number, total: number): AmbiguityVerdict {
    const input: number[] = [];
    let s = state;
    for (; s >= 0; s = this.parent[s] ?? -1) input.unshift(this.unit[s] ?? 0);
    if (s < -1) input.unshift(...shortestInputTo(this.pa, -2 - s));
    const message =
      `after the input ${showInput(input)} a backtracking engine could be following ${total} ` +
      `different partial matches at once (the limit is ${MAX_AMBIGUITY}), and more on longer ` +
      "input; typical causes are neighbouring quantifiers that can match the same " +
      "characters (`.*a.*b`, `\\d+\\d+x`) or many overlapping optional parts; make each " +
      "character have one way to match";
    return { kind: "ambiguous", message };
  }
}

/** A shortest input that ends having consumed position `target` (breadth-first). */
function shortestInputTo(pa: PositionAutomaton, target: number): number[] {
  const via = new Map<number, number>(); // position -> previous position (-1: first)
  let frontier = [...new Set([...pa.atStart.targets, ...pa.elsewhere.targets])];
  for (const p of frontier) via.set(p, -1);
  while (frontier.length > 0 && !via.has(target)) {
    const next: number[] = [];
    for (const p of frontier) {
      for (const t of pa.after[p]?.targets ?? []) {
        if (!via.has(t)) {
          via.set(t, p);
          next.push(t);
        }
      }
    }
    frontier = next;
  }
  const input: number[] = [];
  for (let p = target; p >= 0; p = via.get(p) ?? -1)
    input.unshift(sampleUnit(pa.sets[p] ?? []) ?? 0);
  return input;
}
