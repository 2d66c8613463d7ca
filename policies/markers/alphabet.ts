/**
 * The alphabet partition: code units that every set of the automaton treats
 * alike share one class, so transition tables have one column per class
 * instead of 65536.
 */
import { type CharSet, intersection, key, MAX_UNIT, sampleUnit } from "./charset.ts";

export interface Alphabet {
  /** Number of classes. */
  readonly size: number;
  /** Elementary intervals [lo, hi] (inclusive) and their class, covering 0..0xFFFF. */
  readonly intervals: readonly { readonly lo: number; readonly hi: number; readonly cls: number }[];
  /** The classes a set is made of, ascending. */
  classesOf(set: CharSet): readonly number[];
  /** A code unit of the class to show an operator: printable ASCII when there is one. */
  sample(cls: number): number;
}

export function partition(sets: readonly CharSet[]): Alphabet {
  const distinct = [...new Map(sets.map((s) => [key(s), s])).values()];
  const bounds = boundaries(distinct);
  const signatures: number[][] = bounds.slice(0, -1).map(() => []);
  distinct.forEach((set, id) => {
    forEachInterval(bounds, set, (i) => signatures[i]?.push(id));
  });
  const classIds = new Map<string, number>();
  const intervals = signatures.map((signature, i) => {
    const sig = signature.join(",");
    const cls = classIds.get(sig) ?? classIds.size;
    classIds.set(sig, cls);
    return { lo: bounds[i] ?? 0, hi: (bounds[i + 1] ?? 0) - 1, cls };
  });
  return {
    size: classIds.size,
    intervals,
    classesOf(set) {
      const classes = new Set<number>();
      forEachInterval(bounds, set, (i) => classes.add(intervals[i]?.cls ?? 0));
      return [...classes].sort((a, b) => a - b);
    },
    sample(cls) {
      const ranges = intervals.filter((iv) => iv.cls === cls).flatMap((iv) => [iv.lo, iv.hi]);
      const printable = intersection(ranges, [0x21, 0x7e]);
      return sampleUnit(printable.length > 0 ? printable : ranges) ?? 0;
    },
  };
}

/** The code unit -> class map the matcher indexes with charCodeAt. */
export function classMap(alphabet: Alphabet): Uint16Array {
  const map = new Uint16Array(MAX_UNIT + 1);
  for (const { lo, hi, cls } of alphabet.intervals) map.fill(cls, lo, hi + 1);
  return map;
}

/** Sorted interval starts, ending with 0x10000. */
function boundaries(sets: readonly CharSet[]): number[] {
  const points = new Set<number>([0, MAX_UNIT + 1]);
  for (const set of sets) {
    for (let i = 0; i < set.length; i += 2) {
      points.add(set[i] ?? 0);
      points.add((set[i + 1] ?? 0) + 1);
    }
  }
  return [...points].sort((a, b) => a - b);
}

/** Calls `visit` with the index of every elementary interval inside `set`. */
function forEachInterval(bounds: readonly number[], set: CharSet, visit: (i: number) => void) {
  for (let r = 0; r < set.length; r += 2) {
    const hi = set[r + 1] ?? 0;
    for (let i = lowerBound(bounds, set[r] ?? 0); (bounds[i] ?? Infinity) <= hi; i++) visit(i);
  }
}

function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] ?? 0) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
