/**
 * Finance's view of the flows: hourly rollups regrouped by period and by the
 * requested dimensions, one row per currency. The same function answers
 * partners' /v1/usage, so both always see the same numbers.
 */
import * as z from "zod";
import type { Agreement } from "../../policies/model.ts";
import { splitByShares } from "../../policies/money.ts";
import { hourKey } from "../../policies/windows.ts";
import { InvalidRequestError } from "../errors.ts";
import {
  addCounts,
  emptyCounts,
  type FlowCounts,
  type HourRow,
  type MeterReader,
} from "../store/meter-read.ts";
import { asHourRow, planPeriods } from "./read-plan.ts";

export const DIMENSIONS = ["agreement", "provider", "consumer", "dataset"] as const;
export type Dimension = (typeof DIMENSIONS)[number];
export const GRANULARITIES = ["hour", "day", "month", "total"] as const;
export type Granularity = (typeof GRANULARITIES)[number];

const MAX_RANGE_DAYS = 400;

const instant = z.iso.datetime({ offset: true }).transform((v) => new Date(v));

/** `from` and `to` (ISO 8601); by default from the start of the current UTC month until now. */
export const WindowQuery = z.object({ from: instant.optional(), to: instant.optional() });

export const FlowsQuery = z.object({
  granularity: z.enum(GRANULARITIES).default("hour"),
  groupBy: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return undefined;
      const dims = v.split(",");
      for (const d of dims) {
        if (!(DIMENSIONS as readonly string[]).includes(d)) {
          ctx.addIssue({
            code: "custom",
            message: `must be one or more of ${DIMENSIONS.join(", ")}`,
          });
          return z.NEVER;
        }
      }
      return [...new Set(dims)] as Dimension[];
    }),
});

export interface FlowRow {
  readonly agreement?: string;
  readonly provider?: string;
  readonly consumer?: string;
  readonly dataset?: string;
  readonly period: string;
  readonly requests: number;
  readonly denied: number;
  readonly blocked: number;
  readonly failed: number;
  readonly records: number;
  readonly bytes: number;
  readonly value: { readonly currency: string; readonly amount: number };
}

/** Hour keys covering [from, to). */
export function hourRange(from: Date, to: Date): { fromHour: string; toHour: string } {
  return { fromHour: hourKey(from), toHour: hourKey(new Date(to.getTime() - 1)) };
}

function periodOf(hour: string, granularity: Granularity, from: Date, to: Date): string {
  switch (granularity) {
    case "hour":
      return `${hour}:00:00Z`;
    case "day":
      return hour.slice(0, 10);
    case "month":
      return hour.slice(0, 7);
    case "total":
      return `${from.toISOString()}/${to.toISOString()}`;
  }
}

export function groupRows(
  rows: readonly HourRow[],
  granularity: Granularity,
  groupBy: readonly Dimension[] | undefined,
  from: Date,
  to: Date,
): FlowRow[] {
  const dims = groupBy ?? DIMENSIONS;
  const groups = new Map<
    string,
    {
      keys: Partial<Record<Dimension, string>>;
      period: string;
      currency: string;
      counts: FlowCounts;
    }
  >();
  for (const row of rows) {
    const period = periodOf(row.hour, granularity, from, to);
    const keys: Partial<Record<Dimension, string>> = {};
    for (const d of dims) keys[d] = row[d];
    const id = JSON.stringify([keys, period, row.currency]);
    let g = groups.get(id);
    if (g === undefined) {
      g = { keys, period, currency: row.currency, counts: emptyCounts() };
      groups.set(id, g);
    }
    addCounts(g.counts, row);
  }
  return [...groups.values()]
    .sort((a, b) =>
      a.period === b.period
        ? JSON.stringify(a.keys).localeCompare(JSON.stringify(b.keys))
        : a.period < b.period
          ? 1
          : -1,
    )
    .map((g) => ({
      ...g.keys,
      period: g.period,
      requests: g.counts.requests,
      denied: g.counts.denied,
      blocked: g.counts.blocked,
      failed: g.counts.failed,
      records: g.counts.records,
      bytes: g.counts.bytes,
      value: { currency: g.currency, amount: g.counts.value },
    }));
}

export async function flowRows(
  reader: MeterReader,
  agreements: readonly Agreement[],
  window: { from: Date; to: Date },
  granularity: Granularity,
  groupBy: readonly Dimension[] | undefined,
  now?: Date,
): Promise<FlowRow[]> {
  const rows = await usageRows(reader, agreements, window, granularity, now);
  return groupRows(rows, granularity, groupBy, window.from, window.to);
}

