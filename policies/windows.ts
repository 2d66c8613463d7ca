/**
 * UTC time windows for metering and quotas, and how a window's limit is spread
 * over the counter shards that carry it.
 */

/** "00".."59" and "000".."999": the seconds and milliseconds of an ISO time. */
const TWO = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"));
const THREE = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));
/** The minute last formatted: its start (ms) and its ISO text up to the seconds. */
let minuteStart = Number.NaN;
let minutePrefix = "";

/**
 * `t.toISOString()`, for less: the metering path formats the time of every
 * exchange, and toISOString costs about a microsecond. Times within the
 * minute formatted last reuse its text up to the seconds (every field above
 * the seconds is that minute's); anything else, including an invalid date,
 * goes to toISOString itself.
 */
export function isoString(t: Date): string {
  const ms = t.getTime();
  const into = ms - minuteStart;
  if (into >= 0 && into < 60_000) {
    const seconds = Math.floor(into / 1000);
    return `${minutePrefix}${TWO[seconds]}.${THREE[into - seconds * 1000]}Z`;
  }
  const iso = t.toISOString();
  minuteStart = Math.floor(ms / 60_000) * 60_000;
  // Every form of toISOString (years past 9999 too) ends in "ss.mmmZ".
  minutePrefix = iso.slice(0, -7);
  return iso;
}

export const hourKey = (t: Date): string => isoString(t).slice(0, 13);
export const dayKey = (t: Date): string => isoString(t).slice(0, 10);
export const monthKey = (t: Date): string => isoString(t).slice(0, 7);

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
