/**
 * The reconciliation: the meter's rollups proved against its events. The
 * hourly rollups are recounted from the events hour by hour; every day and
 * month of the period index that lies wholly in the window is compared with
 * the same events summed over it (released counts) and with the hourly
 * rollups summed over it (refusal counts, which have no events).
 */
import type { Agreement } from "../../policies/model.ts";
import {
  addCounts,
  emptyCounts,
  type FlowCounts,
  type HourRow,
  type MeterReader,
} from "../store/meter-read.ts";
import { hourRange } from "./flows.ts";
import { wholePeriods } from "./read-plan.ts";

const RELEASED = ["requests", "records", "bytes", "value"] as const;
const REFUSED = ["denied", "blocked", "failed"] as const;

export interface Difference {
  readonly agreement: string;
  /** An hour (`2026-11-28T03`), a day or a month. */
  readonly period: string;
  readonly hour?: string;
  readonly currency: string;
  readonly rollup: Record<string, number>;
  readonly events: Record<string, number>;
}

const pick = (c: FlowCounts, fields: readonly (keyof FlowCounts)[]) =>
  Object.fromEntries(fields.map((f) => [f, c[f]]));

/** Compares two sums keyed alike; a key missing on one side counts as zeros. */
function compare(
  rollups: ReadonlyMap<string, { agreement: string; currency: string; counts: FlowCounts }>,
  expected: ReadonlyMap<string, { agreement: string; currency: string; counts: FlowCounts }>,
  fields: readonly (keyof FlowCounts)[],
  period: (key: string) => string,
): Difference[] {
  const out: Difference[] = [];
  for (const key of new Set([...rollups.keys(), ...expected.keys()])) {
    const r = rollups.get(key);
    const e = expected.get(key);
    const rolled = pick(r?.counts ?? emptyCounts(), fields);
    const counted = pick(e?.counts ?? emptyCounts(), fields);
    if (JSON.stringify(rolled) === JSON.stringify(counted)) continue;
    const p = period(key);
    out.push({
      agreement: (r ?? e)?.agreement ?? "",
      period: p,
      ...(p.length === 13 ? { hour: p } : {}),
      currency: (r ?? e)?.currency ?? "",
      rollup: rolled,
      events: counted,
    });
  }
  return out;
}

/** Sums rows per agreement, period (from the hour: `slice`) and currency. */
function sumBy(rows: readonly HourRow[], periodOf: (hour: string) => string) {
  const out = new Map<string, { agreement: string; currency: string; counts: FlowCounts }>();
  for (const r of rows) {
    const key = `${r.agreement}|${periodOf(r.hour)}|${r.currency}`;
    let s = out.get(key);
    if (s === undefined) {
      s = { agreement: r.agreement, currency: r.currency, counts: emptyCounts() };
      out.set(key, s);
    }
    addCounts(s.counts, r);
  }
  return out;
}

const periodOfKey = (key: string) => key.split("|")[1] ?? "";

export async function reconcile(
  reader: MeterReader,
  agreements: readonly Agreement[],
  window: { from: Date; to: Date },
) {
  const { fromHour, toHour } = hourRange(window.from, window.to);
  const periods = wholePeriods(window.from, window.to);
  const [rollups, recount, periodRows] = await Promise.all([
    reader.hourRows(
      agreements.map((a) => a.id),
      fromHour,
      toHour,
    ),
    reader.recount(new Date(`${fromHour}:00:00Z`), new Date(`${toHour}:00:00Z`)),
    reader.periodRows(periods),
  ]);
  const hour = (h: string) => h;
  const differences = compare(sumBy(rollups, hour), sumBy(recount, hour), RELEASED, periodOfKey);
  const periodSet = new Set(periods);
  const periodOf = (h: string) =>
    periodSet.has(h.slice(0, 7))
      ? h.slice(0, 7)
      : periodSet.has(h.slice(0, 10))
        ? h.slice(0, 10)
        : "";
  const indexed = sumBy(
    periodRows.map((r) => ({ ...r, hour: r.period })),
    (p) => p,
  );
  const inPeriods = (m: ReturnType<typeof sumBy>) =>
    new Map([...m].filter(([k]) => periodOfKey(k) !== ""));
  differences.push(
    ...compare(indexed, inPeriods(sumBy(recount, periodOf)), RELEASED, periodOfKey),
    ...compare(indexed, inPeriods(sumBy(rollups, periodOf)), REFUSED, periodOfKey),
  );
  return {
    from: window.from.toISOString(),
    to: window.to.toISOString(),
    flows: new Set(rollups.map((r) => r.agreement)).size,
    events: recount.reduce((n, r) => n + r.requests, 0),
    periods,
    consistent: differences.length === 0,
    differences,
  };
}