/**
 * The rows of the given flows for the window, from the period index or the
 * hourly rollups, whichever takes fewer queries (read-plan.ts). Without
 * `now`, always the hourly rollups.
 */
export async function usageRows(
  reader: MeterReader,
  agreements: readonly Agreement[],
  window: { from: Date; to: Date },
  granularity: Granularity,
  now?: Date,
): Promise<HourRow[]> {
  const periods =
    now === undefined ? undefined : planPeriods(window.from, window.to, granularity, now);
  if (periods !== undefined && periods.length <= agreements.length) {
    const ids = new Set(agreements.map((a) => a.id));
    const rows = await reader.periodRows(periods);
    return rows.filter((r) => ids.has(r.agreement)).map(asHourRow);
  }
  const { fromHour, toHour } = hourRange(window.from, window.to);
  return reader.hourRows(
    agreements.map((a) => a.id),
    fromHour,
    toHour,
  );
}

const CSV_COLUMNS = [
  "period",
  "requests",
  "denied",
  "blocked",
  "failed",
  "records",
  "bytes",
  "currency",
  "amount",
] as const;

export function csvCell(value: string | number): string {
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180: header line, CRLF line ends, quoted where needed; value as currency + amount. */
export function rowsToCsv(
  rows: readonly FlowRow[],
  groupBy: readonly Dimension[] | undefined,
): string {
  const dims = groupBy ?? DIMENSIONS;
  const header = [...dims, ...CSV_COLUMNS];
  const lines = [header.join(",")];
  for (const r of rows) {
    const cells = [
      ...dims.map((d) => r[d] ?? ""),
      r.period,
      r.requests,
      r.denied,
      r.blocked,
      r.failed,
      r.records,
      r.bytes,
      r.value.currency,
      r.value.amount,
    ];
    lines.push(cells.map(csvCell).join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}

/**
 * One flow's value: paid by its consumer, earned along its value shares
 * (largest remainder, policies/money.ts). Attribution and statements both
 * split with it, so they agree to the micro-unit.
 */
export function flowParts(
  agreement: Agreement,
  value: number,
): { payer: string; earners: { partner: string; amount: number }[] } {
  // A negative value (adjustments that take back more than they add) splits
  // as the negation of its opposite, so it takes back exactly what was given.
  const earners = splitByShares(Math.abs(value), agreement.valueShares);
  return {
    payer: agreement.consumer,
    earners: value < 0 ? earners.map((e) => ({ ...e, amount: -e.amount })) : earners,
  };
}

/** Each flow's value is paid by its consumer and earned along its value shares. */
export function attribute(
  rows: readonly HourRow[],
  agreements: ReadonlyMap<string, Agreement>,
): { partner: string; earned: Record<string, number>; paid: Record<string, number> }[] {
  const perFlow = new Map<string, { agreement: string; currency: string; value: number }>();
  for (const r of rows) {
    const id = `${r.agreement}|${r.currency}`;
    const f = perFlow.get(id) ?? { agreement: r.agreement, currency: r.currency, value: 0 };
    f.value += r.value;
    perFlow.set(id, f);
  }
  const out = new Map<
    string,
    { partner: string; earned: Record<string, number>; paid: Record<string, number> }
  >();
  const entry = (p: string) => {
    let e = out.get(p);
    if (e === undefined) {
      e = { partner: p, earned: {}, paid: {} };
      out.set(p, e);
    }
    return e;
  };
  for (const f of perFlow.values()) {
    const a = agreements.get(f.agreement);
    if (a === undefined || f.value === 0) continue;
    const parts = flowParts(a, f.value);
    const payer = entry(parts.payer);
    payer.paid[f.currency] = (payer.paid[f.currency] ?? 0) + f.value;
    for (const part of parts.earners) {
      const earner = entry(part.partner);
      earner.earned[f.currency] = (earner.earned[f.currency] ?? 0) + part.amount;
    }
  }
  return [...out.values()].sort((a, b) => a.partner.localeCompare(b.partner));
}

/**
 * The time window of a finance or usage call, with its defaults taken from
 * the gateway's clock. `maxDays` bounds how much one call may read.
 */
export function parseWindow(query: Record<string, string>, now: Date, maxDays = MAX_RANGE_DAYS) {
  const result = WindowQuery.safeParse(query);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new InvalidRequestError(String(issue?.path[0] ?? "from"), issue?.message ?? "is invalid");
  }
  const to = result.data.to ?? now;
  const from = result.data.from ?? new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), 1));
  if (from >= to) throw new InvalidRequestError("from", "must be before to");
  if (to.getTime() - from.getTime() > maxDays * 86_400_000) {
    throw new InvalidRequestError("to", `the window may span at most ${maxDays} days`);
  }
  return { from, to };
}
