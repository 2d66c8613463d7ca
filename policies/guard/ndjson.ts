/**
 * NDJSON bodies: every line is cut whole, once its line end came; `recordsAt`
 * plays no part.
 */
import type { Feed } from "./feed.ts";
import { LexedFramer } from "./json.ts";
import type * as Lex from "./lexer.ts";
import { NEED_MORE } from "./result.ts";

/* Local copy, checked against its source by type: under tsx an imported constant is read through a getter on every use. */
const OPEN_OBJECT: typeof Lex.OPEN_OBJECT = 123;
const LF = 10;

/** NDJSON: every non-blank line is one JSON value; object lines are records, others are dropped. */
export class NdjsonFramer extends LexedFramer {
  /** Lines are cut once whole, and the search for their end goes on where it stopped. */
  readonly rereads = false;
  /** Where to look for the next line end: the text before it holds none. */
  #searchFrom = 0;

  override retext(feed: Feed): void {
    this.#searchFrom = Math.max(0, this.#searchFrom - (feed.base - this.lex.base));
    this.cutter.out.retext(feed.text);
    this.lex.reset(feed.text, feed.base);
  }

  pump(feed: Feed): void {
    const lex = this.lex;
    const text = feed.text;
    lex.final = true; // a line is cut once it is whole
    while (feed.pos < text.length) {
      feed.begin();
      const lineStart = feed.pos;
      let lineEnd = text.indexOf("\n", Math.max(lineStart, this.#searchFrom));
      if (lineEnd < 0) {
        this.#searchFrom = text.length;
        if (text.length - lineStart > feed.maxUnit) throw feed.tooLarge();
        if (!feed.final) throw NEED_MORE;
        lineEnd = text.length;
      }
      const next = lineEnd + 1;
      if (Math.min(next, text.length) - lineStart > feed.maxUnit) throw feed.tooLarge();
      if (lineEnd > lineStart && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
      lex.end = lineEnd;
      lex.pos = lex.ws(lineStart);
      if (lex.pos < lineEnd) {
        if (text.charCodeAt(lex.pos) === OPEN_OBJECT) {
          this.cutter.record(feed, 1);
          // The line end as it came when it follows the record at once: lines that leave whole join into one range.
          if (text.charCodeAt(lex.pos) === LF) feed.out.range(lex.pos, lex.pos + 1);
          else feed.out.push("\n");
        } else {
          lex.skipValue(0); // a scalar or an array is not a record
        }
        const i = lex.ws(lex.pos);
        if (i < lineEnd) lex.fail("unexpected text after the value", i);
      }
      feed.skip(Math.min(next, text.length));
    }
    lex.end = text.length;
  }

  close(): void {}
}
