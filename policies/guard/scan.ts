/**
 * What one scan of a body owns while it runs: the key stack, the stamps that
 * refuse duplicate keys the plan names, and the key-order guesses. None of it
 * lives in the plan or in a module: several scans of one plan may be in
 * progress at once (streams interleaved chunk by chunk), each with its own
 * state. A plan keeps a few idle states warm (`ScanPool`), so a buffered scan
 * allocates nothing in steady state.
 *
 * The one invariant: a state serves one synchronous step at a time. `enter`
 * asserts it, so a step that re-entered its own scan (a callback writing to the
 * stream it is called from, a state handed out twice) throws instead of
 * corrupting the stack or the stamps.
 */
import { KeyStack } from "./keys.ts";
import { Output } from "./output.ts";
import type { PlanNode } from "./plan.ts";

/** How many member places of an object remember their key. */
export const ORDER_LIMIT = 64;

/** Idle states a plan keeps for reuse; more scans than this at once simply allocate. */
const POOL_LIMIT = 4;

export class ScanState {
  readonly keys = new KeyStack();
  /** Where the scan's cut text goes, warm from the last body. */
  readonly out = new Output();
  /** Per plan node (by id): the stamp of the last object in which its key was seen. */
  readonly stamps: Int32Array;
  /** Per plan node (by id): the kid met at each member place of the last object cut there. */
  readonly orders: ((PlanNode | null)[] | undefined)[];
  #lastStamp = 0;
  #busy = false;

  constructor(nodeCount: number) {
    this.stamps = new Int32Array(nodeCount);
    this.orders = new Array(nodeCount).fill(undefined);
  }

  /** A stamp for a new object, unique within this state's life (the stamps restart when they wrap). */
  newStamp(): number {
    if (this.#lastStamp === 0x7fffffff) {
      this.stamps.fill(0);
      this.#lastStamp = 0;
    }
    return ++this.#lastStamp;
  }

  /** The key order remembered for objects cut under the node with `id`. */
  orderOf(id: number): (PlanNode | null)[] {
    let order = this.orders[id];
    if (order === undefined) {
      order = [];
      this.orders[id] = order;
    }
    return order;
  }

  /** Starts a synchronous step; throws when one is already running on this state. */
  enter(): void {
    if (this.#busy) {
      throw new Error("guard scan re-entered: a scan state serves one synchronous step at a time");
    }
    this.#busy = true;
  }

  leave(): void {
    this.#busy = false;
  }
}

/** Idle scan states of one plan. */
export class ScanPool {
  readonly #idle: ScanState[] = [];

  constructor(private readonly nodeCount: number) {}

  take(): ScanState {
    return this.#idle.pop() ?? new ScanState(this.nodeCount);
  }

  give(state: ScanState): void {
    if (this.#idle.length < POOL_LIMIT && !this.#idle.includes(state)) this.#idle.push(state);
  }
}
