/**
 * Shared machinery of the two subset constructions (the matcher's automaton
 * and the ambiguity analysis): interning states given as integer lists, and
 * gathering the positions that may consume the next code unit.
 */
import type { Step } from "./positions.ts";

/** Hash-consing of integer lists: equal lists get the same id. */
export class Interner {
  readonly lists: Int32Array[] = [];
  private readonly heads = new Map<number, number>();
  private readonly chain: number[] = [];

  /** The id of this list, adding it when new (then id === lists.length - 1). */
  intern(values: readonly number[]): number {
    const hash = hashOf(values);
    for (let id = this.heads.get(hash) ?? -1; id >= 0; id = this.chain[id] ?? -1) {
      if (equal(this.lists[id] as Int32Array, values)) return id;
    }
    const id = this.lists.length;
    this.lists.push(Int32Array.from(values));
    this.chain.push(this.heads.get(hash) ?? -1);
    this.heads.set(hash, id);
    return id;
  }

  get size(): number {
    return this.lists.length;
  }
}

function hashOf(values: readonly number[]): number {
  let h = 0x811c9dc5;
  for (const v of values) h = Math.imul(h ^ v, 0x01000193);
  return h;
}

function equal(a: Int32Array, b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Scratch space to merge steps over positions 0..size-1. */
export class Gatherer {
  private readonly stamp: Int32Array;
  private readonly sum: Float64Array;
  private current = 0;

  constructor(size: number) {
    this.stamp = new Int32Array(size);
    this.sum = new Float64Array(size);
  }

  /**
   * The union of the steps' targets, ascending, with the paths to each: the
   * step's count times the step's weight, summed over the steps.
   */
  gather(
    steps: readonly Step[],
    weights: readonly number[],
  ): { targets: number[]; paths: number[] } {
    this.current += 1;
    const targets: number[] = [];
    for (let s = 0; s < steps.length; s++) {
      const step = steps[s] as Step;
      const w = weights[s] ?? 1;
      for (let j = 0; j < step.targets.length; j++) {
        const t = step.targets[j] as number;
        const n = (step.counts[j] ?? 0) * w;
        if (this.stamp[t] === this.current) this.sum[t] = (this.sum[t] ?? 0) + n;
        else {
          this.stamp[t] = this.current;
          this.sum[t] = n;
          targets.push(t);
        }
      }
    }
    targets.sort((a, b) => a - b);
    return { targets, paths: targets.map((t) => this.sum[t] ?? 0) };
  }
}
