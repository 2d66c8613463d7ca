/**
 * Cutting JSON values to what may leave, in one pass over the text. Values the
 * plan drops are only validated (skipped); released values are emitted as
 * their validated text (exact digits; strings without escapes as they came).
 *
 * Output goes to an array of parts, joined once at the end. Runs of members or
 * elements that leave exactly as they came are not copied piece by piece: the
 * run is remembered as a range of the input and emitted as one slice, and a
 * container that leaves whole is reported as such to its parent (`VERBATIM`).
 */
import type { Feed } from "./feed.ts";
import { KeyReader } from "./keyed.ts";
import type * as Lex from "./lexer.ts";
import type { JsonLexer } from "./lexer.ts";
import type { Output } from "./output.ts";
import type * as Plan from "./plan.ts";
import type { GuardPlan, PlanNode } from "./plan.ts";
import { leak } from "./result.ts";
import type { ScanState } from "./scan.ts";

/* Local copies, checked against their source by type: under tsx an imported constant is read through a getter on every use. */
const QUOTE: typeof Lex.QUOTE = 34;
const OPEN_OBJECT: typeof Lex.OPEN_OBJECT = 123;
const CLOSE_OBJECT: typeof Lex.CLOSE_OBJECT = 125;
const OPEN_ARRAY: typeof Lex.OPEN_ARRAY = 91;
const CLOSE_ARRAY: typeof Lex.CLOSE_ARRAY = 93;
const DROP: typeof Plan.DROP = 0;
const PSEUDONYMIZE: typeof Plan.PSEUDONYMIZE = 2;

/** What a cut value left behind. */
export const NOTHING = 0;
/** Parts were appended to the output. */
export const PARTS = 1;
/** Nothing was appended: the value leaves exactly as its input text [valueAt, pos). */
export const VERBATIM = 2;
export type Emitted = typeof NOTHING | typeof PARTS | typeof VERBATIM;

const REDACTED = '"[REDACTED]"';

/**
 * Cuts JSON values read by `lex` into `out`. The lexer, the key reader and the
 * output are fields, not base classes: a document walker (json.ts) drives the
 * same lexer between the values it hands over to be cut.
 */
export class JsonCutter {
  readonly reader: KeyReader;
  readonly parts: string[];

  constructor(
    readonly plan: GuardPlan,
    readonly lex: JsonLexer,
    readonly out: Output,
    readonly scan: ScanState,
  ) {
    this.reader = new KeyReader(lex, scan);
    this.parts = out.parts;
  }

  push(part: string): void {
    this.out.push(part);
  }

  /** Cuts the record object at `pos` (itself at `depth`) and appends it, `{}` when nothing in it may leave. */
  record(feed: Feed, depth: number): void {
    const lex = this.lex;
    const at = lex.pos;
    const root = this.plan.root;
    let got: Emitted = NOTHING;
    if (root.liveObject) got = this.object(root, depth);
    else lex.skipObject(depth);
    if (got === NOTHING) this.out.push("{}");
    else if (got === VERBATIM) this.out.push(lex.text.slice(at, lex.pos));
    feed.records++;
  }

  /** Cuts the value at `pos` (inside a container at `depth`) under `node`. */
  value(node: PlanNode, depth: number): Emitted {
    const lex = this.lex;
    const c = lex.text.charCodeAt(lex.pos);
    if (c === OPEN_OBJECT) {
      if (node.liveObject) return this.object(node, depth + 1);
      lex.skipObject(depth + 1);
      return NOTHING;
    }
    if (c === OPEN_ARRAY) {
      if (node.liveArray) return this.array(node, depth + 1);
      lex.skipArray(depth + 1);
      return NOTHING;
    }
    if (node.leaf === DROP) {
      lex.skipScalar();
      return NOTHING;
    }
    return this.scalar(node);
  }

