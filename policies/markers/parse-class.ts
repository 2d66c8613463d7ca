/** Character classes `[...]`: ranges, negation, escapes inside. */
import { type CharSet, complement, fromRanges, union } from "./charset.ts";
import { readEscape } from "./escapes.ts";
import type { Reader } from "./reader.ts";

/** Reads the class whose `[` is at `r.pos`. */
export function readClass(r: Reader): CharSet {
  const start = r.pos;
  r.pos += 1;
  const negated = r.eat("^");
  let set: CharSet = [];
  for (;;) {
    if (r.done) throw r.fail(start, "the class is not closed");
    if (r.eat("]")) break;
    set = union(set, readItem(r));
  }
  return negated ? complement(set) : set;
}

/** One class atom, or a range `a-z` of two single-unit atoms. */
function readItem(r: Reader): CharSet {
  const start = r.pos;
  const low = readAtom(r);
  if (r.peek() !== "-" || r.peek(1) === "]" || r.peek(1) === "") return low;
  r.pos += 1;
  const high = readAtom(r);
  const lo = singleUnit(low);
  const hi = singleUnit(high);
  if (lo === undefined || hi === undefined) {
    throw r.fail(start, "a `-` next to a class escape such as `\\d` is ambiguous; write `\\-`");
  }
  if (lo > hi) throw r.fail(start, "the range is out of order");
  return fromRanges([lo, hi]);
}

function readAtom(r: Reader): CharSet {
  if (r.peek() === "\\") return readEscape(r, true);
  const unit = r.unit();
  return [unit, unit];
}

function singleUnit(set: CharSet): number | undefined {
  return set.length === 2 && set[0] === set[1] ? set[0] : undefined;
}
