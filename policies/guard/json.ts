/**
 * JSON and NDJSON bodies: find the records (at `recordsAt`, or every line),
 * cut each one, and rebuild the envelope from `recordsAt` alone: nothing
 * outside the records crosses.
 */

import { type Emitted, JsonCutter, NOTHING, VERBATIM } from "./cut.ts";
import { CLOSE_ARRAY, CLOSE_OBJECT, OPEN_ARRAY, OPEN_OBJECT } from "./lexer.ts";
import type { GuardPlan } from "./plan.ts";
import { uninspectable } from "./result.ts";

export interface Cut {
  readonly body: string;
  readonly records: number;
}

const BOM = 0xfeff;
const startOf = (text: string): number => (text.charCodeAt(0) === BOM ? 1 : 0);

class DocumentCutter extends JsonCutter {
  records = 0;
  found = false;
  /** Whether the shape around the records was wrong; reported once the whole text is validated. */
  misshapen = false;

  /** Cuts the record object at `pos` (itself at `depth`) and appends it, `{}` when nothing in it may leave. */
  record(depth: number): void {
    const at = this.pos;
    const root = this.plan.root;
    let got: Emitted = NOTHING;
    if (root.liveObject) got = this.object(root, depth);
    else this.skipObject(depth);
    if (got === NOTHING) this.push("{}");
    else if (got === VERBATIM) this.push(this.text.slice(at, this.pos));
    this.records++;
  }

  /** The records array at `pos` (itself at `depth`): object records are cut, others dropped. */
  recordsArray(depth: number): void {
    this.push("[");
    if (this.enter(depth, CLOSE_ARRAY)) {
      do {
        if (this.text.charCodeAt(this.pos) !== OPEN_OBJECT) {
          this.skipValue(depth); // a scalar or an array is not a record
          continue;
        }
        if (this.records > 0) this.push(",");
        this.record(depth + 1);
      } while (this.nextItem(CLOSE_ARRAY));
    }
    this.push("]");
  }

  /** The value holding the records, inside a container at `depth`. */
  holder(depth: number): void {
    const c = this.text.charCodeAt(this.pos);
    if (c === OPEN_ARRAY) {
      this.found = true;
      this.recordsArray(depth + 1);
    } else if (c === OPEN_OBJECT) {
      this.found = true;
      this.record(depth + 1);
    } else {
      this.skipOrMissing(depth);
    }
  }

  /** A value that is not where records could be: `null` counts as missing, anything else is misshapen. */
  private skipOrMissing(depth: number): void {
    const isNull = this.text.charCodeAt(this.pos) === 110;
    this.skipValue(depth);
    if (!isNull) this.misshapen = true;
  }

  /** Walks the object at `pos` (at `depth`) down `recordsAt` from segment `level`, skipping all else. */
  envelope(level: number, depth: number): void {
    if (this.text.charCodeAt(this.pos) !== OPEN_OBJECT) {
      this.skipOrMissing(depth - 1);
      return;
    }
    if (!this.enter(depth, CLOSE_OBJECT)) return;
    const base = this.keys.open(depth);
    const segment = this.plan.recordsAt[level] as string;
    const last = level === this.plan.recordsAt.length - 1;
    do {
      this.readKey(base, depth);
      const key = this.keyDecoded ?? this.text.slice(this.keyAt + 1, this.keyEnd - 1);
      if (key !== segment) this.skipValue(depth);
      else if (last) this.holder(depth);
      else this.envelope(level + 1, depth + 1);
    } while (this.nextItem(CLOSE_OBJECT));
    this.keys.close(base, depth);
  }

  /** Checks nothing but whitespace follows the value. */
  finish(): void {
    const i = this.ws(this.pos);
    if (i < this.end) this.fail("unexpected text after the value", i);
  }
}

export function cutJson(plan: GuardPlan, text: string): Cut {
  const doc = new DocumentCutter(plan, text, startOf(text), text.length);
  doc.push(plan.recordsAt.map((s) => `{${JSON.stringify(s)}:`).join(""));
  doc.pos = doc.ws(doc.pos);
  if (doc.pos >= doc.end) doc.fail("empty body");
  if (plan.recordsAt.length === 0) doc.holder(0);
  else doc.envelope(0, 1);
  doc.finish();
  if (doc.misshapen) {
    throw uninspectable(
      "not_records",
      "recordsAt does not lead to an array of records or a record",
    );
  }
  if (!doc.found) doc.push("[]");
  doc.push("}".repeat(plan.recordsAt.length));
  return { body: doc.joined(), records: doc.records };
}

/** NDJSON: every non-blank line is one JSON value; object lines are records, others are dropped. */
export function cutNdjson(plan: GuardPlan, text: string): Cut {
  const doc = new DocumentCutter(plan, text, startOf(text), text.length);
  let lineStart = doc.pos;
  while (lineStart < text.length) {
    let lineEnd = text.indexOf("\n", lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    const next = lineEnd + 1;
    if (lineEnd > lineStart && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
    doc.end = lineEnd;
    doc.pos = doc.ws(lineStart);
    lineStart = next;
    if (doc.pos >= lineEnd) continue;
    if (text.charCodeAt(doc.pos) === OPEN_OBJECT) {
      doc.record(1);
      doc.push("\n");
    } else {
      doc.skipValue(0); // a scalar or an array is not a record
    }
    doc.finish();
  }
  return { body: doc.joined(), records: doc.records };
}