  /** The object at `pos` (itself at `depth`), keeping only members that release something. */
  object(node: PlanNode, depth: number): Emitted {
    const lex = this.lex;
    const out = this.out;
    const parts = this.parts;
    const t = lex.text;
    const open = lex.pos;
    if (!lex.enter(depth, CLOSE_OBJECT)) return NOTHING;
    const base = lex.keys.open(depth);
    const stamp = this.scan.newStamp();
    const mark = out.n;
    let index = 0; // the member's place in the object, for the key order guess
    let whole = lex.pos === open + 1; // may the object leave as it came
    let emitted = false;
    let runFrom = -1; // a run of members leaving as they came: [runFrom, runTo)
    let runTo = -1;
    do {
      const child = this.reader.member(node, base, depth, stamp, index++);
      const keyAt = lex.keyAt;
      const keyEnd = lex.keyEnd;
      const decoded = lex.keyDecoded;
      const valueAt = lex.pos;
      const slot = out.n++;
      const got = this.value(child, depth);
      if (got === NOTHING) {
        out.n = slot;
        whole = false;
        continue;
      }
      const keyJson =
        child.unlisted || child.keyMarker >= 0 || decoded !== undefined
          ? this.keyJsonOf(node, child, keyAt, keyEnd, decoded)
          : "";
      if (keyJson === undefined) {
        out.n = slot;
        whole = false;
        continue;
      }
      if (got === VERBATIM && keyJson === "" && valueAt === keyEnd + 1) {
        out.n = slot;
        if (keyAt === runTo + 1) {
          runTo = lex.pos; // only a ',' between: the run goes on
          continue;
        }
        if (runFrom >= 0) {
          out.push(`${emitted ? "," : "{"}${t.slice(runFrom, runTo)}`);
          emitted = true;
          whole = false;
        }
        runFrom = keyAt;
        runTo = lex.pos;
        continue;
      }
      whole = false;
      let head = emitted ? "," : "{";
      if (runFrom >= 0) {
        head = `${head}${t.slice(runFrom, runTo)},`;
        runFrom = runTo = -1;
      }
      emitted = true;
      const key = keyJson === "" ? t.slice(keyAt, keyEnd) : keyJson;
      parts[slot] = `${head}${key}:`;
      if (got === VERBATIM) out.push(t.slice(valueAt, lex.pos));
    } while (lex.nextItem(CLOSE_OBJECT));
    lex.keys.close(base, depth);
    if (whole && runFrom === open + 1 && runTo === lex.pos - 1) {
      out.n = mark;
      return VERBATIM;
    }
    if (runFrom >= 0) {
      out.push(`${emitted ? "," : "{"}${t.slice(runFrom, runTo)}}`);
      return PARTS;
    }
    if (!emitted) {
      out.n = mark;
      return NOTHING;
    }
    out.push("}");
    return PARTS;
  }

  /**
   * The array at `pos`: elements keep their places (an object or array element
   * that releases nothing stays as `{}` / `[]`), dropped scalars go; NOTHING
   * when no element releases anything.
   */
  array(node: PlanNode, depth: number): Emitted {
    const lex = this.lex;
    const out = this.out;
    const t = lex.text;
    const open = lex.pos;
    if (!lex.enter(depth, CLOSE_ARRAY)) return NOTHING;
    const mark = out.n;
    let whole = lex.pos === open + 1;
    let released = false;
    let emitted = false;
    let runFrom = -1;
    let runTo = -1;
    do {
      const at = lex.pos;
      const c = t.charCodeAt(at);
      const slot = out.n++;
      const got = this.value(node, depth);
      if (got === VERBATIM) {
        released = true;
        out.n = slot;
        if (at === runTo + 1) {
          runTo = lex.pos;
          continue;
        }
        if (runFrom >= 0) {
          out.push(`${emitted ? "," : "["}${t.slice(runFrom, runTo)}`);
          emitted = true;
          whole = false;
        }
        runFrom = at;
        runTo = lex.pos;
        continue;
      }
      whole = false;
      if (got === NOTHING && c !== OPEN_OBJECT && c !== OPEN_ARRAY) {
        out.n = slot; // a dropped scalar
        continue;
      }
      if (got === PARTS) released = true;
      let head = emitted ? "," : "[";
      if (runFrom >= 0) {
        head = `${head}${t.slice(runFrom, runTo)},`;
        runFrom = runTo = -1;
      }
      emitted = true;
      this.parts[slot] = got === PARTS ? head : `${head}${c === OPEN_OBJECT ? "{}" : "[]"}`;
    } while (lex.nextItem(CLOSE_ARRAY));
    if (!released) {
      out.n = mark;
      return NOTHING;
    }
    if (whole && runFrom === open + 1 && runTo === lex.pos - 1) {
      out.n = mark;
      return VERBATIM;
    }
    if (runFrom >= 0) {
      out.push(`${emitted ? "," : "["}${t.slice(runFrom, runTo)}]`);
      return PARTS;
    }
    out.push("]");
    return PARTS;
  }

