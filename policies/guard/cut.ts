/**
 * Cutting JSON values to what may leave, in one pass over the text. Values the
 * plan drops are only validated (skipped); released values are emitted as
 * their validated text (exact digits; strings without escapes as they came).
 *
 * Output goes to an Output (output.ts): small pieces of syntax, and ranges of
 * the input that it joins when they touch, so runs of members or elements that
 * leave exactly as they came are sliced once, however deep.
 */

import type { MarkerMatcher } from "../markers/index.ts";
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
const COMMA: typeof Lex.COMMA = 44;
const OPEN_OBJECT: typeof Lex.OPEN_OBJECT = 123;
const CLOSE_OBJECT: typeof Lex.CLOSE_OBJECT = 125;
const OPEN_ARRAY: typeof Lex.OPEN_ARRAY = 91;
const CLOSE_ARRAY: typeof Lex.CLOSE_ARRAY = 93;
const DROP: typeof Plan.DROP = 0;
const PSEUDONYMIZE: typeof Plan.PSEUDONYMIZE = 2;

const REDACTED = '"[REDACTED]"';

/**
 * Cuts JSON values read by `lex` into `out`. The lexer, the key reader and the
 * output are fields, not base classes: a document walker (json.ts) drives the
 * same lexer between the values it hands over to be cut.
 *
 * Whatever leaves as it came (a key token with its separator and colon, a
 * scalar, the braces) is appended as a range of the input, never sliced here:
 * the output joins adjacent ranges, so a run of members or a whole value that
 * leaves unchanged costs one slice. A member's head is appended before its
 * value is cut and undone (a mark: three numbers) when the value releases
 * nothing.
 */
export class JsonCutter {
  readonly reader: KeyReader;

  constructor(
    readonly plan: GuardPlan,
    readonly lex: JsonLexer,
    readonly out: Output,
    readonly scan: ScanState,
  ) {
    this.reader = new KeyReader(lex, scan);
  }

  /** Cuts the record object at `pos` (itself at `depth`) and appends it, `{}` when nothing in it may leave. */
  record(feed: Feed, depth: number): void {
    const root = this.plan.root;
    if (!root.liveObject) {
      this.lex.skipObject(depth);
      this.out.push("{}");
    } else if (!this.object(root, depth)) {
      this.out.push("{}");
    }
    feed.records++;
  }

  /** Cuts the value at `pos` (inside a container at `depth`) under `node`; false when it released nothing (and appended nothing). */
  value(node: PlanNode, depth: number): boolean {
    const lex = this.lex;
    const c = lex.text.charCodeAt(lex.pos);
    if (c === OPEN_OBJECT) {
      if (node.liveObject) return this.object(node, depth + 1);
      lex.skipObject(depth + 1);
      return false;
    }
    if (c === OPEN_ARRAY) {
      if (node.liveArray) return this.array(node, depth + 1);
      lex.skipArray(depth + 1);
      return false;
    }
    if (node.leaf === DROP) {
      lex.skipScalar();
      return false;
    }
    this.scalar(node);
    return true;
  }

  /** The object at `pos` (itself at `depth`), keeping only members that release something. */
  object(node: PlanNode, depth: number): boolean {
    const lex = this.lex;
    const out = this.out;
    const t = lex.text;
    const open = lex.pos;
    if (!lex.enter(depth, CLOSE_OBJECT)) return false;
    const base = lex.keys.open(depth);
    const stamp = this.scan.newStamp();
    const order = this.scan.orderOf(node.id);
    const n0 = out.n;
    const from0 = out.from;
    const to0 = out.to;
    let index = 0; // the member's place in the object, for the key order guess
    let emitted = false;
    do {
      const child = this.reader.member(node, base, depth, stamp, order, index++);
      if (!child.liveArray) {
        lex.skipValue(depth); // nothing under this key may leave
        continue;
      }
      const keyAt = lex.keyAt;
      const keyEnd = lex.keyEnd;
      const decoded = lex.keyDecoded;
      const n = out.n;
      const from = out.from;
      const to = out.to;
      const key =
        child.unlisted || child.keyMarker >= 0 || decoded !== undefined
          ? this.keyJsonOf(child, keyAt, keyEnd, decoded)
          : "";
      if (key === "") {
        // The key's own token is canonical: it leaves as it came, with its separator and colon when they touch it.
        let at = keyAt;
        if (emitted) {
          if (t.charCodeAt(keyAt - 1) === COMMA) at = keyAt - 1;
          else out.push(",");
        } else if (keyAt === open + 1) {
          at = open;
        } else {
          out.push("{");
        }
        if (lex.pos === keyEnd + 1) {
          out.range(at, keyEnd + 1);
        } else {
          out.range(at, keyEnd);
          out.push(":");
        }
      } else if (typeof key === "string") {
        out.push(emitted ? "," : "{");
        out.push(key);
        out.push(":");
      }
      if (!this.value(child, depth)) {
        out.rewind(n, from, to);
        continue;
      }
      if (typeof key === "number") {
        // A key matching a marker: under redact the member goes (a redacted key would collide with its siblings).
        if (this.plan.block) throw leak(key, child.unlisted ? child.path : node.unknown.path);
        out.rewind(n, from, to);
        continue;
      }
      emitted = true;
    } while (lex.nextItem(CLOSE_OBJECT));
    lex.keys.close(base, depth);
    if (!emitted) {
      out.rewind(n0, from0, to0);
      return false;
    }
    out.range(lex.pos - 1, lex.pos); // the closing brace
    return true;
  }

