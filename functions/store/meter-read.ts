/**
 * Reading the meter: rollups (what finance sees) and raw events (what the
 * reconciliation recounts). Every shard of a flow is read and summed.
 */
import { hoursBetween } from "../../policies/windows.ts";
import { type Item, num, str } from "./codec.ts";
import type { Db } from "./db.ts";
import { EVENT_SHARDS, eventPk, FLOW_SHARDS, periodPk, rollupPk } from "./meter-keys.ts";

export interface FlowCounts {
  requests: number;
  denied: number;
  blocked: number;
  failed: number;
  records: number;
  bytes: number;
  value: number;
}

export interface HourRow extends FlowCounts {
  readonly agreement: string;
  readonly provider: string;
  readonly consumer: string;
  readonly dataset: string;
  readonly hour: string;
  readonly currency: string;
}

/** A flow's counts in one day or month of the period index, shards summed. */
export interface PeriodRow extends FlowCounts {
  readonly agreement: string;
  readonly provider: string;
  readonly consumer: string;
  readonly dataset: string;
  /** `yyyy-mm-dd` or `yyyy-mm`. */
  readonly period: string;
  readonly currency: string;
  /** Counts booked into this period for a month closed before they landed. */
  readonly adjustment: boolean;
}

export const emptyCounts = (): FlowCounts => ({
  requests: 0,
  denied: 0,
  blocked: 0,
  failed: 0,
  records: 0,
  bytes: 0,
  value: 0,
});

export function addCounts(into: FlowCounts, from: FlowCounts): void {
  into.requests += from.requests;
  into.denied += from.denied;
  into.blocked += from.blocked;
  into.failed += from.failed;
  into.records += from.records;
  into.bytes += from.bytes;
  into.value += from.value;
}

/**
 * Queries in flight per read. Most are small (one flow-shard's hours, one
 * event shard's hour, often empty): a month's reconciliation is ~24 000 of them.
 */
const PARALLEL = 32;

