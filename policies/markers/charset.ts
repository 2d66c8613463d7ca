/**
 * Sets of UTF-16 code units. Patterns have no `u` flag, so a RegExp matches
 * code units, never code points; every set here lives in 0..0xFFFF.
 */

/** Sorted, disjoint, non-adjacent inclusive ranges: [lo0, hi0, lo1, hi1, ...]. */
export type CharSet = readonly number[];

export const MAX_UNIT = 0xffff;

export const EMPTY: CharSet = [];
export const ANY: CharSet = [0, MAX_UNIT];

/** Sorts and merges any list of inclusive ranges into a CharSet. */
export function fromRanges(ranges: readonly number[]): CharSet {
  const pairs: [number, number][] = [];
  for (let i = 0; i + 1 < ranges.length; i += 2) {
    pairs.push([ranges[i] ?? 0, ranges[i + 1] ?? 0]);
  }
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of pairs) {
    const last = out.length - 1;
    if (last > 0 && lo <= (out[last] ?? 0) + 1) {
      out[last] = Math.max(out[last] ?? 0, hi);
    } else {
      out.push(lo, hi);
    }
  }
  return out;
}

export function single(unit: number): CharSet {
  return [unit, unit];
}

export function union(a: CharSet, b: CharSet): CharSet {
  return fromRanges([...a, ...b]);
}

export function complement(set: CharSet): CharSet {
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < set.length; i += 2) {
    const lo = set[i] ?? 0;
    if (lo > next) out.push(next, lo - 1);
    next = (set[i + 1] ?? 0) + 1;
  }
  if (next <= MAX_UNIT) out.push(next, MAX_UNIT);
  return out;
}

export function intersection(a: CharSet, b: CharSet): CharSet {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i] ?? 0, b[j] ?? 0);
    const hiA = a[i + 1] ?? 0;
    const hiB = b[j + 1] ?? 0;
    if (lo <= Math.min(hiA, hiB)) out.push(lo, Math.min(hiA, hiB));
    if (hiA < hiB) i += 2;
    else j += 2;
  }
  return out;
}

export function isEmpty(set: CharSet): boolean {
  return set.length === 0;
}

export function key(set: CharSet): string {
  return set.join(",");
}

/** A member to show an operator: printable ASCII when there is one, else the lowest unit. */
export function sampleUnit(set: CharSet): number | undefined {
  const printable = intersection(set, [0x21, 0x7e]);
  return printable[0] ?? set[0];
}

// The character class escapes, as ECMAScript defines them (no `u`, no `i` flag).
export const DIGIT: CharSet = [0x30, 0x39];
export const WORD: CharSet = fromRanges([0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a]);
/** WhiteSpace and LineTerminator code units: what `\s` matches. */
export const SPACE: CharSet = fromRanges([
  0x09, 0x0d, 0x20, 0x20, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f,
  0x202f, 0x205f, 0x205f, 0x3000, 0x3000, 0xfeff, 0xfeff,
]);
/** `.` without the `s` flag: everything but the line terminators. */
export const DOT: CharSet = complement(fromRanges([0x0a, 0x0a, 0x0d, 0x0d, 0x2028, 0x2029]));
