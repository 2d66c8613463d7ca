/** Plain-text output for the operator CLI: aligned tables and key/value blocks. */

const MAX_CELL = 60;

/** One line per cell value: no control characters, long values cut with an ellipsis. */
function cell(value: string): string {
  const flat = value.replace(/\p{Cc}+/gu, " ");
  return flat.length > MAX_CELL ? `${flat.slice(0, MAX_CELL - 1)}…` : flat;
}

/** Columns padded to their widest value, a header line, one row per item. */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const cells = rows.map((r) => headers.map((_, i) => cell(r[i] ?? "")));
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)),
  );
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return `${[line(headers), ...cells.map(line)].join("\n")}\n`;
}

/** `key: value` lines, keys aligned; absent values are left out. */
export function keyValues(
  pairs: readonly (readonly [string, string | null | undefined])[],
): string {
  const present = pairs.filter((p): p is readonly [string, string] => p[1] != null && p[1] !== "");
  const width = Math.max(0, ...present.map(([k]) => k.length));
  return `${present.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${cell(v)}`).join("\n")}\n`;
}

/** Micro-units per currency as decimal amounts: { EUR: 8200 } -> "0.0082 EUR". */
export function money(value: Readonly<Record<string, number>>): string {
  const parts = Object.entries(value).map(([currency, micros]) => {
    const sign = micros < 0 ? "-" : "";
    const abs = Math.abs(micros);
    const whole = Math.floor(abs / 1_000_000);
    const frac = String(abs % 1_000_000)
      .padStart(6, "0")
      .replace(/0+$/, "");
    return `${sign}${whole}${frac === "" ? "" : `.${frac}`} ${currency}`;
  });
  return parts.length === 0 ? "0" : parts.join(", ");
}
