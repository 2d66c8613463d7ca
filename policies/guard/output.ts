/**
 * The cut text, as parts joined once. Cutting appends small pieces of syntax
 * and ranges of the source text; a range that starts where the last one ended
 * only extends it, so text that leaves as it came (runs of members, whole
 * values, a key with its separator) becomes one slice however deeply it nests,
 * and is sliced once, when something else follows or at `take`.
 *
 * Appends are undone by restoring a mark (a member whose value released
 * nothing, a record to cut again once more bytes came): the mark is the part
 * count and the pending range, three numbers, so undoing allocates nothing.
 */
/** Most parts whose room an output keeps between takes (about 8 bytes each). */
const KEEP_PARTS = 4096;

export class Output {
  readonly parts: string[] = [];
  n = 0;
  /** The text ranges refer to; pending ranges are flushed before it changes (see `retext`). */
  source = "";
  /** The pending range [from, to) of `source`, not yet sliced into the parts; from < 0 when none. */
  from = -1;
  to = -1;

  /** Appends `part`, after the pending range. */
  push(part: string): void {
    if (this.from >= 0) this.flush();
    this.parts[this.n++] = part;
  }

  /** Appends the source text [from, to). */
  range(from: number, to: number): void {
    if (from === this.to) {
      this.to = to;
      return;
    }
    if (this.from >= 0) this.flush();
    this.from = from;
    this.to = to;
  }

  private flush(): void {
    this.parts[this.n++] = this.source.slice(this.from, this.to);
    this.from = this.to = -1;
  }

  /** Back to where it stood (`n`, `from`, `to` read from it before): undoes what was appended since. */
  rewind(n: number, from: number, to: number): void {
    this.n = n;
    this.from = from;
    this.to = to;
  }

  /** Points ranges at new text; what is pending in the old one is sliced first. */
  retext(source: string): void {
    if (this.from >= 0) this.flush();
    this.source = source;
  }

  /**
   * Everything appended since the last take, as one string. The parts are
   * emptied but keep their room (an output serves one scan state, reused body
   * after body), unless there were many.
   */
  take(): string {
    if (this.from >= 0) this.flush();
    const parts = this.parts;
    const n = this.n;
    if (parts.length !== n) parts.length = n;
    const text = n === 1 ? (parts[0] as string) : parts.join("");
    if (n > KEEP_PARTS) parts.length = 0;
    else if (n > 0) parts.fill("");
    this.n = 0;
    return text;
  }
}

/** Where an Output stood: restore it to undo what was appended since. */
export class OutputMark {
  n = 0;
  from = -1;
  to = -1;

  save(out: Output): void {
    this.n = out.n;
    this.from = out.from;
    this.to = out.to;
  }

  restore(out: Output): void {
    out.rewind(this.n, this.from, this.to);
  }
}
