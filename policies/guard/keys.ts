/**
 * The keys seen in the objects being scanned, to refuse duplicates
 * (`{"vin":1,"vin":2}` means different things to different parsers). Keys
 * are kept as offsets into the text, one stack for all open objects, so
 * checking allocates nothing; an object that grows past a few dozen keys
 * switches to a Set, so a huge object stays linear. Each scan owns one
 * (ScanState).
 */
const LIST_LIMIT = 24;

export class KeyStack {
  #starts = new Int32Array(256);
  #ends = new Int32Array(256);
  /** The decoded key where the token held escapes (its text is not its value). */
  readonly #decoded: (string | undefined)[] = [];
  readonly #sets: (Set<string> | undefined)[] = [];
  top = 0;
  text = "";

  /** Starts a scan of `text` (or of one unit of it) with no object open; the arrays stay warm. */
  reset(text: string): void {
    this.text = text;
    this.top = 0;
    this.#decoded.length = 0;
    this.#sets.length = 0;
  }

  /** Opens an object at `depth`; returns the base to pass to `add` and `close`. */
  open(depth: number): number {
    this.#sets[depth] = undefined;
    return this.top;
  }

  close(base: number, depth: number): void {
    this.top = base;
    this.#sets[depth] = undefined;
  }

  /**
   * Adds the key token [start, end) (quotes included) to the object opened at
   * `base`; false when the object already holds that key.
   */
  add(
    base: number,
    depth: number,
    start: number,
    end: number,
    decoded: string | undefined,
  ): boolean {
    const set = this.#sets[depth];
    if (set !== undefined) return addToSet(set, this.#value(start, end, decoded));
    for (let i = base; i < this.top; i++) if (this.#same(i, start, end, decoded)) return false;
    if (this.top - base >= LIST_LIMIT) {
      const big = new Set<string>();
      for (let i = base; i < this.top; i++)
        big.add(this.#value(this.#starts[i] as number, this.#ends[i] as number, this.#decoded[i]));
      big.add(this.#value(start, end, decoded));
      this.#sets[depth] = big;
      return true;
    }
    this.#push(start, end, decoded);
    return true;
  }

  #push(start: number, end: number, decoded: string | undefined): void {
    const i = this.top++;
    if (i === this.#starts.length) {
      this.#starts = grow(this.#starts);
      this.#ends = grow(this.#ends);
    }
    this.#starts[i] = start;
    this.#ends[i] = end;
    this.#decoded[i] = decoded;
  }

  #value(start: number, end: number, decoded: string | undefined): string {
    return decoded ?? this.text.slice(start + 1, end - 1);
  }

  #same(i: number, start: number, end: number, decoded: string | undefined): boolean {
    const s = this.#starts[i] as number;
    const e = this.#ends[i] as number;
    const d = this.#decoded[i];
    if (d === undefined && decoded === undefined) {
      if (e - s !== end - start) return false;
      const t = this.text;
      for (let k = 1; k < end - start - 1; k++) {
        if (t.charCodeAt(s + k) !== t.charCodeAt(start + k)) return false;
      }
      return true;
    }
    return this.#value(s, e, d) === this.#value(start, end, decoded);
  }
}

const addToSet = (set: Set<string>, key: string): boolean => {
  if (set.has(key)) return false;
  set.add(key);
  return true;
};

const grow = (a: Int32Array): Int32Array<ArrayBuffer> => {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
};
