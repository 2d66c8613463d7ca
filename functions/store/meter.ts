/**
 * Exactly-once metering. One transaction per released exchange:
 *   - re-checks both parties and the agreement (a revocation stored before the
 *     commit stops the release),
 *   - writes the metering event under the request's key (never twice),
 *   - claims the Idempotency-Key for 24 h (a retry is served, not counted),
 *   - adds to one rollup shard and takes the quota from counter shards whose
 *     conditions make the quota exact under any concurrency.
 * Either all of it commits or none of it does; the caller releases only after
 * it committed. See docs/metering.md for why the counts are exact.
 */
import { createHash } from "node:crypto";
import type { TransactWriteItem } from "@aws-sdk/client-dynamodb";
import type { Action, Agreement } from "../../policies/model.ts";
import { exchangeValue } from "../../policies/money.ts";
import {
  dayKey,
  hourKey,
  monthKey,
  nextDayStart,
  nextMonthStart,
  secondsUntil,
  shardBudget,
} from "../../policies/windows.ts";
import { StoreUnavailableError } from "../errors.ts";
import { epochSeconds, type Item, N, num, S } from "./codec.ts";
import { type Db, sleep } from "./db.ts";
import {
  EVENT_SHARDS,
  eventKey,
  FLOW_SHARDS,
  idempotencyKey,
  type QuotaCounter,
  quotaKey,
  randomShard,
  rollupKey,
} from "./meter-keys.ts";
import type { Registry } from "./registry.ts";

export interface MeteringRequest {
  /** The agreement version read when the exchange started: its price applies. */
  readonly agreement: Agreement;
  readonly action: Action;
  /** Unique per exchange (the request id): the event's key. */
  readonly requestKey: string;
  readonly idempotencyKey?: string | undefined;
  readonly records: number;
  readonly bytes: number;
  readonly now: Date;
}

/** Which counter shards an event took, so a reversal gives back exactly that. */
export interface ShardPlan {
  readonly rollup: number;
  readonly day?: number | undefined;
  readonly month?: Readonly<Record<string, number>> | undefined;
}

export type MeteringOutcome =
  | {
      readonly kind: "metered";
      readonly value: number;
      readonly event: Item;
      readonly plan: ShardPlan;
    }
  | { readonly kind: "duplicate" }
  | { readonly kind: "status_changed" }
  | {
      readonly kind: "quota_exceeded";
      readonly counter: QuotaCounter;
      readonly retryAfter: number;
    };

type PlanOrRefusal =
  | { readonly kind: "plan"; readonly plan: ShardPlan }
  | Extract<MeteringOutcome, { kind: "quota_exceeded" }>;

const IDEMPOTENCY_SECONDS = 24 * 3600;
const EVENT_RETENTION_SECONDS = 400 * 24 * 3600;
const MAX_ATTEMPTS = 8;

export class Meter {
  constructor(
    private readonly db: Db,
    private readonly registry: Registry,
  ) {}

