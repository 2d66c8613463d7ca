/**
 * Parses the supported subset of JavaScript RegExp source (no flags) into a
 * syntax tree. Call it only on sources that `new RegExp` accepts: it assumes
 * well-formed input and raises Unsupported for what markers do not support.
 */
import type { Node, Repeat } from "./ast.ts";
import { DOT } from "./charset.ts";
import { readEscape } from "./escapes.ts";
import { MAX_REPEAT } from "./limits.ts";
import { readClass } from "./parse-class.ts";
import { Reader } from "./reader.ts";

export function parsePattern(source: string): Node {
  const r = new Reader(source);
  const node = parseAlternation(r);
  if (!r.done) throw r.fail(r.pos, "unbalanced `)`");
  return node;
}

function parseAlternation(r: Reader): Node {
  const start = r.pos;
  const branches = [parseSequence(r)];
  while (r.eat("|")) branches.push(parseSequence(r));
  const [only] = branches;
  if (branches.length === 1 && only !== undefined) return only;
  return { kind: "alt", branches, start, end: r.pos };
}

function parseSequence(r: Reader): Node {
  const start = r.pos;
  const items: Node[] = [];
  while (!r.done && r.peek() !== "|" && r.peek() !== ")") items.push(parseTerm(r));
  const [only] = items;
  if (items.length === 1 && only !== undefined) return only;
  if (items.length === 0) return { kind: "empty", start, end: start };
  return { kind: "seq", items, start, end: r.pos };
}

function parseTerm(r: Reader): Node {
  const start = r.pos;
  const atom = parseAtom(r);
  const bounds = readQuantifier(r);
  if (bounds === undefined) return atom;
  r.eat("?"); // laziness changes which match is found, never whether one exists
  if (atom.kind === "assert") throw r.fail(start, "a quantifier on `^` or `$`");
  const repeat: Repeat = { kind: "repeat", body: atom, ...bounds, start, end: r.pos };
  return repeat;
}

function parseAtom(r: Reader): Node {
  const start = r.pos;
  const c = r.peek();
  if (c === "^" || c === "$") {
    r.pos += 1;
    return { kind: "assert", at: c === "^" ? "start" : "end", start, end: r.pos };
  }
  if (c === "(") return parseGroup(r);
  if (c === "[") return { kind: "chars", set: readClass(r), start, end: r.pos };
  if (c === "\\") return { kind: "chars", set: readEscape(r, false), start, end: r.pos };
  refuseStrayMetacharacter(r, c);
  const unit = r.unit();
  const set = c === "." ? DOT : [unit, unit];
  return { kind: "chars", set, start, end: r.pos };
}

/** `*`, `{`, `}` and `]` where an atom should be: JavaScript may read them as literals. */
function refuseStrayMetacharacter(r: Reader, c: string): void {
  const start = r.pos;
  if (c === "*" || c === "+" || c === "?" || (c === "{" && readQuantifier(r) !== undefined)) {
    throw r.fail(start, "a quantifier with nothing to repeat");
  }
  if (c === "{" || c === "}" || c === "]") {
    r.pos += 1;
    throw r.fail(start, `a literal \`${c}\` must be escaped as \`\\${c}\``);
  }
}

function parseGroup(r: Reader): Node {
  const start = r.pos;
  r.pos += 1;
  if (r.eat("?")) readGroupPrefix(r, start);
  const body = parseAlternation(r);
  if (!r.eat(")")) throw r.fail(start, "the group is not closed");
  return body;
}

/** After `(?`: accepts `:` and `<name>`, refuses lookaround and modifiers. */
function readGroupPrefix(r: Reader, start: number): void {
  if (r.eat(":")) return;
  if (r.eat("=") || r.eat("!") || r.eat("<=") || r.eat("<!")) {
    throw r.fail(start, "lookahead and lookbehind assertions are not supported");
  }
  if (r.eat("<")) {
    const close = r.source.indexOf(">", r.pos);
    if (close < 0) throw r.fail(start, "the group name is not closed");
    r.pos = close + 1;
    return;
  }
  r.pos += 1;
  throw r.fail(start, "only `(...)`, `(?:...)` and `(?<name>...)` groups are supported");
}

/** Reads `*`, `+`, `?`, `{n}`, `{n,}` or `{n,m}` at the cursor; undefined (cursor unmoved) if none. */
function readQuantifier(r: Reader): { min: number; max: number } | undefined {
  const start = r.pos;
  if (r.eat("*")) return { min: 0, max: Infinity };
  if (r.eat("+")) return { min: 1, max: Infinity };
  if (r.eat("?")) return { min: 0, max: 1 };
  const braces = /^\{(\d+)(,(\d*))?\}/.exec(r.source.slice(r.pos));
  if (braces === null) return undefined;
  r.pos += braces[0].length;
  const min = Number(braces[1]);
  const max = braces[2] === undefined ? min : braces[3] ? Number(braces[3]) : Infinity;
  for (const digits of [braces[1], braces[3]]) {
    if (digits && Number(digits) > MAX_REPEAT) {
      throw r.fail(start, `the repetition bound ${digits} exceeds the limit of ${MAX_REPEAT}`);
    }
  }
  return { min, max };
}
