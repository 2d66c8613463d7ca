/**
 * Reading the keys of objects being cut, against the plan's trie. A key is
 * never sliced out to be looked up: it is compared in place, first to the key
 * met at the same member place last time (records repeat their key order),
 * else through the node's hash table. Keys the plan names are checked for
 * duplicates by stamp; other keys through the key stack. Stamps and guesses
 * belong to the scan (ScanState), never to the shared plan.
 */
import type * as Lex from "./lexer.ts";
import type { JsonLexer } from "./lexer.ts";
import { bucketOf, type PlanNode } from "./plan.ts";
import type * as Scan from "./scan.ts";
import type { ScanState } from "./scan.ts";

/* Local copies, checked against their source by type: under tsx an imported constant is read through a getter on every use. */
const QUOTE: typeof Lex.QUOTE = 34;
const BACKSLASH: typeof Lex.BACKSLASH = 92;
const ORDER_LIMIT: typeof Scan.ORDER_LIMIT = 64;

export class KeyReader {
  constructor(
    readonly lex: JsonLexer,
    readonly scan: ScanState,
  ) {}

  /**
   * Reads the key at `pos` of an object being cut under `node` (stamped
   * `stamp`, its key order `order`: `scan.orderOf(node.id)`) and returns the
   * node it leads to; leaves `pos` on the value.
   */
  member(
    node: PlanNode,
    base: number,
    depth: number,
    stamp: number,
    order: (PlanNode | null)[],
    index: number,
  ): PlanNode {
    const lex = this.lex;
    const t = lex.text;
    const at = lex.pos;
    const stamps = this.scan.stamps;
    // Records repeat their keys in the same order: try the key seen at this place last time.
    const guess = order[index];
    if (guess !== undefined && guess !== null) {
      const to = at + 1 + guess.segment.length;
      if (
        to < lex.end &&
        t.charCodeAt(to) === QUOTE &&
        t.charCodeAt(at) === QUOTE &&
        sameKey(t, at + 1, to, guess.segment)
      ) {
        if (stamps[guess.id] === stamp) lex.duplicate(at, to);
        stamps[guess.id] = stamp;
        lex.keyAt = at;
        lex.keyEnd = to + 1;
        lex.keyDecoded = undefined;
        lex.toValue(to + 1);
        return guess;
      }
    }
    const kid = this.lookUp(node, base, depth, stamp);
    if (index < ORDER_LIMIT) order[index] = kid?.plain ? kid : null;
    return kid ?? node.unknown;
  }

  /** Reads the key at `pos` and finds the kid it names, or null (see `member`). */
  private lookUp(node: PlanNode, base: number, depth: number, stamp: number): PlanNode | null {
    const lex = this.lex;
    const t = lex.text;
    const at = lex.pos;
    if (t.charCodeAt(at) !== QUOTE) lex.fail("expected a key", at);
    const end = lex.end;
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
      keyEnd = lex.scanString(at);
      const escaped = lex.escaped;
      const key = escaped
        ? (JSON.parse(t.slice(at, keyEnd)) as string)
        : t.slice(at + 1, keyEnd - 1);
      if (escaped) decoded = key;
      kid = node.children?.get(key) ?? null;
    }
    if (kid !== null) {
      const stamps = this.scan.stamps;
      if (stamps[kid.id] === stamp) lex.duplicate(at, keyEnd - 1);
      stamps[kid.id] = stamp;
    } else if (!lex.keys.add(base, depth, at, keyEnd, decoded)) {
      lex.duplicate(at, keyEnd - 1);
    }
    lex.keyAt = at;
    lex.keyEnd = keyEnd;
    lex.keyDecoded = decoded;
    lex.toValue(keyEnd);
    return kid;
  }
}

/** Whether the text [from, to) is exactly `key`. */
const sameKey = (t: string, from: number, to: number, key: string): boolean =>
  to - from === key.length && t.startsWith(key, from);
