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
  }

  firstMatch(value: string): number {
    const classOf = this.#classOf;
    const transitions = this.#transitions;
    const specialFrom = this.#specialFrom;
    let state = this.#initial;
    let best = this.#accept[state / this.#classCount] as number;
    if (best === 0) return 0;
    for (let i = 0, n = value.length; i < n; i++) {
      state = transitions[state + (classOf[value.charCodeAt(i)] as number)] as number;
      if (state >= specialFrom) {
        if (state === this.#idle) {
          // Nothing under way and only one unit can start something: jump to it.
          const next = value.indexOf(this.#skipTo, i + 1);
          if (next < 0) break;
          i = next - 1;
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
