/**
 * What the guard answers, and the two ways a scan stops early. Scanners throw
 * a `Refusal` (never for control flow in the common path) so the hot loops stay
 * free of result plumbing; the stream turns it into a `GuardResult`. A scan
 * that runs out of text before a value ends, while more may come, throws
 * `NEED_MORE` instead: the stream keeps the unfinished record and cuts it
 * again once more text came.
 */

export type MediaKind = "json" | "ndjson" | "csv";

export type UninspectableDetail =
  | "parse_error"
  | "duplicate_key"
  | "too_deep"
  | "not_records"
  /** A streamed body whose bytes are not UTF-8. */
  | "not_utf8"
  /** A streamed record (or any value outside the records) longer than the stream's cap. */
  | "record_too_large";

export type GuardResult =
  | { readonly ok: true; readonly body: string; readonly records: number }
  | {
      readonly ok: false;
      readonly reason: "leak";
      readonly rule: "core_marker";
      readonly marker: number;
      /** The field's dot path; segments the plan does not name are shown as `*`. */
      readonly path: string;
    }
  | {
      readonly ok: false;
      readonly reason: "uninspectable";
      readonly detail: UninspectableDetail;
      readonly message: string;
    };

export type GuardRefusal = Exclude<GuardResult, { ok: true }>;

/** Thrown by the scanners; carries the refusal to report. */
export class Refusal extends Error {
  constructor(
    readonly result: GuardRefusal,
    /**
     * Offset in the body of the last character read to decide this refusal,
     * or -1 when it is where the scanner stands. Decides whether the refusal
     * lies inside a record's cap, whatever the chunks.
     */
    readonly at = -1,
  ) {
    super(result.reason);
  }
}

export const uninspectable = (detail: UninspectableDetail, message: string, at = -1): Refusal =>
  new Refusal({ ok: false, reason: "uninspectable", detail, message }, at);

export const leak = (marker: number, path: string): Refusal =>
  new Refusal({ ok: false, reason: "leak", rule: "core_marker", marker, path });

/** The text ended inside a value while more may come (see the stream). */
class NeedMore extends Error {}
export const NEED_MORE: Error = new NeedMore("more text is needed");
