/**
 * What the guard answers, and the two ways a scan stops early. Scanners throw
 * a `Refusal` (never for control flow in the common path) so the hot loops stay
 * free of result plumbing; `guardPayload` turns it into a `GuardResult`.
 */

export type MediaKind = "json" | "ndjson" | "csv";

export type UninspectableDetail = "parse_error" | "duplicate_key" | "too_deep" | "not_records";

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
  constructor(readonly result: GuardRefusal) {
    super(result.reason);
  }
}

export const uninspectable = (detail: UninspectableDetail, message: string): Refusal =>
  new Refusal({ ok: false, reason: "uninspectable", detail, message });

export const leak = (marker: number, path: string): Refusal =>
  new Refusal({ ok: false, reason: "leak", rule: "core_marker", marker, path });
