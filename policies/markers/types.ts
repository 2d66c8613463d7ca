/** The public shapes of the markers module (re-exported by index.ts). */

export interface MarkerIssue {
  /** Index of the pattern in the list given to compileMarkers. */
  readonly index: number;
  readonly pattern: string;
  /** invalid_pattern: not a JavaScript RegExp (400); unsafe_pattern: refused by the rules (422). */
  readonly code: "invalid_pattern" | "unsafe_pattern";
  readonly message: string;
}

export interface MarkerMatcher {
  /** Number of patterns compiled in. */
  readonly size: number;
  /**
   * Index of the lowest-numbered pattern that matches somewhere in `value`
   * (same meaning as `new RegExp(pattern).test(value)`), or -1. Linear time in
   * value.length.
   */
  firstMatch(value: string): number;
  /**
   * `firstMatch(text.slice(from, to))` without building the slice; the range
   * must lie inside `text`. Optional: the guard slices for a matcher without it.
   */
  firstMatchIn?(text: string, from: number, to: number): number;
}

export type MarkerCompileResult =
  | { readonly ok: true; readonly matcher: MarkerMatcher }
  | { readonly ok: false; readonly issues: readonly MarkerIssue[] };
