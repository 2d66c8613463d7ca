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
import { KeyReader } from "./keyed.ts";
import { CLOSE_ARRAY, CLOSE_OBJECT, OPEN_ARRAY, OPEN_OBJECT, QUOTE } from "./lexer.ts";
import { DROP, type GuardPlan, type PlanNode, PSEUDONYMIZE } from "./plan.ts";
import { leak } from "./result.ts";

/** What a cut value left behind. */
export const NOTHING = 0;
/** Parts were appended to the output. */
export const PARTS = 1;
/** Nothing was appended: the value leaves exactly as its input text [valueAt, pos). */
export const VERBATIM = 2;
export type Emitted = typeof NOTHING | typeof PARTS | typeof VERBATIM;

const REDACTED = '"[REDACTED]"';

export class JsonCutter extends KeyReader {
  readonly parts: string[] = [];
  n = 0;

  constructor(
    readonly plan: GuardPlan,
    text: string,
    start: number,
    end: number,
  ) {
    super(text, end, plan.maxDepth, start);
  }

  push(part: string): void {
    this.parts[this.n++] = part;
  }

  /** The output so far, as one string. */
  joined(): string {
    this.parts.length = this.n;
    return this.parts.join("");
  }

  /** Cuts the value at `pos` (inside a container at `depth`) under `node`. */
  value(node: PlanNode, depth: number): Emitted {
    const c = this.text.charCodeAt(this.pos);
    if (c === OPEN_OBJECT) {
      if (node.liveObject) return this.object(node, depth + 1);
      this.skipObject(depth + 1);
      return NOTHING;
    }
    if (c === OPEN_ARRAY) {
      if (node.liveArray) return this.array(node, depth + 1);
      this.skipArray(depth + 1);
      return NOTHING;
    }
    if (node.leaf === DROP) {
      this.skipScalar();
      return NOTHING;
    }
    return this.scalar(node);
  }

  /** The object at `pos` (itself at `depth`), keeping only members that release something. */
  object(node: PlanNode, depth: number): Emitted {
    const t = this.text;
    const open = this.pos;
    if (!this.enter(depth, CLOSE_OBJECT)) return NOTHING;
    const base = this.keys.open(depth);
    const stamp = this.newStamp();
    const mark = this.n;
    let index = 0; // the member's place in the object, for the key order guess
    let whole = this.pos === open + 1; // may the object leave as it came
    let emitted = false;
    let runFrom = -1; // a run of members leaving as they came: [runFrom, runTo)
    let runTo = -1;
    do {
      const child = this.member(node, base, depth, stamp, index++);
      const keyAt = this.keyAt;
      const keyEnd = this.keyEnd;
      const decoded = this.keyDecoded;
      const valueAt = this.pos;
      const slot = this.n++;
      const got = this.value(child, depth);
      if (got === NOTHING) {
        this.n = slot;
        whole = false;
        continue;
      }
      const keyJson =
        child.unlisted || child.keyMarker >= 0 || decoded !== undefined
          ? this.keyJsonOf(node, child, keyAt, keyEnd, decoded)
          : "";
      if (keyJson === undefined) {
        this.n = slot;
        whole = false;
        continue;
      }
      if (got === VERBATIM && keyJson === "" && valueAt === keyEnd + 1) {
        this.n = slot;
        if (keyAt === runTo + 1) {
          runTo = this.pos; // only a ',' between: the run goes on
          continue;
        }
        if (runFrom >= 0) {
          this.push(`${emitted ? "," : "{"}${t.slice(runFrom, runTo)}`);
          emitted = true;
          whole = false;
        }
        runFrom = keyAt;
        runTo = this.pos;
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
      this.parts[slot] = `${head}${key}:`;
      if (got === VERBATIM) this.push(t.slice(valueAt, this.pos));
    } while (this.nextItem(CLOSE_OBJECT));
    this.keys.close(base, depth);
    if (whole && runFrom === open + 1 && runTo === this.pos - 1) {
      this.n = mark;
      return VERBATIM;
    }
    if (runFrom >= 0) {
      this.push(`${emitted ? "," : "{"}${t.slice(runFrom, runTo)}}`);
      return PARTS;
    }
    if (!emitted) {
      this.n = mark;
      return NOTHING;
    }
    this.push("}");
    return PARTS;
  }

