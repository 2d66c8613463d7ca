/** How messages quote pattern fragments and characters for an operator. */
import type { Span } from "./ast.ts";

const MAX_QUOTE = 40;

/** A fragment of the pattern, in backticks, shortened when long. */
export function quote(text: string): string {
  const short = text.length > MAX_QUOTE ? `${text.slice(0, MAX_QUOTE - 1)}…` : text;
  return `\`${short}\``;
}

/** `…` at offset n: where in the source a part of the pattern sits. */
export function quoteSpan(source: string, span: Span): string {
  return `${quote(source.slice(span.start, span.end))} at offset ${span.start}`;
}

/** One code unit: itself in quotes when printable ASCII, else U+XXXX. */
export function showUnit(unit: number): string {
  if (unit >= 0x21 && unit <= 0x7e) return `"${String.fromCharCode(unit)}"`;
  return `U+${unit.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** An input (a witness) as a JSON string, shortened when long. */
export function showInput(units: readonly number[]): string {
  const text = String.fromCharCode(...units.slice(0, MAX_QUOTE));
  return `${JSON.stringify(text)}${units.length > MAX_QUOTE ? "…" : ""}`;
}
