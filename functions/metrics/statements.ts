/**
 * A month's statement: per partner and currency, what it earned and paid,
 * with one line per agreement and kind (`usage`, or `adjustment`: counts
 * booked into this month for a month closed before they landed). Values
 * are split with the same function as /metrics/attribution (flowParts), so
 * a month without adjustments agrees with it to the micro-unit.
 */
import type { Agreement } from "../../policies/model.ts";
import type { PeriodRow } from "../store/meter-read.ts";
import { csvCell, flowParts } from "./flows.ts";

export type LineKind = "usage" | "adjustment";

export interface StatementLine {
  readonly kind: LineKind;
  readonly agreement: string;
  readonly dataset: string;
  readonly counterparty: string;
  readonly requests: number;
  readonly records: number;
  readonly earned: number;
  readonly paid: number;
}

export interface StatementItem {
  readonly partner: string;
  readonly currency: string;
  readonly earned: number;
  readonly paid: number;
  readonly lines: readonly StatementLine[];
}

export interface Statement {
  readonly period: string;
  readonly closed: boolean;
  readonly closedAt?: string;
  readonly items: readonly StatementItem[];
}

const KIND_ORDER: Record<LineKind, number> = { usage: 0, adjustment: 1 };

/** The statement's items from the month's period rows (shards summed) and the agreements. */
export function statementItems(
  rows: readonly PeriodRow[],
  agreements: ReadonlyMap<string, Agreement>,
): StatementItem[] {
  const flows = new Map<
    string,
    { row: PeriodRow; kind: LineKind; value: number; requests: number; records: number }
  >();
  for (const r of rows) {
    const kind: LineKind = r.adjustment ? "adjustment" : "usage";
    const id = `${r.agreement}|${r.currency}|${kind}`;
    const f = flows.get(id) ?? { row: r, kind, value: 0, requests: 0, records: 0 };
    f.value += r.value;
    f.requests += r.requests;
    f.records += r.records;
    flows.set(id, f);
  }
  const perPartner = new Map<
    string,
    { partner: string; currency: string; lines: StatementLine[] }
  >();
  for (const f of flows.values()) {
    const a = agreements.get(f.row.agreement);
    if (a === undefined || (f.value === 0 && f.requests === 0 && f.records === 0)) continue;
    const { payer, earners } = flowParts(a, f.value);
    const earned = new Map<string, number>();
    for (const e of earners) earned.set(e.partner, (earned.get(e.partner) ?? 0) + e.amount);
    for (const partner of new Set([payer, ...earned.keys()])) {
      const id = `${partner}|${f.row.currency}`;
      let item = perPartner.get(id);
      if (item === undefined) {
        item = { partner, currency: f.row.currency, lines: [] };
        perPartner.set(id, item);
      }
      item.lines.push({
        kind: f.kind,
        agreement: a.id,
        dataset: a.dataset,
        counterparty: partner === a.consumer ? a.provider : a.consumer,
        requests: f.requests,
        records: f.records,
        earned: earned.get(partner) ?? 0,
        paid: partner === payer ? f.value : 0,
      });
    }
  }
  return [...perPartner.values()]
    .sort((a, b) => a.partner.localeCompare(b.partner) || a.currency.localeCompare(b.currency))
    .map((item) => {
      const lines = item.lines.sort(
        (x, y) => KIND_ORDER[x.kind] - KIND_ORDER[y.kind] || x.agreement.localeCompare(y.agreement),
      );
      return {
        partner: item.partner,
        currency: item.currency,
        earned: lines.reduce((n, l) => n + l.earned, 0),
        paid: lines.reduce((n, l) => n + l.paid, 0),
        lines,
      };
    });
}

/** The statement's exact bytes (JSON, fixed key order). */
export const statementJson = (s: Statement): string => JSON.stringify(s);

/** Only one partner's items. */
export const forPartner = (s: Statement, partner: string | undefined): Statement =>
  partner === undefined ? s : { ...s, items: s.items.filter((i) => i.partner === partner) };

const CSV_HEADER = [
  "period",
  "partner",
  "currency",
  "kind",
  "agreement",
  "dataset",
  "counterparty",
  "requests",
  "records",
  "earned",
  "paid",
] as const;

/** RFC 4180, one row per line (as the other finance CSVs: header, CRLF, quoted where needed). */
export function statementCsv(s: Statement): string {
  const out = [CSV_HEADER.join(",")];
  for (const item of s.items) {
    for (const l of item.lines) {
      const cells = [
        s.period,
        item.partner,
        item.currency,
        l.kind,
        l.agreement,
        l.dataset,
        l.counterparty,
        l.requests,
        l.records,
        l.earned,
        l.paid,
      ];
      out.push(cells.map(csvCell).join(","));
    }
  }
  return `${out.join("\r\n")}\r\n`;
}
