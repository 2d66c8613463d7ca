/**
 * The cut text, as parts joined once: cutting appends slices of the input and
 * small pieces of syntax, and undoes appends by moving `n` back (a member whose
 * value released nothing, a record to cut again once more bytes came).
 */
export class Output {
  readonly parts: string[] = [];
  n = 0;

  push(part: string): void {
    this.parts[this.n++] = part;
  }

  /** Everything appended since the last take, as one string; the parts are emptied. */
  take(): string {
    this.parts.length = this.n;
    const text = this.n === 1 ? (this.parts[0] as string) : this.parts.join("");
    this.n = 0;
    this.parts.length = 0;
    return text;
  }
}
