/**
 * Keys of the `meter` table. Everything a busy flow writes on every exchange
 * is spread over shards in the partition key, so no item (and no partition
 * key) takes more than 1/shards of a flow's writes. See docs/metering.md.
 */
import { createHash } from "node:crypto";
import { key } from "./codec.ts";

/** Shards per flow for rollups and quota counters; fixed, since readers sum them all. */
export const FLOW_SHARDS = 8;
/** Shards per hour for metering events (across all flows). */
export const EVENT_SHARDS = 16;

export const eventKey = (hour: string, shard: number, agreement: string, requestKey: string) =>
  key(`E#${hour}#${shard}`, `${agreement}#${requestKey}`);

export const idempotencyKey = (agreement: string, idempotencyKey: string) =>
  key(`I#${agreement}#${createHash("sha256").update(idempotencyKey).digest("base64url")}`, "I");

export const rollupPk = (agreement: string, shard: number) => `R#${agreement}#${shard}`;
export const rollupKey = (agreement: string, shard: number, hour: string, currency: string) =>
  key(rollupPk(agreement, shard), `${hour}#${currency}`);

export type QuotaCounter = "requestsPerDay" | "recordsPerMonth";
export const quotaKey = (agreement: string, counter: QuotaCounter, window: string, shard: number) =>
  key(`Q#${agreement}#${counter === "requestsPerDay" ? "D" : "M"}#${window}#${shard}`, "Q");

/** Uniform in [0, n). */
export const randomShard = (n: number): number => Math.floor(Math.random() * n);
