/**
 * JSON and NDJSON bodies: find the records (at `recordsAt`, or every line),
 * cut each one, and rebuild the envelope from `recordsAt` alone: nothing
 * outside the records crosses.
 */

import { type Emitted, JsonCutter, NOTHING, VERBATIM } from "./cut.ts";
import { CLOSE_ARRAY, CLOSE_OBJECT, JsonLexer, OPEN_ARRAY, OPEN_OBJECT } from "./lexer.ts";
import { Output } from "./output.ts";
import type { GuardPlan } from "./plan.ts";
import { uninspectable } from "./result.ts";
import type { ScanState } from "./scan.ts";

export interface Cut {
  readonly body: string;
  readonly records: number;
}

const BOM = 0xfeff;
const startOf = (text: string): number => (text.charCodeAt(0) === BOM ? 1 : 0);

/** Walks a document around its records; the records themselves go to the cutter. */
class JsonDocument {
  readonly lex: JsonLexer;
  records = 0;
  found = false;
  /** Whether the shape around the records was wrong; reported once the whole text is validated. */
  misshapen = false;

  constructor(
    readonly plan: GuardPlan,
    readonly cutter: JsonCutter,
  ) {
    this.lex = cutter.lex;
  }

  push(part: string): void {
    this.cutter.out.push(part);
  }

  /** Cuts the record object at `pos` (itself at `depth`) and appends it, `{}` when nothing in it may leave. */
  record(depth: number): void {
    const lex = this.lex;
    const at = lex.pos;
    const root = this.plan.root;
    let got: Emitted = NOTHING;
    if (root.liveObject) got = this.cutter.object(root, depth);
    else lex.skipObject(depth);
    if (got === NOTHING) this.push("{}");
    else if (got === VERBATIM) this.push(lex.text.slice(at, lex.pos));
    this.records++;
  }

  /** The records array at `pos` (itself at `depth`): object records are cut, others dropped. */
  recordsArray(depth: number): void {
    const lex = this.lex;
    this.push("[");
    if (lex.enter(depth, CLOSE_ARRAY)) {
      do {
        if (lex.text.charCodeAt(lex.pos) !== OPEN_OBJECT) {
          lex.skipValue(depth); // a scalar or an array is not a record
          continue;
        }
        if (this.records > 0) this.push(",");
        this.record(depth + 1);
      } while (lex.nextItem(CLOSE_ARRAY));
    }
    this.push("]");
  }

  /** The value holding the records, inside a container at `depth`. */
  holder(depth: number): void {
    const c = this.lex.text.charCodeAt(this.lex.pos);
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
    const isNull = this.lex.text.charCodeAt(this.lex.pos) === 110;
    this.lex.skipValue(depth);
    if (!isNull) this.misshapen = true;
  }

  /** Walks the object at `pos` (at `depth`) down `recordsAt` from segment `level`, skipping all else. */
  envelope(level: number, depth: number): void {
    const lex = this.lex;
    if (lex.text.charCodeAt(lex.pos) !== OPEN_OBJECT) {
      this.skipOrMissing(depth - 1);
      return;
    }
    if (!lex.enter(depth, CLOSE_OBJECT)) return;
    const base = lex.keys.open(depth);
    const segment = this.plan.recordsAt[level] as string;
    const last = level === this.plan.recordsAt.length - 1;
    do {
      lex.readKey(base, depth);
      const key = lex.keyDecoded ?? lex.text.slice(lex.keyAt + 1, lex.keyEnd - 1);
      if (key !== segment) lex.skipValue(depth);
      else if (last) this.holder(depth);
      else this.envelope(level + 1, depth + 1);
    } while (lex.nextItem(CLOSE_OBJECT));
    lex.keys.close(base, depth);
  }

  /** Checks nothing but whitespace follows the value. */
  finish(): void {
    const lex = this.lex;
    const i = lex.ws(lex.pos);
    if (i < lex.end) lex.fail("unexpected text after the value", i);
  }
}

function open(plan: GuardPlan, text: string, scan: ScanState): JsonDocument {
  const lex = new JsonLexer(text, text.length, plan.maxDepth, startOf(text), scan.keys);
  return new JsonDocument(plan, new JsonCutter(plan, lex, new Output(), scan));
}

export function cutJson(plan: GuardPlan, text: string, scan: ScanState): Cut {
  const doc = open(plan, text, scan);
  const lex = doc.lex;
  doc.push(plan.recordsAt.map((s) => `{${JSON.stringify(s)}:`).join(""));
  lex.pos = lex.ws(lex.pos);
  if (lex.pos >= lex.end) lex.fail("empty body");
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
  return { body: doc.cutter.out.take(), records: doc.records };
}

/** NDJSON: every non-blank line is one JSON value; object lines are records, others are dropped. */
export function cutNdjson(plan: GuardPlan, text: string, scan: ScanState): Cut {
  const doc = open(plan, text, scan);
  const lex = doc.lex;
  let lineStart = lex.pos;
  while (lineStart < text.length) {
    let lineEnd = text.indexOf("\n", lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    const next = lineEnd + 1;
    if (lineEnd > lineStart && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
    lex.end = lineEnd;
    lex.pos = lex.ws(lineStart);
    lineStart = next;
    if (lex.pos >= lineEnd) continue;
    if (text.charCodeAt(lex.pos) === OPEN_OBJECT) {
      doc.record(1);
      doc.push("\n");
    } else {
      lex.skipValue(0); // a scalar or an array is not a record
    }
    doc.finish();
  }
  return { body: doc.cutter.out.take(), records: doc.records };
}
