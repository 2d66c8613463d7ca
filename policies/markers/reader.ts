/** A cursor over a pattern source, and the error the parser raises. */

/** The pattern is valid JavaScript but outside what markers support. */
export class Unsupported extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = "Unsupported";
  }
}

export class Reader {
  pos = 0;

  constructor(readonly source: string) {}

  get done(): boolean {
    return this.pos >= this.source.length;
  }

  /** The code unit at the cursor (plus `ahead`), as a one-unit string, or "" past the end. */
  peek(ahead = 0): string {
    return this.source.charAt(this.pos + ahead);
  }

  /** Consumes `text` when the source continues with it. */
  eat(text: string): boolean {
    if (!this.source.startsWith(text, this.pos)) return false;
    this.pos += text.length;
    return true;
  }

  /** Consumes and returns one code unit. */
  unit(): number {
    if (this.done) throw this.fail(this.pos, "the pattern ends too early");
    const unit = this.source.charCodeAt(this.pos);
    this.pos += 1;
    return unit;
  }

  /** An Unsupported error quoting the source from `start` to the cursor. */
  fail(start: number, why: string): Unsupported {
    const end = Math.max(this.pos, start + 1);
    const text = this.source.slice(start, end);
    return new Unsupported(`\`${text}\` at offset ${start} is not supported: ${why}`, start);
  }
}
