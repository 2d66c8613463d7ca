/**
 * A validating JSON lexer over a string, by char codes: it checks every token
 * of RFC 8259 and skips whole values it is told to skip, still checking them,
 * without building anything. Positions are UTF-16 offsets; `end` bounds the
 * scan (a line of NDJSON, or the text received so far).
 */
import type { KeyStack } from "./keys.ts";
import { NEED_MORE, uninspectable } from "./result.ts";

export const QUOTE = 34;
export const BACKSLASH = 92;
export const COMMA = 44;
export const COLON = 58;
export const OPEN_OBJECT = 123;
export const CLOSE_OBJECT = 125;
export const OPEN_ARRAY = 91;
export const CLOSE_ARRAY = 93;

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isHex = (c: number): boolean =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);

export class JsonLexer {
  pos = 0;
  /** Offset of `text` in the whole body (a stream drops what it has cut), for messages. */
  base = 0;
  /**
   * Whether `end` is the end of the value's text. When it is not (a stream
   * still receiving), running into `end` inside a value throws NEED_MORE
   * instead of refusing: the same bytes may be valid once more came.
   */
  final = true;
  /** Set by `scanString`: the last string held escapes, so its text is not its value. */
  escaped = false;
  /** The last key read by `readKey`: its token [keyAt, keyEnd), and its value when it held escapes. */
  keyAt = 0;
  keyEnd = 0;
  keyDecoded: string | undefined = undefined;

  constructor(
    public text: string,
    public end: number,
    readonly maxDepth: number,
    /** The scan's key stack, for objects whose keys are only checked. */
    readonly keys: KeyStack,
  ) {
    keys.reset(text);
  }

  /** Points the lexer at new text (a stream's buffer); no object may be open. */
  reset(text: string, base: number): void {
    this.text = text;
    this.end = text.length;
    this.base = base;
    this.keys.reset(text);
  }

  /**
   * Refuses the text at `at`, decided by reading up to `probe`; when `probe`
   * is past the text received so far and more may come, asks for more instead.
   */
  fail(what: string, at: number = this.pos, probe: number = at): never {
    if (probe >= this.end && !this.final) throw NEED_MORE;
    throw uninspectable(
      "parse_error",
      `invalid JSON at offset ${this.base + at}: ${what}`,
      this.base + Math.min(probe, this.end),
    );
  }

  tooDeep(): never {
    throw uninspectable("too_deep", `JSON nested deeper than ${this.maxDepth} levels`);
  }

  /** Refuses the key at `at`, a duplicate seen once its closing quote at `probe` was read. */
  duplicate(at: number, probe: number): never {
    throw uninspectable(
      "duplicate_key",
      `duplicate key in an object at offset ${this.base + at}`,
      this.base + probe,
    );
  }

  /** The first position at or after `i` that is not JSON whitespace. */
  ws(i: number): number {
    const t = this.text;
    const end = this.end;
    while (i < end) {
      const c = t.charCodeAt(i);
      if (c !== 32 && c !== 10 && c !== 13 && c !== 9) break;
      i++;
    }
    return i;
  }

  /** Validates the string token opening at `start`; returns the offset after its closing quote. */
  scanString(start: number): number {
    const t = this.text;
    const end = this.end;
    let escaped = false;
    let i = start + 1;
    while (i < end) {
      const c = t.charCodeAt(i);
      // Most units are neither a quote, a backslash, a control character nor a surrogate: one test, on.
      if (c > QUOTE && c < 0xd800 && c !== BACKSLASH) {
        i++;
        continue;
      }
      if (c === QUOTE) {
        this.escaped = escaped;
        return i + 1;
      }
      if (c === BACKSLASH) {
        i = this.scanEscape(i);
        escaped = true;
      } else if (c < 32) {
        this.fail("control character in a string", i);
      } else if (c >= 0xd800 && c <= 0xdfff) {
        // A raw unpaired surrogate is not Unicode text; escaped ones (\ud800) are fine.
        if (c > 0xdbff) this.fail("unpaired surrogate in a string", i);
        const next = t.charCodeAt(i + 1);
        if (i + 1 >= end || !(next >= 0xdc00 && next <= 0xdfff)) {
          this.fail("unpaired surrogate in a string", i, i + 1);
        }
        i += 2;
      } else {
        i++;
      }
    }
    return this.fail("unterminated string", start, end);
  }

  private scanEscape(i: number): number {
    const t = this.text;
    if (i + 1 >= this.end) this.fail("invalid escape", i, i + 1);
    const c = t.charCodeAt(i + 1);
    // " \ / b f n r t
    if (c === 34 || c === 92 || c === 47 || c === 98 || c === 102 || c === 110 || c === 114) {
      return i + 2;
    }
    if (c === 116) return i + 2;
    if (c === 117) {
      for (let k = i + 2; k < i + 6; k++) {
        if (k >= this.end || !isHex(t.charCodeAt(k))) this.fail("invalid \\u escape", i, k);
      }
      return i + 6;
    }
    return this.fail("invalid escape", i, i + 1);
  }

