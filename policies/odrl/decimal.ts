/**
 * Money between integer micro-units and the `xsd:decimal` amounts of ODRL's
 * `payAmount` (in the currency's major unit, as ODRL requires). Both ways are
 * exact integer arithmetic on the digits: never a float.
 */

const MICROS_PER_UNIT = 1_000_000n;
const DECIMAL = /^(\d*)(?:\.(\d*))?$/;

/** 2000 → "0.002000": always six fraction digits, so the micro-unit precision shows. */
export function microsToDecimal(micros: number): string {
  const n = BigInt(micros);
  const sign = n < 0n ? "-" : "";
  const abs = n < 0n ? -n : n;
  return `${sign}${abs / MICROS_PER_UNIT}.${String(abs % MICROS_PER_UNIT).padStart(6, "0")}`;
}

/**
 * "0.002" → 2000. Undefined unless the text is an unsigned decimal whose value
 * is a whole number of micro-units (fraction digits after the sixth must be 0).
 */
export function decimalToMicros(text: string): number | undefined {
  const match = DECIMAL.exec(text);
  const whole = match?.[1] ?? "";
  const fraction = match?.[2] ?? "";
  if (match === null || whole.length + fraction.length === 0) return undefined;
  if (/[^0]/.test(fraction.slice(6))) return undefined;
  const micros =
    BigInt(whole || "0") * MICROS_PER_UNIT + BigInt(fraction.slice(0, 6).padEnd(6, "0"));
  return Number(micros);
}