async function inParallel<T, R>(inputs: readonly T[], run: (input: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(inputs.length);
  let next = 0;
  const worker = async () => {
    while (next < inputs.length) {
      const i = next++;
      out[i] = await run(inputs[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, inputs.length) }, worker));
  return out;
}

export class MeterReader {
  constructor(private readonly db: Db) {}

  /** Hourly rows of the given flows between two hour keys (inclusive), shards summed. */
  async hourRows(
    agreements: readonly string[],
    fromHour: string,
    toHour: string,
  ): Promise<HourRow[]> {
    const targets = agreements.flatMap((a) =>
      Array.from({ length: FLOW_SHARDS }, (_, s) => rollupPk(a, s)),
    );
    const perShard = await inParallel(targets, (pk) =>
      this.queryAll(pk, { lo: `${fromHour}#`, hi: `${toHour}#~` }),
    );
    const rows = new Map<string, HourRow>();
    for (const items of perShard) {
      for (const item of items) {
        const agreement = (str(item, "pk") ?? "").split("#")[1] ?? "";
        const hour = str(item, "hour") ?? "";
        const currency = str(item, "currency") ?? "";
        addTo(rows, `${agreement}|${hour}|${currency}`, item, () => ({
          agreement,
          ...flowOf(item),
          hour,
          currency,
        }));
      }
    }
    return [...rows.values()];
  }

  /**
   * Every flow's rows of the given days or months, from the period index:
   * one paged query per period and shard, whatever the number of flows.
   */
  async periodRows(periods: readonly string[]): Promise<PeriodRow[]> {
    const targets = periods.flatMap((p) =>
      Array.from({ length: FLOW_SHARDS }, (_, s) => ({ period: p, pk: periodPk(p, s) })),
    );
    const perShard = await inParallel(targets, (t) => this.queryAll(t.pk));
    const rows = new Map<string, PeriodRow>();
    targets.forEach(({ period }, i) => {
      for (const item of perShard[i] ?? []) {
        const [agreement = "", currency = "", flag] = (str(item, "sk") ?? "").split("#");
        addTo(rows, `${period}|${str(item, "sk")}`, item, () => ({
          agreement,
          ...flowOf(item),
          period,
          currency,
          adjustment: flag === "A",
        }));
      }
    });
    return [...rows.values()];
  }

  /** Every item under `pk`, or those with `lo <= sk <= hi` (DynamoDB refuses empty key values). */
  private async queryAll(
    pk: string,
    range?: { lo: string; hi: string },
    projection?: readonly string[],
  ): Promise<Item[]> {
    const names = Object.fromEntries((projection ?? []).map((a, i) => [`#p${i}`, a]));
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const out = await this.db.query(
        "meter",
        {
          KeyConditionExpression:
            range === undefined ? "pk = :pk" : "pk = :pk AND sk BETWEEN :lo AND :hi",
          ExpressionAttributeValues:
            range === undefined
              ? { ":pk": { S: pk } }
              : { ":pk": { S: pk }, ":lo": { S: range.lo }, ":hi": { S: range.hi } },
          ...(projection === undefined
            ? {}
            : {
                ProjectionExpression: Object.keys(names).join(", "),
                ExpressionAttributeNames: names,
              }),
          ConsistentRead: true,
          ExclusiveStartKey: start,
        },
        "read the meter",
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  }

  /**
   * Metering events between two times, recounted per flow, hour and currency:
   * `metered` ones count; a `reversed` one counts in its hour when it was
   * taken back in a later month (`reversedIn`), where its `reversal` event
   * takes it back; `void` ones (never committed) do not.
   */
  async recount(from: Date, to: Date): Promise<HourRow[]> {
    const pks = hoursBetween(from, to).flatMap((h) =>
      Array.from({ length: EVENT_SHARDS }, (_, s) => eventPk(h, s)),
    );
    const perShard = await inParallel(pks, (pk) => this.queryAll(pk, undefined, EVENT_FIELDS));
    const rows = new Map<string, HourRow>();
    for (const items of perShard) {
      for (const e of items) {
        const state = str(e, "state");
        const sign =
          state === "metered" || (state === "reversed" && str(e, "reversedIn") !== undefined)
            ? 1
            : state === "reversal"
              ? -1
              : 0;
        if (sign === 0) continue;
        const agreement = str(e, "agreement") ?? "";
        const hour = str(e, "hour") ?? "";
        const currency = str(e, "currency") ?? "";
        const id = `${agreement}|${hour}|${currency}`;
        let row = rows.get(id);
        if (row === undefined) {
          row = {
            agreement,
            provider: str(e, "provider") ?? "",
            consumer: str(e, "consumer") ?? "",
            dataset: str(e, "dataset") ?? "",
            hour,
            currency,
            ...emptyCounts(),
          };
          rows.set(id, row);
        }
        row.requests += sign;
        row.records += sign * (num(e, "records") ?? 0);
        row.bytes += sign * (num(e, "bytes") ?? 0);
        row.value += sign * (num(e, "value") ?? 0);
      }
    }
    return [...rows.values()];
  }
}

/** What the recount needs of an event (events also hold their plan, times, ids). */
const EVENT_FIELDS = [
  "agreement",
  "provider",
  "consumer",
  "dataset",
  "hour",
  "currency",
  "records",
  "bytes",
  "value",
  "state",
  "reversedIn",
] as const;

/** The flow's parties and dataset, as its rollup items carry them. */
const flowOf = (item: Item) => ({
  provider: str(item, "provider") ?? "",
  consumer: str(item, "consumer") ?? "",
  dataset: str(item, "dataset") ?? "",
});

/** Adds an item's counts to the row under `id`, made by `make` the first time. */
function addTo<R extends FlowCounts>(
  rows: Map<string, R>,
  id: string,
  item: Item,
  make: () => Omit<R, keyof FlowCounts>,
): void {
  let row = rows.get(id);
  if (row === undefined) {
    row = { ...make(), ...emptyCounts() } as R;
    rows.set(id, row);
  }
  addCounts(row, countsOf(item));
}

function countsOf(item: Item): FlowCounts {
  return {
    requests: num(item, "requests") ?? 0,
    denied: num(item, "denied") ?? 0,
    blocked: num(item, "blocked") ?? 0,
    failed: num(item, "failed") ?? 0,
    records: num(item, "records") ?? 0,
    bytes: num(item, "bytes") ?? 0,
    value: num(item, "value") ?? 0,
  };
}