  /**
   * The key text to emit for a released member: "" when the key's own token
   * is canonical, or the text to emit, or undefined when the member must go
   * (a key matching a marker under `redact`).
   */
  private keyJsonOf(
    parent: PlanNode,
    child: PlanNode,
    keyAt: number,
    keyEnd: number,
    decoded: string | undefined,
  ): string | undefined {
    if (child.unlisted) {
      const key = decoded ?? this.lex.text.slice(keyAt + 1, keyEnd - 1);
      if (child.leaf === PSEUDONYMIZE) return this.plan.pseudonyms.jsonFor(JSON.stringify(key));
      const hit = this.plan.markers?.firstMatch(key) ?? -1;
      if (hit >= 0) {
        if (this.plan.block) throw leak(hit, child.path);
        return undefined; // a redacted key would collide with its siblings: the member goes
      }
      return decoded === undefined ? "" : JSON.stringify(decoded);
    }
    if (child.keyMarker >= 0) {
      if (this.plan.block) throw leak(child.keyMarker, parent.unknown.path);
      return undefined;
    }
    return decoded === undefined ? "" : child.keyJson;
  }

  /** A released or pseudonymized scalar at `pos`. */
  private scalar(node: PlanNode): Emitted {
    const lex = this.lex;
    const t = lex.text;
    const start = lex.pos;
    const pseudonymize = node.leaf === PSEUDONYMIZE;
    const markers = this.plan.markers;
    if (t.charCodeAt(start) === QUOTE) {
      const end = lex.scanString(start);
      lex.pos = end;
      const escaped = lex.escaped;
      if (pseudonymize) {
        const token = t.slice(start, end);
        this.out.push(this.plan.pseudonyms.jsonFor(escaped ? canonical(token) : token));
        return PARTS;
      }
      if (markers === null && !escaped) return VERBATIM;
      const value = escaped
        ? (JSON.parse(t.slice(start, end)) as string)
        : t.slice(start + 1, end - 1);
      const hit = markers === null ? -1 : markers.firstMatch(value);
      if (hit >= 0) return this.markerHit(hit, node.path);
      if (!escaped) return VERBATIM;
      this.out.push(JSON.stringify(value));
      return PARTS;
    }
    lex.skipScalar();
    if (pseudonymize) {
      this.out.push(this.plan.pseudonyms.jsonFor(t.slice(start, lex.pos)));
      return PARTS;
    }
    // Markers see a number's text, digits as sent; true, false and null carry nothing to match.
    if (markers === null || !isNumberStart(t.charCodeAt(start))) return VERBATIM;
    const hit = markers.firstMatch(t.slice(start, lex.pos));
    return hit >= 0 ? this.markerHit(hit, node.path) : VERBATIM;
  }

  private markerHit(marker: number, path: string): Emitted {
    if (this.plan.block) throw leak(marker, path);
    this.out.push(REDACTED);
    return PARTS;
  }
}

const isNumberStart = (c: number): boolean => c === 45 || (c >= 48 && c <= 57);

/** Canonical JSON text of a validated string token that held escapes. */
const canonical = (token: string): string => JSON.stringify(JSON.parse(token) as string);
