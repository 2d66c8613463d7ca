/**
 * Money in integer micro-units: the value of an exchange, and the split of a
 * flow's value along its value shares.
 */
import type { Price, ValueShare } from "./model.ts";

/** perRequest + perRecord x records; exact while below 2^53 micro-units. */
export function exchangeValue(price: Price, records: number): number {
  const value = price.perRequest + price.perRecord * records;
  if (!Number.isSafeInteger(value))
    throw new RangeError("exchange value exceeds the exact integer range");
  return value;
}

export const TOTAL_BPS = 10_000;

/**
 * Splits `amount` by basis points with the largest-remainder rule: each share
 * gets floor(amount x bps / 10000); the micro-units left over (fewer than the
 * number of shares) go one each to the shares with the largest remainders,
 * ties to the share listed first. The parts always sum to `amount` exactly,
 * and each part is within one micro-unit of its exact share.
 */
export function splitByShares(
  amount: number,
  shares: readonly ValueShare[],
): { partner: string; amount: number }[] {
  if (!Number.isSafeInteger(amount) || amount < 0)
    throw new RangeError("the amount must be a non-negative integer number of micro-units");
  if (shares.length === 0 || shares.reduce((sum, s) => sum + s.bps, 0) !== TOTAL_BPS)
    throw new RangeError("value shares must sum to 10000 basis points");
  const big = BigInt(amount);
  const parts = shares.map((s, i) => {
    const scaled = big * BigInt(s.bps);
    return {
      partner: s.partner,
      floor: scaled / BigInt(TOTAL_BPS),
      rest: scaled % BigInt(TOTAL_BPS),
      i,
    };
  });
  let left = big - parts.reduce((sum, p) => sum + p.floor, 0n);
  const order = [...parts].sort((a, b) =>
    a.rest === b.rest ? a.i - b.i : a.rest > b.rest ? -1 : 1,
  );
  for (const p of order) {
    if (left <= 0n) break;
    p.floor += 1n;
    left -= 1n;
  }
  return parts.map((p) => ({ partner: p.partner, amount: Number(p.floor) }));
}
