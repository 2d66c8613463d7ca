/**
 * UTC time windows for metering and quotas, and how a window's limit is spread
 * over the counter shards that carry it.
 */

export const hourKey = (t: Date): string => t.toISOString().slice(0, 13);
export const dayKey = (t: Date): string => t.toISOString().slice(0, 10);
export const monthKey = (t: Date): string => t.toISOString().slice(0, 7);

export function nextDayStart(t: Date): Date {
  return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate() + 1));
}

export function nextMonthStart(t: Date): Date {
  return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, 1));
}

/** Whole seconds until `end`, at least 1 (a Retry-After value). */
export const secondsUntil = (now: Date, end: Date): number =>
  Math.max(1, Math.ceil((end.getTime() - now.getTime()) / 1000));

/**
 * The part of `limit` that shard `index` of `shards` may use. The parts sum
 * to `limit` exactly, so the shards together allow exactly the limit.
 */
export function shardBudget(limit: number, shards: number, index: number): number {
  return Math.floor(limit / shards) + (index < limit % shards ? 1 : 0);
}

/** Hour keys from `from` to `to` inclusive (both hour keys), oldest first. */
export function hoursBetween(from: Date, to: Date): string[] {
  const out: string[] = [];
  const t = new Date(
    Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate(), from.getUTCHours()),
  );
  for (; t <= to; t.setUTCHours(t.getUTCHours() + 1)) out.push(hourKey(t));
  return out;
}
