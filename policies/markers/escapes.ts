/**
 * Escapes after a backslash, outside and inside classes. Without the `u` flag
 * JavaScript quietly reads many odd escapes as something else (`\u{41}` is
 * "u" repeated 41 times, `\x` is "x", `\1` may be octal); markers refuse those
 * rather than guess what the operator meant.
 */
import { type CharSet, complement, DIGIT, SPACE, single, WORD } from "./charset.ts";
import type { Reader } from "./reader.ts";

const CLASS_ESCAPES: Readonly<Record<string, CharSet>> = {
  d: DIGIT,
  D: complement(DIGIT),
  w: WORD,
  W: complement(WORD),
  s: SPACE,
  S: complement(SPACE),
};

const CONTROL_ESCAPES: Readonly<Record<string, number>> = {
  t: 0x09,
  n: 0x0a,
  v: 0x0b,
  f: 0x0c,
  r: 0x0d,
};

const REFUSED_ESCAPES: Readonly<Record<string, string>> = {
  b: "word boundaries (`\\b`) are not supported",
  B: "non-word boundaries (`\\B`) are not supported",
  k: "named backreferences are not supported",
  p: "Unicode property escapes are not supported (they also need the `u` flag)",
  P: "Unicode property escapes are not supported (they also need the `u` flag)",
  c: "control escapes (`\\cX`) are not supported; write `\\xHH`",
};

/** Reads the escape whose backslash is at `r.pos`; answers its code unit set. */
export function readEscape(r: Reader, inClass: boolean): CharSet {
  const start = r.pos;
  r.pos += 1;
  const letter = r.peek();
  if (letter === "") throw r.fail(start, "a lone backslash ends the pattern");
  r.pos += 1;
  const known = CLASS_ESCAPES[letter] ?? controlEscape(letter);
  if (known !== undefined) return known;
  if (letter === "b" && inClass) return single(0x08); // backspace, as JavaScript reads [\b]
  if (letter === "0") return nulEscape(r, start);
  if (letter === "x") return hexEscape(r, start, 2, "`\\x` needs exactly two hex digits");
  if (letter === "u") return hexEscape(r, start, 4, "`\\u` needs exactly four hex digits");
  const refused = REFUSED_ESCAPES[letter];
  if (refused !== undefined) throw r.fail(start, refused);
  if (/[1-9]/.test(letter)) {
    throw r.fail(start, "backreferences (and legacy octal escapes) are not supported");
  }
  if (/[A-Za-z0-9]/.test(letter)) {
    throw r.fail(start, `\`\\${letter}\` is not a supported escape; write \`${letter}\` alone`);
  }
  return single(letter.charCodeAt(0)); // an escaped metacharacter or punctuation
}

function controlEscape(letter: string): CharSet | undefined {
  const unit = CONTROL_ESCAPES[letter];
  return unit === undefined ? undefined : single(unit);
}

function nulEscape(r: Reader, start: number): CharSet {
  if (/[0-9]/.test(r.peek())) {
    r.pos += 1;
    throw r.fail(start, "legacy octal escapes are not supported; write `\\xHH`");
  }
  return single(0);
}

function hexEscape(r: Reader, start: number, digits: number, why: string): CharSet {
  const hex = r.source.slice(r.pos, r.pos + digits);
  if (hex.length !== digits || !/^[0-9A-Fa-f]+$/.test(hex)) throw r.fail(start, why);
  r.pos += digits;
  return single(Number.parseInt(hex, 16));
}
