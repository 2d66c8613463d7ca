/**
 * Epsilon removal: the Thompson NFA becomes a position automaton, whose states
 * are the character-consuming nodes ("positions"). For each position it lists
 * which positions may consume the next code unit and in how many distinct ways
 * (epsilon paths) each is reached: the count is what a backtracking engine
 * would explore, and what the safety analysis measures.
 *
 * Anchors: `^` holds only before the first code unit, so paths through it
 * survive only from the start of the input; `$` holds only at the end, so
 * paths through it can only end the match (acceptAtEnd).
 */
import type { Span } from "./ast.ts";
import type { CharSet } from "./charset.ts";
import type { Nfa } from "./nfa.ts";

/** Counts saturate here: past it, "very many" is all the analysis needs. */
export const COUNT_CAP = 1 << 30;

export interface Step {
  /** Positions that may consume the next code unit. */
  readonly targets: readonly number[];
  /** Distinct epsilon paths to each target (saturated at COUNT_CAP). */
  readonly counts: readonly number[];
  /** The match may end here. */
  readonly accept: boolean;
  /** The match may end here if this is the end of the input (through `$`). */
  readonly acceptAtEnd: boolean;
}

export interface PositionAutomaton {
  readonly sets: readonly CharSet[];
  readonly origins: readonly Span[];
  /** What may follow each position. */
  readonly after: readonly Step[];
  /** What may come first when matching starts at offset 0 (`^` holds). */
  readonly atStart: Step;
  /** What may come first when matching starts at a later offset. */
  readonly elsewhere: Step;
}

/** "exact" honours `^`/`$`; "ignore" reads them as empty (to study a sub-expression alone). */
export type AnchorMode = "exact" | "ignore";

export function toPositions(nfa: Nfa, anchors: AnchorMode): PositionAutomaton {
  const positionOf = new Map<number, number>();
  const sets: CharSet[] = [];
  const origins: Span[] = [];
  nfa.kind.forEach((kind, node) => {
    if (kind !== "char") return;
    positionOf.set(node, sets.length);
    sets.push(nfa.set[node] ?? []);
    origins.push(nfa.origin[node] ?? { start: 0, end: 0 });
  });
  const closure = new Closure(nfa, anchors, positionOf);
  const after = [...positionOf.keys()].map((node) => closure.step(nfa.next[node] ?? [], false));
  return {
    sets,
    origins,
    after,
    atStart: closure.step([nfa.start], true),
    elsewhere: closure.step([nfa.start], false),
  };
}

/** Keys are node * 2 + pastDollar: after `$` only the accept node may follow. */
class Closure {
  constructor(
    private readonly nfa: Nfa,
    private readonly anchors: AnchorMode,
    private readonly positionOf: ReadonlyMap<number, number>,
  ) {}

  step(seeds: readonly number[], allowCaret: boolean): Step {
    const { order, cyclic } = this.topologicalOrder(seeds, allowCaret);
    const paths = new Map<number, number>();
    for (const seed of seeds) paths.set(seed * 2, (paths.get(seed * 2) ?? 0) + 1);
    const targets: number[] = [];
    const counts: number[] = [];
    let accept = false;
    let acceptAtEnd = false;
    for (const key of order) {
      // An epsilon cycle means unboundedly many paths; only the safety rules prevent them.
      const k = cyclic ? COUNT_CAP : (paths.get(key) ?? 0);
      const node = key >> 1;
      const kind = this.nfa.kind[node];
      if (kind === "accept") {
        accept ||= (key & 1) === 0;
        acceptAtEnd = true;
      } else if (kind === "char" && (key & 1) === 0) {
        targets.push(this.positionOf.get(node) ?? -1);
        counts.push(k);
      }
      for (const succ of this.successors(key, allowCaret)) {
        paths.set(succ, Math.min(COUNT_CAP, (paths.get(succ) ?? 0) + k));
      }
    }
    return sortStep(targets, counts, accept, acceptAtEnd);
  }

  private successors(key: number, allowCaret: boolean): number[] {
    const node = key >> 1;
    const pastDollar = key & 1;
    const next = this.nfa.next[node] ?? [];
    switch (this.nfa.kind[node]) {
      case "eps":
        return next.map((n) => n * 2 + pastDollar);
      case "caret":
        return allowCaret || this.anchors === "ignore" ? next.map((n) => n * 2 + pastDollar) : [];
      case "dollar":
        return next.map((n) => n * 2 + (this.anchors === "ignore" ? pastDollar : 1));
      default:
        return [];
    }
  }

  /** Reverse post-order of the epsilon graph reachable from the seeds (iterative DFS). */
  private topologicalOrder(seeds: readonly number[], allowCaret: boolean) {
    const state = new Map<number, 1 | 2>(); // 1: on the stack, 2: done
    const post: number[] = [];
    let cyclic = false;
    for (const seed of seeds) {
      if (state.has(seed * 2)) continue;
      const stack: [number, number[]][] = [[seed * 2, this.successors(seed * 2, allowCaret)]];
      state.set(seed * 2, 1);
      while (stack.length > 0) {
        const top = stack[stack.length - 1];
        if (top === undefined) break;
        const succ = top[1].pop();
        if (succ === undefined) {
          stack.pop();
          state.set(top[0], 2);
          post.push(top[0]);
        } else if (state.get(succ) === 1) {
          cyclic = true;
        } else if (!state.has(succ)) {
          state.set(succ, 1);
          stack.push([succ, this.successors(succ, allowCaret)]);
        }
      }
    }
    return { order: post.reverse(), cyclic };
  }
}

function sortStep(
  targets: number[],
  counts: number[],
  accept: boolean,
  acceptAtEnd: boolean,
): Step {
  const index = targets.map((_, i) => i).sort((a, b) => (targets[a] ?? 0) - (targets[b] ?? 0));
  return {
    targets: index.map((i) => targets[i] ?? 0),
    counts: index.map((i) => counts[i] ?? 0),
    accept,
    acceptAtEnd,
  };
}