  async meter(req: MeteringRequest): Promise<MeteringOutcome> {
    let plan: PlanOrRefusal = this.fastPlan(req);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (plan.kind === "quota_exceeded") return plan;
      const built = this.build(req, plan.plan);
      const token = createHash("sha256")
        .update(`${req.requestKey}#${attempt}`)
        .digest("base64url")
        .slice(0, 36);
      const result = await this.db.transact(built.items, "meter the exchange", token);
      if (result.ok)
        return { kind: "metered", value: built.value, event: built.event, plan: plan.plan };
      const r = result.reasons;
      const failed = (i: number | undefined) =>
        i !== undefined && r[i] === "ConditionalCheckFailed";
      if (failed(0) || failed(1) || failed(2)) return { kind: "status_changed" };
      // The event exists: an earlier attempt of this very request committed.
      if (failed(built.at.event)) return { kind: "duplicate" };
      if (failed(built.at.idempotency)) return { kind: "duplicate" };
      if (failed(built.at.day) || built.at.month.some(failed)) {
        plan = await this.slowPlan(req, plan.plan);
        continue;
      }
      await sleep(Math.random() * Math.min(250, 10 * 2 ** attempt));
    }
    throw new StoreUnavailableError(
      "meter the exchange",
      new Error("the metering transaction stayed contended"),
    );
  }

  /** Counts a refused exchange (policy deny or leak block) on the flow. */
  async countRefusal(agreement: Agreement, kind: "denied" | "blocked", now: Date): Promise<void> {
    const k = rollupKey(
      agreement.id,
      randomShard(FLOW_SHARDS),
      hourKey(now),
      agreement.price.currency,
    );
    await this.db
      .transact(
        [
          {
            Update: {
              TableName: this.db.name("meter"),
              Key: k,
              UpdateExpression: `ADD ${kind} :one SET ${FLOW_ATTRS}`,
              ExpressionAttributeNames: { "#hour": "hour" },
              ExpressionAttributeValues: { ":one": N(1), ...flowValues(agreement, now) },
            },
          },
        ],
        `count the ${kind} exchange`,
      )
      .catch(() => undefined);
  }

  /**
   * Takes back a metered deliver the consumer's backend did not accept: the
   * event is marked reversed (once) and its counts and quota are given back.
   */
  async reverse(
    req: MeteringRequest,
    plan: ShardPlan,
    event: Item,
    value: number,
  ): Promise<boolean> {
    const agreement = req.agreement;
    const items: TransactWriteItem[] = [
      {
        Update: {
          TableName: this.db.name("meter"),
          Key: { pk: event.pk as Item[string], sk: event.sk as Item[string] },
          UpdateExpression: "SET #st = :rev",
          ConditionExpression: "#st = :metered",
          ExpressionAttributeNames: { "#st": "state" },
          ExpressionAttributeValues: { ":rev": S("reversed"), ":metered": S("metered") },
        },
      },
      this.addToRollup(agreement, plan.rollup, req.now, -1, -req.records, -req.bytes, -value),
    ];
    if (req.idempotencyKey !== undefined) {
      // The key may be used again: the exchange it named did not happen.
      items.push({
        Update: {
          TableName: this.db.name("meter"),
          Key: idempotencyKey(agreement.id, req.idempotencyKey),
          UpdateExpression: "SET expiresAt = :zero",
          ExpressionAttributeValues: { ":zero": N(0) },
        },
      });
    }
    if (plan.day !== undefined)
      items.push(this.takeQuota(req, "requestsPerDay", plan.day, -1, null));
    for (const [shard, k] of Object.entries(plan.month ?? {})) {
      items.push(this.takeQuota(req, "recordsPerMonth", Number(shard), -k, null));
    }
    const result = await this.db.transact(items, "reverse the metering event");
    return result.ok;
  }

  // ------------------------------------------------------------ plans

  private fastPlan(req: MeteringRequest): PlanOrRefusal {
    const quota = req.agreement.quota;
    const day = quota?.requestsPerDay;
    const month = quota?.recordsPerMonth;
    const plan: ShardPlan = {
      rollup: randomShard(FLOW_SHARDS),
      day: day === undefined ? undefined : randomShard(Math.min(FLOW_SHARDS, day)),
      month:
        month === undefined || req.records === 0
          ? undefined
          : { [randomShard(Math.min(FLOW_SHARDS, month))]: req.records },
    };
    return { kind: "plan", plan };
  }

  /**
   * Reads every shard of the exhausted counters (consistently) and plans where
   * the exchange fits; refuses only when the shards together have no room.
   * Counters only grow within a window, so "no room" read now stays true.
   */
  private async slowPlan(req: MeteringRequest, previous: ShardPlan): Promise<PlanOrRefusal> {
    const quota = req.agreement.quota ?? {};
    let day = previous.day;
    let month = previous.month;
    if (quota.requestsPerDay !== undefined) {
      const rooms = await this.rooms(req, "requestsPerDay", quota.requestsPerDay);
      const open = rooms.flatMap((room, shard) => (room >= 1 ? [shard] : []));
      if (open.length === 0) return this.exceeded(req, "requestsPerDay");
      day = open[randomShard(open.length)];
    }
    if (quota.recordsPerMonth !== undefined && req.records > 0) {
      const rooms = await this.rooms(req, "recordsPerMonth", quota.recordsPerMonth);
      if (rooms.reduce((a, b) => a + b, 0) < req.records)
        return this.exceeded(req, "recordsPerMonth");
      month = spread(req.records, rooms);
    }
    return { kind: "plan", plan: { rollup: previous.rollup, day, month } };
  }

  private async rooms(
    req: MeteringRequest,
    counter: QuotaCounter,
    limit: number,
  ): Promise<number[]> {
    const window = counter === "requestsPerDay" ? dayKey(req.now) : monthKey(req.now);
    const shards = Array.from({ length: FLOW_SHARDS }, (_, i) => i);
    const items = await this.db.getMany(
      shards.map((i) => ({
        table: "meter" as const,
        key: quotaKey(req.agreement.id, counter, window, i),
      })),
      "read the quota counters",
    );
    return shards.map((i) =>
      Math.max(0, shardBudget(limit, FLOW_SHARDS, i) - (num(items[i], "n") ?? 0)),
    );
  }

  private exceeded(req: MeteringRequest, counter: QuotaCounter) {
    const end = counter === "requestsPerDay" ? nextDayStart(req.now) : nextMonthStart(req.now);
    return { kind: "quota_exceeded" as const, counter, retryAfter: secondsUntil(req.now, end) };
  }

  // ------------------------------------------------------------ items

  private build(req: MeteringRequest, plan: ShardPlan) {
    const { agreement, now } = req;
    const value = exchangeValue(agreement.price, req.records);
    const hour = hourKey(now);
    const items: TransactWriteItem[] = [
      this.registry.partnerActiveCheck(agreement.provider, now),
      this.registry.partnerActiveCheck(agreement.consumer, now),
      this.registry.agreementActiveCheck(agreement.id, now),
    ];
    const event: Item = {
      ...eventKey(hour, randomShard(EVENT_SHARDS), agreement.id, req.requestKey),
      agreement: S(agreement.id),
      provider: S(agreement.provider),
      consumer: S(agreement.consumer),
      dataset: S(agreement.dataset),
      version: N(agreement.version),
      action: S(req.action),
      currency: S(agreement.price.currency),
      records: N(req.records),
      bytes: N(req.bytes),
      value: N(value),
      at: S(now.toISOString()),
      hour: S(hour),
      state: S("metered"),
      plan: S(JSON.stringify(plan)),
      expiresAt: N(epochSeconds(now) + EVENT_RETENTION_SECONDS),
    };
    const at: { event: number; idempotency?: number; day?: number; month: number[] } = {
      event: items.length,
      month: [],
    };
    items.push({
      Put: {
        TableName: this.db.name("meter"),
        Item: event,
        ConditionExpression: "attribute_not_exists(pk)",
      },
    });
    if (req.idempotencyKey !== undefined) {
      at.idempotency = items.length;
      items.push({
        Put: {
          TableName: this.db.name("meter"),
          Item: {
            ...idempotencyKey(agreement.id, req.idempotencyKey),
            event: S(`${event.pk?.S}|${event.sk?.S}`),
            expiresAt: N(epochSeconds(now) + IDEMPOTENCY_SECONDS),
          },
          ConditionExpression: "attribute_not_exists(pk) OR expiresAt < :now",
          ExpressionAttributeValues: { ":now": N(epochSeconds(now)) },
        },
      });
    }
    items.push(this.addToRollup(agreement, plan.rollup, now, 1, req.records, req.bytes, value));
    if (plan.day !== undefined && agreement.quota?.requestsPerDay !== undefined) {
      at.day = items.length;
      items.push(
        this.takeQuota(req, "requestsPerDay", plan.day, 1, agreement.quota.requestsPerDay),
      );
    }
    const monthShards = Object.entries(plan.month ?? {});
    if (monthShards.length > 0 && agreement.quota?.recordsPerMonth !== undefined) {
      for (const [shard, k] of monthShards) {
        at.month.push(items.length);
        items.push(
          this.takeQuota(req, "recordsPerMonth", Number(shard), k, agreement.quota.recordsPerMonth),
        );
      }
    }
    return { items, event, value, at };
  }

  private addToRollup(
    agreement: Agreement,
    shard: number,
    now: Date,
    requests: number,
    records: number,
    bytes: number,
    value: number,
  ): TransactWriteItem {
    return {
      Update: {
        TableName: this.db.name("meter"),
        Key: rollupKey(agreement.id, shard, hourKey(now), agreement.price.currency),
        UpdateExpression: `ADD requests :rq, records :rc, bytes :b, #v :v SET ${FLOW_ATTRS}`,
        ExpressionAttributeNames: { "#v": "value", "#hour": "hour" },
        ExpressionAttributeValues: {
          ":rq": N(requests),
          ":rc": N(records),
          ":b": N(bytes),
          ":v": N(value),
          ...flowValues(agreement, now),
        },
      },
    };
  }

  /** Adds `amount` to a quota shard; with a limit, only while the shard's budget holds it. */
  private takeQuota(
    req: MeteringRequest,
    counter: QuotaCounter,
    shard: number,
    amount: number,
    limit: number | null,
  ): TransactWriteItem {
    const window = counter === "requestsPerDay" ? dayKey(req.now) : monthKey(req.now);
    const end = counter === "requestsPerDay" ? nextDayStart(req.now) : nextMonthStart(req.now);
    const values: Item = { ":k": N(amount), ":exp": N(epochSeconds(end) + 86_400) };
    let condition: string | undefined;
    if (limit !== null) {
      const room = shardBudget(limit, FLOW_SHARDS, shard) - amount;
      condition = "attribute_not_exists(n) OR n <= :room";
      values[":room"] = N(room);
      // More than the shard's whole budget: a condition that never holds sends it to the slow path.
      if (room < 0) condition = "attribute_not_exists(pk) AND attribute_exists(pk)";
    }
    return {
      Update: {
        TableName: this.db.name("meter"),
        Key: quotaKey(req.agreement.id, counter, window, shard),
        UpdateExpression: "ADD n :k SET expiresAt = :exp",
        ...(condition === undefined ? {} : { ConditionExpression: condition }),
        ExpressionAttributeValues: values,
      },
    };
  }
}

const FLOW_ATTRS = "provider = :p, consumer = :c, dataset = :d, currency = :cur, #hour = :h";

function flowValues(agreement: Agreement, now: Date): Item {
  return {
    ":p": S(agreement.provider),
    ":c": S(agreement.consumer),
    ":d": S(agreement.dataset),
    ":cur": S(agreement.price.currency),
    ":h": S(hourKey(now)),
  };
}

/** Spreads `need` over shards by their room, largest rooms first. */
function spread(need: number, rooms: readonly number[]): Record<string, number> {
  const order = rooms.map((room, shard) => ({ room, shard })).sort((a, b) => b.room - a.room);
  const out: Record<string, number> = {};
  let left = need;
  for (const { room, shard } of order) {
    if (left === 0) break;
    const take = Math.min(room, left);
    if (take > 0) out[shard] = take;
    left -= take;
  }
  return out;
}
