/**
 * JSON bodies: find the records at `recordsAt`, cut each one, and rebuild the
 * envelope from `recordsAt` alone: nothing outside the records crosses.
 *
 * A JSON document is walked a step at a time (a stack of frames: the objects
 * on the way down `recordsAt`, then the records array), so the walk stops
 * wherever the text received so far ends and goes on when more comes. What
 * the walk does not descend into (a record, a value beside the path) is one
 * unit, cut or skipped whole by the recursive cutter over the buffered text.
 */
import { JsonCutter } from "./cut.ts";
import type { Feed, Framer } from "./feed.ts";
import type * as Lex from "./lexer.ts";
import { JsonLexer } from "./lexer.ts";
import type { Output } from "./output.ts";
import type { GuardPlan } from "./plan.ts";
import { NEED_MORE, uninspectable } from "./result.ts";
import type { ScanState } from "./scan.ts";

/* Local copies, checked against their source by type: under tsx an imported constant is read through a getter on every use. */
const QUOTE: typeof Lex.QUOTE = 34;
const COMMA: typeof Lex.COMMA = 44;
const COLON: typeof Lex.COLON = 58;
const OPEN_OBJECT: typeof Lex.OPEN_OBJECT = 123;
const CLOSE_OBJECT: typeof Lex.CLOSE_OBJECT = 125;
const OPEN_ARRAY: typeof Lex.OPEN_ARRAY = 91;
const CLOSE_ARRAY: typeof Lex.CLOSE_ARRAY = 93;

enum Step {
  /** Before the body's value. */
  Start,
  /** At the body's value. */
  Root,
  /** After it: only whitespace may follow. */
  Done,
  /** In an envelope object: a key or `}`, a key, the `:`, the value, `,` or `}`. */
  First,
  Key,
  Colon,
  Value,
  Next,
  /** In the records array: an element or `]`, an element, `,` or `]`. */
  FirstRecord,
  Record,
  NextRecord,
}

interface Frame {
  /** Object frames: the segment of `recordsAt` this object is at; -1 for the records array. */
  readonly level: number;
  readonly depth: number;
  step: Step;
  /** Keys seen in this object (envelope objects only, made on the first key), to refuse duplicates. */
  keys: Set<string> | null;
  /** The key whose value comes next. */
  key: string;
}

/** What the JSON and NDJSON framers share: a cutter, its lexer over the feed's text. */
export abstract class LexedFramer implements Framer {
  abstract readonly rereads: boolean;
  readonly lex: JsonLexer;
  readonly cutter: JsonCutter;

  constructor(
    readonly plan: GuardPlan,
    out: Output,
    scan: ScanState,
  ) {
    this.lex = new JsonLexer("", 0, plan.maxDepth, scan.keys);
    this.cutter = new JsonCutter(plan, this.lex, out, scan);
  }

  get scanPos(): number {
    return this.lex.pos;
  }

  retext(feed: Feed): void {
    this.cutter.out.retext(feed.text);
    this.lex.reset(feed.text, feed.base);
  }

  abstract pump(feed: Feed): void;
  abstract close(feed: Feed): void;
}

/** A JSON body with its records at `recordsAt`. */
export class JsonFramer extends LexedFramer {
  readonly rereads = true;
  readonly #frames: Frame[] = [];
  #top: Step = Step.Start;
  #found = false;
  /** Whether the shape around the records was wrong; reported once the whole text is validated. */
  #misshapen = false;

  pump(feed: Feed): void {
    const lex = this.lex;
    lex.final = feed.final;
    for (;;) {
      const frame = this.#frames[this.#frames.length - 1];
      const step = frame === undefined ? this.#top : frame.step;
      feed.skip(lex.ws(feed.pos));
      feed.begin();
      if (step === Step.Done && frame === undefined) {
        if (feed.pos < lex.end) lex.fail("unexpected text after the value", feed.pos);
        if (!feed.final) throw NEED_MORE;
        return;
      }
      const c = lex.text.charCodeAt(feed.pos);
      // Every step looks at a char; short of one, wait (at the end, the step itself refuses).
      if (feed.pos >= lex.end && !feed.final) throw NEED_MORE;
      lex.pos = feed.pos;
      if (frame === undefined) this.topStep(feed, step);
      else this.frameStep(feed, frame, c);
    }
  }

  private topStep(feed: Feed, step: Step): void {
    const lex = this.lex;
    if (step === Step.Start) {
      feed.out.push(this.plan.envelopeOpen);
      if (feed.pos >= lex.end) lex.fail("empty body", feed.pos);
      this.#top = Step.Root;
      return;
    }
    this.#top = Step.Done;
    if (this.plan.recordsAt.length === 0) this.holder(feed, 0);
    else this.envelope(feed, 0, 1);
  }