  /** Validates the number token at `start` (RFC 8259 grammar); returns its end. */
  scanNumber(start: number): number {
    const t = this.text;
    let i = start;
    let c = t.charCodeAt(i);
    if (c === 45) c = t.charCodeAt(++i);
    if (c === 48) {
      c = t.charCodeAt(++i);
    } else if (c >= 49 && c <= 57) {
      do c = t.charCodeAt(++i);
      while (isDigit(c));
    } else {
      this.fail("invalid value", start, i);
    }
    if (c === 46) {
      c = t.charCodeAt(++i);
      if (!isDigit(c)) this.fail("a fraction needs digits", i);
      do c = t.charCodeAt(++i);
      while (isDigit(c));
    }
    if (c === 101 || c === 69) {
      c = t.charCodeAt(++i);
      if (c === 43 || c === 45) c = t.charCodeAt(++i);
      if (!isDigit(c)) this.fail("an exponent needs digits", i);
      do c = t.charCodeAt(++i);
      while (isDigit(c));
    }
    // A number ends where something else begins: at the end of what came so far, more digits may follow.
    if (i >= this.end) this.numberAtEnd(start, i);
    return i;
  }

  private numberAtEnd(start: number, i: number): void {
    if (i > this.end) this.fail("truncated number", start, this.end);
    if (!this.final) throw NEED_MORE;
  }

  /** Validates true, false or null at `start`; returns its end. */
  scanLiteral(start: number): number {
    const t = this.text;
    const c = t.charCodeAt(start);
    const word = c === 116 ? "true" : c === 102 ? "false" : c === 110 ? "null" : "";
    if (word !== "" && start + word.length <= this.end && t.startsWith(word, start)) {
      return start + word.length;
    }
    if (start >= this.end) this.fail("unexpected end", start);
    if (word === "") this.fail("invalid value", start);
    // The first char that differs from the word decides; running out first may just be a split.
    let k = 1;
    while (
      start + k < this.end &&
      k < word.length &&
      t.charCodeAt(start + k) === word.charCodeAt(k)
    ) {
      k++;
    }
    return this.fail("invalid value", start, start + k);
  }

  /** Validates the scalar at `pos` and moves past it. */
  skipScalar(): void {
    const c = this.text.charCodeAt(this.pos);
    if (c === QUOTE) this.pos = this.scanString(this.pos);
    else if (c === 45 || isDigit(c)) this.pos = this.scanNumber(this.pos);
    else this.pos = this.scanLiteral(this.pos);
  }

  /** Validates the value at `pos` (inside a container at `depth`) and moves past it. */
  skipValue(depth: number): void {
    const c = this.text.charCodeAt(this.pos);
    if (c === OPEN_OBJECT) this.skipObject(depth + 1);
    else if (c === OPEN_ARRAY) this.skipArray(depth + 1);
    else this.skipScalar();
  }

  /**
   * Reads the key at `pos` of the object opened at `base` (see KeyStack),
   * refusing one it already holds; leaves `pos` on the member's value.
   */
  readKey(base: number, depth: number): void {
    const t = this.text;
    const start = this.pos;
    if (t.charCodeAt(start) !== QUOTE) this.fail("expected a key", start);
    const end = this.scanString(start);
    const decoded = this.escaped ? (JSON.parse(t.slice(start, end)) as string) : undefined;
    if (!this.keys.add(base, depth, start, end, decoded)) this.duplicate(start, end - 1);
    this.keyAt = start;
    this.keyEnd = end;
    this.keyDecoded = decoded;
    this.toValue(end);
  }

  /** Moves past the ':' that must follow a key ending at `end`, onto the member's value. */
  toValue(end: number): void {
    const t = this.text;
    let i = end;
    if (t.charCodeAt(i) !== COLON) {
      i = this.ws(i);
      if (t.charCodeAt(i) !== COLON) this.fail("expected ':'", i);
    }
    i++;
    const c = t.charCodeAt(i);
    this.pos = c === 32 || c === 10 || c === 13 || c === 9 ? this.ws(i) : i;
  }

  /** After a member or element: true on ',', false on the closing `close` char (both consumed). */
  nextItem(close: number): boolean {
    const t = this.text;
    let i = this.pos;
    let c = t.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9) {
      i = this.ws(i);
      c = t.charCodeAt(i);
    }
    if (c === COMMA) {
      i++;
      c = t.charCodeAt(i);
      this.pos = c === 32 || c === 10 || c === 13 || c === 9 ? this.ws(i) : i;
      return true;
    }
    if (c === close && i < this.end) {
      this.pos = i + 1;
      return false;
    }
    return this.fail(close === CLOSE_OBJECT ? "expected ',' or '}'" : "expected ',' or ']'", i);
  }

  /**
   * Enters the container opening at `pos` (at nesting `depth`); false when it
   * is empty (and then already left).
   */
  enter(depth: number, close: number): boolean {
    if (depth > this.maxDepth) this.tooDeep();
    const i = this.ws(this.pos + 1);
    if (this.text.charCodeAt(i) === close && i < this.end) {
      this.pos = i + 1;
      return false;
    }
    this.pos = i;
    return true;
  }

  skipObject(depth: number): void {
    if (!this.enter(depth, CLOSE_OBJECT)) return;
    const base = this.keys.open(depth);
    do {
      this.readKey(base, depth);
      this.skipValue(depth);
    } while (this.nextItem(CLOSE_OBJECT));
    this.keys.close(base, depth);
  }

  skipArray(depth: number): void {
    if (!this.enter(depth, CLOSE_ARRAY)) return;
    do this.skipValue(depth);
    while (this.nextItem(CLOSE_ARRAY));
  }
}
