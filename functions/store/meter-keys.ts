/**
 * Keys of the `meter` table. Everything a busy flow writes on every exchange
 * is spread over shards in the partition key, so no item (and no partition
 * key) takes more than 1/shards of a flow's writes. See docs/metering.md.
 */
import { hash, randomInt } from "node:crypto";
import { key } from "./codec.ts";

/**
 * Shards per flow for rollups and quota counters. Readers sum them all, so
 * the number is fixed: raising it later needs readers that sum the new range
 * too (they read 0..FLOW_SHARDS-1); lowering it would hide data.
 */
export const FLOW_SHARDS = 8;
/**
 * Shards per hour for metering events (across all flows): 32 x ~500 events/s
 * per partition key (2 WCU each) is more than the meter table's default
 * on-demand quota allows, see docs/metering.md. Only ever raise it: the
 * reconciliation reads shards 0..EVENT_SHARDS-1, which still covers events
 * written under a smaller value.
 */
export const EVENT_SHARDS = 32;

export const eventPk = (hour: string, shard: number) => `E#${hour}#${shard}`;

/**
 * A metering event. `eventId` is made by the meter for each exchange (never
 * the caller's X-Request-Id, which a caller chooses and could repeat).
 */
export const eventKey = (hour: string, shard: number, agreement: string, eventId: string) =>
  key(eventPk(hour, shard), `${agreement}#${eventId}`);

/**
 * The claim of an Idempotency-Key on an agreement. The action (and, when the
 * caller passes one, a fingerprint of the request) is part of the key: the
 * same key on a different exchange is a different exchange, and is counted.
 */
export const idempotencyKey = (
  agreement: string,
  idempotencyKey: string,
  action = "read",
  fingerprint = "",
) =>
  key(
    `I#${agreement}#${hash("sha256", `${action}\u0000${fingerprint}\u0000${idempotencyKey}`, "base64url")}`,
    "I",
  );

export const rollupPk = (agreement: string, shard: number) => `R#${agreement}#${shard}`;
export const rollupKey = (agreement: string, shard: number, hour: string, currency: string) =>
  key(rollupPk(agreement, shard), `${hour}#${currency}`);

export type QuotaCounter = "requestsPerDay" | "recordsPerMonth";
export const quotaKey = (agreement: string, counter: QuotaCounter, window: string, shard: number) =>
  key(`Q#${agreement}#${counter === "requestsPerDay" ? "D" : "M"}#${window}#${shard}`, "Q");

/** Uniform in [0, n). */
export const randomShard = (n: number): number => (n <= 1 ? 0 : randomInt(n));

/**
 * A stable shard in [0, n) for an id (the same id always lands on the same
 * shard): the first 32 bits of its SHA-256, big-endian, modulo n. One-shot
 * `hash` in hex: a Hash object and a Buffer per call were a measurable share
 * of building the metering transaction.
 */
export function shardOf(id: string, n: number): number {
  return Number.parseInt(hash("sha256", id, "hex").slice(0, 8), 16) % n;
}

/**
 * Period rollups: one partition per UTC day (`2026-11-28`) or month
 * (`2026-11`) and shard, one item per flow and currency in it, so a period
 * of all flows is read with one paged query per shard (docs/metering.md).
 * `#A` marks counts booked into the period as adjustments (late writes and
 * reversals of a month that was closed before they landed).
 */
export const periodPk = (period: string, shard: number) => `P#${period}#${shard}`;
export const periodKey = (
  period: string,
  shard: number,
  agreement: string,
  currency: string,
  adjustment: boolean,
) => key(periodPk(period, shard), `${agreement}#${currency}${adjustment ? "#A" : ""}`);

/**
 * A month's closed marker, one copy per flow shard: every metering
 * transaction checks the copy of its rollup shard, so no copy takes more than
 * 1/FLOW_SHARDS of all exchanges; a close writes them all in one transaction.
 */
export const closedMarkerKey = (month: string, copy: number) => key(`C#${month}#${copy}`, "C");

/** A closed month's statement, kept as its exact bytes in chunks under the close's attempt id. */
export const statementPk = (month: string) => `S#${month}`;
