/**
 * Reading the keys of objects being cut, against the plan's trie. A key is
 * never sliced out to be looked up: it is compared in place, first to the key
 * met at the same member place last time (records repeat their key order),
 * else through the node's hash table. Keys the plan names are checked for
 * duplicates by stamp; other keys through the key stack.
 */
import { BACKSLASH, JsonLexer, QUOTE } from "./lexer.ts";
import { bucketOf, type PlanNode } from "./plan.ts";

/** How many member places of an object remember their key. */
const ORDER_LIMIT = 64;

/** Stamps objects being cut, for PlanNode.stamp; never reused, so plans need no reset between calls. */
let lastStamp = 0;

export class KeyReader extends JsonLexer {
  /** A stamp for a new object, unique across all scans. */
  protected newStamp(): number {
    return ++lastStamp;
  }

  /**
   * Reads the key at `pos` of an object being cut under `node` and returns the
   * node it leads to; leaves `pos` on the value. A key without escapes is
   * hashed while it is scanned and looked up in the node's table, its chars
   * compared in place (no slice); keys the plan names are checked for
   * duplicates by stamp, others through the key stack.
   */
  protected member(
    node: PlanNode,
    base: number,
    depth: number,
    stamp: number,
    index: number,
  ): PlanNode {
    const t = this.text;
    const at = this.pos;
    // Records repeat their keys in the same order: try the key seen at this place last time.
    const guess = node.order[index];
    if (guess !== undefined && guess !== null) {
      const to = at + 1 + guess.segment.length;
      if (
        to < this.end &&
        t.charCodeAt(to) === QUOTE &&
        t.charCodeAt(at) === QUOTE &&
        sameKey(t, at + 1, to, guess.segment)
      ) {
        if (guess.stamp === stamp) this.duplicate(at);
        guess.stamp = stamp;
        this.keyAt = at;
        this.keyEnd = to + 1;
        this.keyDecoded = undefined;
        this.toValue(to + 1);
        return guess;
      }
    }
    const kid = this.lookUp(node, base, depth, stamp);
    if (index < ORDER_LIMIT) node.order[index] = kid?.plain ? kid : null;
    return kid ?? node.unknown;
  }

  /** Reads the key at `pos` and finds the kid it names, or null (see `member`). */
  private lookUp(node: PlanNode, base: number, depth: number, stamp: number): PlanNode | null {
    const t = this.text;
    const at = this.pos;
    if (t.charCodeAt(at) !== QUOTE) this.fail("expected a key", at);
    const end = this.end;
    let h = 0;
    let i = at + 1;
    let c = 0;
    while (i < end) {
      c = t.charCodeAt(i);
      if (c === QUOTE || c === BACKSLASH || c < 32 || (c >= 0xd800 && c <= 0xdfff)) break;
      h = (Math.imul(h, 31) + c) | 0;
      i++;
    }
    let kid: PlanNode | null | undefined = null;
    let decoded: string | undefined;
    let keyEnd: number;
    if (c === QUOTE && i < end) {
      keyEnd = i + 1;
      const table = node.table;
      if (table !== null) {
        kid = table[bucketOf(h, node.mask)] ?? null;
        while (kid !== null && !(kid.hash === h && sameKey(t, at + 1, i, kid.segment))) {
          kid = kid.bucketNext;
        }
      }
    } else {
      // Escapes, or something the lexer must refuse: the slow path decides.
      keyEnd = this.scanString(at);
      const escaped = this.escaped;
      const key = escaped
        ? (JSON.parse(t.slice(at, keyEnd)) as string)
        : t.slice(at + 1, keyEnd - 1);
      if (escaped) decoded = key;
      kid = node.children?.get(key) ?? null;
    }
    if (kid !== null) {
      if (kid.stamp === stamp) this.duplicate(at);
      kid.stamp = stamp;
    } else if (!this.keys.add(base, depth, at, keyEnd, decoded)) {
      this.duplicate(at);
    }
    this.keyAt = at;
    this.keyEnd = keyEnd;
    this.keyDecoded = decoded;
    this.toValue(keyEnd);
    return kid;
  }
}

/** Whether the text [from, to) is exactly `key`. */
function sameKey(t: string, from: number, to: number, key: string): boolean {
  if (to - from !== key.length) return false;
  for (let k = 0; k < key.length; k++) {
    if (t.charCodeAt(from + k) !== key.charCodeAt(k)) return false;
  }
  return true;
}