  /**
   * The array at `pos`: elements keep their places (an object or array element
   * that releases nothing stays as `{}` / `[]`), dropped scalars go; NOTHING
   * when no element releases anything.
   */
  array(node: PlanNode, depth: number): Emitted {
    const t = this.text;
    const open = this.pos;
    if (!this.enter(depth, CLOSE_ARRAY)) return NOTHING;
    const mark = this.n;
    let whole = this.pos === open + 1;
    let released = false;
    let emitted = false;
    let runFrom = -1;
    let runTo = -1;
    do {
      const at = this.pos;
      const c = t.charCodeAt(at);
      const slot = this.n++;
      const got = this.value(node, depth);
      if (got === VERBATIM) {
        released = true;
        this.n = slot;
        if (at === runTo + 1) {
          runTo = this.pos;
          continue;
        }
        if (runFrom >= 0) {
          this.push(`${emitted ? "," : "["}${t.slice(runFrom, runTo)}`);
          emitted = true;
          whole = false;
        }
        runFrom = at;
        runTo = this.pos;
        continue;
      }
      whole = false;
      if (got === NOTHING && c !== OPEN_OBJECT && c !== OPEN_ARRAY) {
        this.n = slot; // a dropped scalar
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
    } while (this.nextItem(CLOSE_ARRAY));
    if (!released) {
      this.n = mark;
      return NOTHING;
    }
    if (whole && runFrom === open + 1 && runTo === this.pos - 1) {
      this.n = mark;
      return VERBATIM;
    }
    if (runFrom >= 0) {
      this.push(`${emitted ? "," : "["}${t.slice(runFrom, runTo)}]`);
      return PARTS;
    }
    this.push("]");
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
      const key = decoded ?? this.text.slice(keyAt + 1, keyEnd - 1);
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
    const t = this.text;
    const start = this.pos;
    const pseudonymize = node.leaf === PSEUDONYMIZE;
    const markers = this.plan.markers;
    if (t.charCodeAt(start) === QUOTE) {
      const end = this.scanString(start);
      this.pos = end;
      const escaped = this.escaped;
      if (pseudonymize) {
        const token = t.slice(start, end);
        this.push(this.plan.pseudonyms.jsonFor(escaped ? canonical(token) : token));
        return PARTS;
      }
      if (markers === null && !escaped) return VERBATIM;
      const value = escaped
        ? (JSON.parse(t.slice(start, end)) as string)
        : t.slice(start + 1, end - 1);
      const hit = markers === null ? -1 : markers.firstMatch(value);
      if (hit >= 0) return this.markerHit(hit, node.path);
      if (!escaped) return VERBATIM;
      this.push(JSON.stringify(value));
      return PARTS;
    }
    this.skipScalar();
    if (pseudonymize) {
      this.push(this.plan.pseudonyms.jsonFor(t.slice(start, this.pos)));
      return PARTS;
    }
    // Markers see a number's text, digits as sent; true, false and null carry nothing to match.
    if (markers === null || !isNumberStart(t.charCodeAt(start))) return VERBATIM;
    const hit = markers.firstMatch(t.slice(start, this.pos));
    return hit >= 0 ? this.markerHit(hit, node.path) : VERBATIM;
  }

  private markerHit(marker: number, path: string): Emitted {
    if (this.plan.block) throw leak(marker, path);
    this.push(REDACTED);
    return PARTS;
  }
}

const isNumberStart = (c: number): boolean => c === 45 || (c >= 48 && c <= 57);

/** Canonical JSON text of a validated string token that held escapes. */
const canonical = (token: string): string => JSON.stringify(JSON.parse(token) as string);
