/**
 * The text a stream has received and not yet cut, and what the framers of
 * each format (json.ts, csv.ts) share to walk it a step at a time.
 *
 * A step either completes, committing its end (`commit`, `skip`), or throws
 * NEED_MORE having appended nothing that stays (`rollback`): the stream then
 * waits for more text and runs the same step again from the same place. A
 * unit (a record, or any value outside the records) may be at most `maxUnit`
 * characters: the check is made on positions in the body, so whether a unit is
 * refused as too large never depends on how the body was split into chunks.
 */
import { type Output, OutputMark } from "./output.ts";
import { type Refusal, uninspectable } from "./result.ts";

export class Feed {
  /** The text from `base` on: what was received and not yet dropped. */
  text = "";
  /** Where the next step starts. */
  pos = 0;
  /** Offset of `text` in the body. */
  base = 0;
  /** Whether the body ends with `text`. */
  final = false;
  records = 0;
  /** Where the running step's unit started, and what to restore when it needs more. */
  unitStart = 0;
  readonly #outMark = new OutputMark();
  #recordsMark = 0;

  constructor(
    readonly out: Output,
    readonly maxUnit: number,
  ) {}

  /** Starts a step (or a unit) at `pos`. */
  begin(): void {
    this.unitStart = this.pos;
    this.#outMark.save(this.out);
    this.#recordsMark = this.records;
  }

  /** Ends the unit begun last at `pos`, refusing it when it is longer than the cap. */
  commit(pos: number): void {
    if (pos - this.unitStart > this.maxUnit) throw this.tooLarge();
    this.pos = pos;
  }

  /** Moves past text outside any unit (whitespace, separators). */
  skip(pos: number): void {
    this.pos = pos;
  }

  /** Undoes what the step begun last appended. */
  rollback(): void {
    this.#outMark.restore(this.out);
    this.records = this.#recordsMark;
  }

  /** A refusal raised at body offset `at` (-1: at `scanPos`), or too_large when that lies past the cap. */
  place(refusal: Refusal, scanPos: number): Refusal {
    const at = refusal.at >= 0 ? refusal.at : this.base + scanPos;
    return at - (this.base + this.unitStart) > this.maxUnit ? this.tooLarge() : refusal;
  }

  tooLarge(): Refusal {
    return uninspectable(
      "record_too_large",
      `a record (or a value outside the records) at offset ${this.base + this.unitStart} is longer than ${this.maxUnit} characters`,
    );
  }
}

/** How the text of one format is walked (see Feed for the step contract). */
export interface Framer {
  /** Cuts from `feed.pos` on: returns when all the text was cut, or throws NEED_MORE to wait for more. */
  pump(feed: Feed): void;
  /** What closes the output once the whole body was cut. */
  close(feed: Feed): void;
  /** Where the scanner stands in `feed.text`, for refusals that do not say. */
  readonly scanPos: number;
  /**
   * After NEED_MORE: where in `feed.text` the undecided input begins, when
   * before the text's end (a CR that may start a CRLF); -1 or absent: the
   * text's end. A refusal may still be raised there once more text comes, so
   * a unit is too large only when this lies past the cap: else a split body
   * would be refused otherwise than the whole body.
   */
  readonly undecidedAt?: number;
  /** Points the scanner at the feed's text after it changed. */
  retext(feed: Feed): void;
  /**
   * Whether a unit that needed more is read again from its start: then the
   * stream waits until its text has doubled before trying again.
   */
  readonly rereads: boolean;
}