  /**
   * The array at `pos`: elements keep their places (an object or array element
   * that releases nothing stays as `{}` / `[]`), dropped scalars go; false
   * (nothing appended) when no element releases anything.
   */
  array(node: PlanNode, depth: number): boolean {
    const lex = this.lex;
    const out = this.out;
    const t = lex.text;
    const open = lex.pos;
    if (!lex.enter(depth, CLOSE_ARRAY)) return false;
    const n0 = out.n;
    const from0 = out.from;
    const to0 = out.to;
    let released = false;
    let emitted = false;
    do {
      const at = lex.pos;
      const c = t.charCodeAt(at);
      const n = out.n;
      const from = out.from;
      const to = out.to;
      if (emitted) {
        if (t.charCodeAt(at - 1) === COMMA) out.range(at - 1, at);
        else out.push(",");
      } else if (at === open + 1) {
        out.range(open, at);
      } else {
        out.push("[");
      }
      if (this.value(node, depth)) {
        released = true;
      } else if (c === OPEN_OBJECT) {
        out.push("{}");
      } else if (c === OPEN_ARRAY) {
        out.push("[]");
      } else {
        out.rewind(n, from, to); // a dropped scalar
        continue;
      }
      emitted = true;
    } while (lex.nextItem(CLOSE_ARRAY));
    if (!released) {
      out.rewind(n0, from0, to0);
      return false;
    }
    out.range(lex.pos - 1, lex.pos); // the closing bracket
    return true;
  }

  /**
   * The key text to emit for a member that may release something: "" when
   * the key's own token is canonical, or the text to emit, or the index of
   * the marker the key matches (the member must go; under `block` the whole
   * body, should its value release anything). Decides without throwing, as
   * the value is cut after it: a value that releases nothing never refuses.
   */
  private keyJsonOf(
    child: PlanNode,
    keyAt: number,
    keyEnd: number,
    decoded: string | undefined,
  ): string | number {
    if (child.unlisted) {
      const t = this.lex.text;
      if (child.leaf === PSEUDONYMIZE) {
        const key = decoded ?? t.slice(keyAt + 1, keyEnd - 1);
        return this.plan.pseudonyms.jsonFor(JSON.stringify(key));
      }
      const markers = this.plan.markers;
      if (markers !== null) {
        // A key without escapes is its own value: matched in place.
        const hit =
          decoded === undefined
            ? matchIn(markers, t, keyAt + 1, keyEnd - 1)
            : markers.firstMatch(decoded);
        if (hit >= 0) return hit;
      }
      return decoded === undefined ? "" : JSON.stringify(decoded);
    }
    if (child.keyMarker >= 0) return child.keyMarker;
    return decoded === undefined ? "" : child.keyJson;
  }

  /** A released or pseudonymized scalar at `pos`: appends what leaves of it. */
  private scalar(node: PlanNode): void {
    const lex = this.lex;
    const out = this.out;
    const t = lex.text;
    const start = lex.pos;
    const pseudonymize = node.leaf === PSEUDONYMIZE;
    const markers = this.plan.markers;
    if (t.charCodeAt(start) === QUOTE) {
      const end = lex.scanString(start);
      lex.pos = end;
      if (pseudonymize) {
        const pseudonyms = this.plan.pseudonyms;
        out.push(
          lex.escaped
            ? pseudonyms.jsonFor(canonical(t.slice(start, end)))
            : pseudonyms.jsonForRange(t, start, end),
        );
        return;
      }
      if (lex.escaped) {
        const value = JSON.parse(t.slice(start, end)) as string;
        const hit = markers === null ? -1 : markers.firstMatch(value);
        if (hit >= 0) this.markerHit(hit, node.path);
        else out.push(JSON.stringify(value));
        return;
      }
      // Without escapes the token is canonical and its text is its value: match in place.
      const hit = markers === null ? -1 : matchIn(markers, t, start + 1, end - 1);
      if (hit >= 0) this.markerHit(hit, node.path);
      else out.range(start, end);
      return;
    }
    lex.skipScalar();
    if (pseudonymize) {
      // A number's digits as sent, true, false and null are their own canonical text.
      out.push(this.plan.pseudonyms.jsonForRange(t, start, lex.pos));
      return;
    }
    // Markers see a number's text, digits as sent; true, false and null carry nothing to match.
    const hit =
      markers === null || !isNumberStart(t.charCodeAt(start))
        ? -1
        : matchIn(markers, t, start, lex.pos);
    if (hit >= 0) this.markerHit(hit, node.path);
    else out.range(start, lex.pos);
  }

  private markerHit(marker: number, path: string): void {
    if (this.plan.block) throw leak(marker, path);
    this.out.push(REDACTED);
  }
}

/** The first marker in text [from, to), without a slice when the matcher can match in place. */
const matchIn = (markers: MarkerMatcher, t: string, from: number, to: number): number =>
  markers.firstMatchIn === undefined
    ? markers.firstMatch(t.slice(from, to))
    : markers.firstMatchIn(t, from, to);

const isNumberStart = (c: number): boolean => c === 45 || (c >= 48 && c <= 57);

/** Canonical JSON text of a validated string token that held escapes. */
const canonical = (token: string): string => JSON.stringify(JSON.parse(token) as string);