  private frameStep(feed: Feed, frame: Frame, c: number): void {
    const lex = this.lex;
    switch (frame.step) {
      case Step.First:
        if (c === CLOSE_OBJECT && feed.pos < lex.end) this.pop(feed, feed.pos + 1);
        else frame.step = Step.Key;
        return;
      case Step.Key:
        frame.key = this.key(feed, frame);
        frame.step = Step.Colon;
        return;
      case Step.Colon:
        if (c !== COLON) lex.fail("expected ':'", feed.pos);
        feed.skip(feed.pos + 1);
        frame.step = Step.Value;
        return;
      case Step.Value: {
        const segment = this.plan.recordsAt[frame.level];
        frame.step = Step.Next;
        if (frame.key !== segment) this.unit(feed, () => lex.skipValue(frame.depth));
        else if (frame.level === this.plan.recordsAt.length - 1) this.holder(feed, frame.depth);
        else this.envelope(feed, frame.level + 1, frame.depth + 1);
        return;
      }
      case Step.Next:
      case Step.NextRecord: {
        const close = frame.step === Step.Next ? CLOSE_OBJECT : CLOSE_ARRAY;
        if (c === COMMA) {
          feed.skip(feed.pos + 1);
          frame.step = frame.step === Step.Next ? Step.Key : Step.Record;
          return;
        }
        if (c !== close || feed.pos >= lex.end) {
          lex.fail(
            close === CLOSE_OBJECT ? "expected ',' or '}'" : "expected ',' or ']'",
            feed.pos,
          );
        }
        this.pop(feed, feed.pos + 1);
        return;
      }
      case Step.FirstRecord:
        if (c === CLOSE_ARRAY && feed.pos < lex.end) this.pop(feed, feed.pos + 1);
        else frame.step = Step.Record;
        return;
      case Step.Record:
        this.records(feed, frame);
        return;
    }
  }

  /**
   * Cuts the element at `feed.pos` of the records array, and the next ones
   * while a `,` and the next element are at hand: the common path, without a
   * trip through the steps per record. Anything else goes back to the steps.
   */
  private records(feed: Feed, frame: Frame): void {
    const lex = this.lex;
    const t = lex.text;
    for (;;) {
      if (t.charCodeAt(lex.pos) === OPEN_OBJECT) {
        if (feed.records > 0) {
          // The separator as it came when it touches the record, so that records join into one range.
          if (t.charCodeAt(lex.pos - 1) === COMMA) feed.out.range(lex.pos - 1, lex.pos);
          else feed.out.push(",");
        }
        this.cutter.record(feed, frame.depth + 1);
      } else {
        lex.skipValue(frame.depth); // a scalar or an array is not a record
      }
      feed.commit(lex.pos);
      frame.step = Step.NextRecord;
      let i = lex.ws(lex.pos);
      if (i >= lex.end || t.charCodeAt(i) !== COMMA) return;
      i = lex.ws(i + 1);
      feed.skip(i);
      frame.step = Step.Record;
      if (i >= lex.end) return;
      feed.begin();
      lex.pos = i;
    }
  }

  /** Runs a unit at `feed.pos`; the frame's step is restored should it need more. */
  private unit(feed: Feed, run: () => void): void {
    const frame = this.#frames[this.#frames.length - 1];
    const step = frame?.step;
    try {
      run();
    } catch (e) {
      if (e === NEED_MORE && frame !== undefined && step !== undefined) frame.step = undo(step);
      else if (e === NEED_MORE) this.#top = Step.Root;
      throw e;
    }
    feed.commit(this.lex.pos);
  }

  /** An envelope object's key at `feed.pos`, refused when the object already holds it. */
  private key(feed: Feed, frame: Frame): string {
    const lex = this.lex;
    const at = feed.pos;
    if (lex.text.charCodeAt(at) !== QUOTE) lex.fail("expected a key", at);
    const end = lex.scanString(at);
    const key = lex.escaped
      ? (JSON.parse(lex.text.slice(at, end)) as string)
      : lex.text.slice(at + 1, end - 1);
    frame.keys ??= new Set();
    if (frame.keys.has(key)) lex.duplicate(at, end - 1);
    frame.keys.add(key);
    feed.commit(end);
    return key;
  }

  /** The value holding the records, inside a container at `depth`. */
  private holder(feed: Feed, depth: number): void {
    const lex = this.lex;
    const c = lex.text.charCodeAt(feed.pos);
    if (c === OPEN_ARRAY) {
      this.#found = true;
      feed.out.range(feed.pos, feed.pos + 1);
      this.push(feed, -1, depth + 1, Step.FirstRecord);
    } else if (c === OPEN_OBJECT) {
      this.#found = true;
      this.unit(feed, () => this.cutter.record(feed, depth + 1));
    } else {
      this.unit(feed, () => this.skipOrMissing(depth));
    }
  }

  /** An object on the way down `recordsAt`, at segment `level` and `depth`. */
  private envelope(feed: Feed, level: number, depth: number): void {
    if (this.lex.text.charCodeAt(feed.pos) !== OPEN_OBJECT) {
      this.unit(feed, () => this.skipOrMissing(depth - 1));
      return;
    }
    this.push(feed, level, depth, Step.First);
  }

  /** A value that is not where records could be: `null` counts as missing, anything else is misshapen. */
  private skipOrMissing(depth: number): void {
    const isNull = this.lex.text.charCodeAt(this.lex.pos) === 110;
    this.lex.skipValue(depth);
    if (!isNull) this.#misshapen = true;
  }

  /** Enters the container opening at `feed.pos`. */
  private push(feed: Feed, level: number, depth: number, step: Step): void {
    if (depth > this.lex.maxDepth) this.lex.tooDeep();
    this.#frames.push({ level, depth, step, keys: null, key: "" });
    feed.skip(feed.pos + 1);
  }

  /** Leaves the innermost container, whose closing char ends before `to`. */
  private pop(feed: Feed, to: number): void {
    const frame = this.#frames.pop();
    if (frame?.level === -1) feed.out.range(to - 1, to);
    feed.skip(to);
  }

  close(feed: Feed): void {
    if (this.#misshapen) {
      throw uninspectable(
        "not_records",
        "recordsAt does not lead to an array of records or a record",
      );
    }
    if (!this.#found) feed.out.push("[]");
    feed.out.push(this.plan.envelopeClose);
  }
}

/** The step to run again after a unit begun at `step` needed more. */
function undo(step: Step): Step {
  if (step === Step.Next) return Step.Value;
  return step;
}
