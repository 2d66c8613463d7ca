/**
 * Which rollups answer a finance read. A window made of whole UTC days and
 * months is read from the period index (one paged query per period and
 * shard, whatever the number of flows); a window that cuts an hour out of a
 * day, or a read by the hour, from the flows' hourly rollups (8 queries per
 * flow). Each read takes the plan with fewer queries.
 */
import { dayKey, monthKey, nextDayStart, nextMonthStart } from "../../policies/windows.ts";
import type { HourRow, PeriodRow } from "../store/meter-read.ts";
import type { Granularity } from "./flows.ts";

const HOUR = 3_600_000;

/**
 * The days and months that make up the window's whole hours exactly, or
 * undefined when it needs hours. A window that reaches `now` may take its
 * last day or month whole: nothing is booked after now (adjustments are
 * booked at the start of an open month, which has begun).
 */
export function planPeriods(
  from: Date,
  to: Date,
  granularity: Granularity,
  now: Date,
): string[] | undefined {
  if (granularity === "hour") return undefined;
  const start = Math.floor(from.getTime() / HOUR) * HOUR;
  const end = Math.ceil(to.getTime() / HOUR) * HOUR;
  const openEnd = end >= now.getTime();
  const fits = (periodEnd: number) => periodEnd <= end || openEnd;
  const out: string[] = [];
  for (let t = start; t < end; ) {
    const at = new Date(t);
    const dayStart = at.getUTCHours() === 0;
    const monthEnd = nextMonthStart(at).getTime();
    const dayEnd = nextDayStart(at).getTime();
    if (granularity !== "day" && dayStart && at.getUTCDate() === 1 && fits(monthEnd)) {
      out.push(monthKey(at));
      t = monthEnd;
    } else if (dayStart && fits(dayEnd)) {
      out.push(dayKey(at));
      t = dayEnd;
    } else return undefined;
  }
  return out;
}

/** A period row in the shape of an hourly one: its first hour stands for the period. */
export const asHourRow = (r: PeriodRow): HourRow => ({
  ...r,
  hour: `${r.period.length === 7 ? `${r.period}-01` : r.period}T00`,
});

/** The months, and the days outside them, that lie wholly in [from, to) (hours rounded outwards). */
export function wholePeriods(from: Date, to: Date): string[] {
  const end = Math.ceil(to.getTime() / HOUR) * HOUR;
  const out: string[] = [];
  for (let t = Math.floor(from.getTime() / HOUR) * HOUR; t < end; ) {
    const at = new Date(t);
    const dayStart = at.getUTCHours() === 0;
    const monthEnd = nextMonthStart(at).getTime();
    const dayEnd = nextDayStart(at).getTime();
    if (dayStart && at.getUTCDate() === 1 && monthEnd <= end) {
      out.push(monthKey(at));
      t = monthEnd;
    } else if (dayStart && dayEnd <= end) {
      out.push(dayKey(at));
      t = dayEnd;
    } else t += HOUR;
  }
  return out;
}
