/**
 * The hot path: one pass over the value's code units through the transition
 * table. It runs on every value leaving the gateway, so the loop touches only
 * typed arrays and does one comparison per unit beyond the lookup; it turns
 * aside only for "special" states (numbered last): accepting, dead, or idle
 * with a single unit to skip to.
 */
import { type Dfa, NO_MATCH } from "./dfa.ts";
import type { MarkerMatcher } from "./types.ts";

export class DfaMatcher implements MarkerMatcher {
  readonly #classOf: Uint16Array;
  readonly #transitions: Int32Array;
  readonly #accept: Int32Array;
  readonly #acceptAtEnd: Int32Array;
  readonly #classCount: number;
  readonly #initial: number;
  readonly #specialFrom: number;
  readonly #dead: number;
  readonly #idle: number;
  readonly #skipTo: string;
  readonly #skipUnit: number;
  /** No value shorter than this can match: most short values (numbers, codes) need no scan at all. */
  readonly #shortest: number;

  constructor(
    readonly size: number,
    dfa: Dfa,
  ) {
    this.#classOf = dfa.classOf;
    this.#transitions = dfa.transitions;
    this.#accept = dfa.accept;
    this.#acceptAtEnd = dfa.acceptAtEnd;
    this.#classCount = dfa.classCount;
    this.#initial = dfa.initial;
    this.#specialFrom = dfa.specialFrom;
    this.#dead = dfa.dead;
    this.#idle = dfa.idle;
    this.#skipTo = dfa.skipTo;
    this.#skipUnit = dfa.skipTo === "" ? -1 : dfa.skipTo.charCodeAt(0);
    this.#shortest = shortestMatch(dfa);
  }

  firstMatch(value: string): number {
    return this.firstMatchIn(value, 0, value.length);
  }

  /**
   * firstMatch of `text.slice(from, to)`, without the slice. From the idle
   * state it steps to the skip unit by a plain loop bounded by `to` rather
   * than indexOf, which would look past `to` (quadratic over the values of
   * one long text).
   */
  firstMatchIn(text: string, from: number, to: number): number {
    const classOf = this.#classOf;
    const transitions = this.#transitions;
    const specialFrom = this.#specialFrom;
    let state = this.#initial;
    if (to - from < this.#shortest) return -1;
    let best = this.#accept[state / this.#classCount] as number;
    if (best === 0) return 0;
    const whole = from === 0 && to === text.length;
    for (let i = from; i < to; i++) {
      state = transitions[state + (classOf[text.charCodeAt(i)] as number)] as number;
      if (state >= specialFrom) {
        if (state === this.#idle) {
          // Nothing under way and only one unit can start something: jump to it.
          if (whole) {
            const next = text.indexOf(this.#skipTo, i + 1);
            if (next < 0) break;
            i = next - 1;
          } else {
            const unit = this.#skipUnit;
            let next = i + 1;
            while (next < to && text.charCodeAt(next) !== unit) next++;
            if (next >= to) break;
            i = next - 1;
          }
          continue;
        }
        if (state === this.#dead) break;
        // Keep scanning after a match: a lower-numbered pattern may still match later.
        const found = this.#accept[state / this.#classCount] as number;
        if (found < best) {
          if (found === 0) return 0;
          best = found;
        }
      }
    }
    const atEnd = this.#acceptAtEnd[state / this.#classCount] as number;
    if (atEnd < best) best = atEnd;
    return best === NO_MATCH ? -1 : best;
  }
}

/**
 * The length of the shortest input that matches some pattern: the fewest
 * steps from the initial state to one that accepts, or accepts at the end
 * (breadth first over the table); Infinity when none can be reached.
 */
function shortestMatch(dfa: Dfa): number {
  const C = dfa.classCount;
  const seen = new Uint8Array(dfa.stateCount);
  let frontier = [dfa.initial / C];
  seen[dfa.initial / C] = 1;
  for (let steps = 0; frontier.length > 0; steps++) {
    const next: number[] = [];
    for (const s of frontier) {
      if (dfa.accept[s] !== NO_MATCH || dfa.acceptAtEnd[s] !== NO_MATCH) return steps;
      for (let c = 0; c < C; c++) {
        const t = (dfa.transitions[s * C + c] as number) / C;
        if (seen[t] === 0) {
          seen[t] = 1;
          next.push(t);
        }
      }
    }
    frontier = next;
  }
  return Number.POSITIVE_INFINITY;
}
