/**
 * Exactly-once metering. One transaction per released exchange:
 *   - re-checks both parties and the agreement (a revocation stored before the
 *     commit stops the release),
 *   - writes the metering event under a key made here, once per exchange
 *     (never twice: `attribute_not_exists`),
 *   - claims the Idempotency-Key for 24 h (a retry is served, not counted),
 *   - adds to one rollup shard (its hour, and the day and month of the period
 *     index) and takes the quota from counter shards whose conditions make
 *     the quota exact under any concurrency,
 *   - checks that the month it books into is not closed (a closed month's
 *     late writes are booked into the next open month, as adjustments).
 * Either all of it commits or none of it does; the caller releases only after
 * it committed. See docs/metering.md for why the counts are exact.
 */
import { hash, randomUUID } from "node:crypto";
import type { AttributeValue, Put, Update } from "@aws-sdk/client-dynamodb";
import type { Action, Agreement } from "../../policies/model.ts";
import { exchangeValue } from "../../policies/money.ts";
import {
  dayKey,
  hourKey,
  isoString,
  monthKey,
  nextDayStart,
  nextMonthStart,
  secondsUntil,
  shardBudget,
} from "../../policies/windows.ts";
import { StoreUnavailableError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { jitteredDelay, sleep } from "./backoff.ts";
import { epochSeconds, type Item, N, num, S, str } from "./codec.ts";
import type { CancelReason, Db } from "./db.ts";
import {
  EXCHANGE_COUNTS,
  flowOf,
  type RollupTemplate,
  rollupTemplate,
  rollupValues,
} from "./meter-flow.ts";
import {
  closedMarkerKey,
  EVENT_SHARDS,
  eventKey,
  eventPk,
  FLOW_SHARDS,
  idempotencyKey,
  periodKey,
  type QuotaCounter,
  quotaKey,
  randomShard,
  rollupKey,
  shardOf,
} from "./meter-keys.ts";
import { CLOSED_CHECK_FROM_MS } from "./meter-periods.ts";
import type { Registry } from "./registry.ts";
import type { Transaction, TxItem, TxResult } from "./transaction.ts";

export interface MeteringRequest {
  /** The agreement version read when the exchange started: its price applies. */
  readonly agreement: Agreement;
  readonly action: Action;
  /** The request id (X-Request-Id), kept on the event for tracing; not a key. */
  readonly requestKey: string;
  readonly idempotencyKey?: string | undefined;
  /**
   * What the exchange asked for (e.g. a hash of subpath, query and deliver
   * body). When given, an Idempotency-Key reused on a different request is a
   * different exchange and is counted.
   */
  readonly fingerprint?: string | undefined;
  readonly records: number;
  readonly bytes: number;
  readonly now: Date;
  /** The registry copy the exchange read; its statuses are re-checked in the same copy. */
  readonly replica?: number | undefined;
  /**
   * The versions of the terms (agreement, dataset, trade rules) the exchange
   * was decided and cut under: re-checked in the same transaction, so nothing
   * is metered (and released) under terms that changed meanwhile.
   */
  readonly terms?: TermsVersions | undefined;
  /**
   * The metering event's id, when the caller must name something after it
   * before the metering (a stored body); else the meter makes one.
   */
  readonly eventId?: string | undefined;
  /** More attributes for the Idempotency-Key claim: what a retry answers. */
  readonly claim?: Item | undefined;
  /**
   * Check that the month booked into is not closed whenever this is built,
   * not only near the month's end (`mayBeClosed`): for writes rare and large
   * enough that 2 WCU do not matter (a large transfer, metered once).
   */
  readonly alwaysCheckClosedMonth?: boolean | undefined;
  /**
   * The `event` of a claim of this key made under other terms: this exchange
   * may take its place (the retry is metered anew), as long as it is still that claim.
   */
  readonly replaces?: string | undefined;
  /**
   * The claim of the request's DPoP proof (a conditional put on `meter`,
   * ProofReplays.claimPut): written with the metering or not at all; a
   * proof used before cancels the metering (`proof_replayed`).
   */
  readonly proofClaim?: Omit<Put, "TableName"> | undefined;
}

/** The versions of what an exchange was decided under. */
export interface TermsVersions {
  readonly agreement: number;
  readonly dataset: number;
  readonly tradeRules: number;
}

/** An Idempotency-Key claim still in force: which event it names, under which terms, and what it keeps. */
export interface IdempotencyClaim {
  /** `pk|sk` of the metering event it names. */
  readonly event: string;
  readonly eventId: string | undefined;
  /** Undefined for claims written before terms were recorded: never equal to any. */
  readonly terms: TermsVersions | undefined;
  readonly item: Item;
}

/** Which counter shards an event took, so a reversal gives back exactly that. */
export interface ShardPlan {
  readonly rollup: number;
  /**
   * The month (`yyyy-mm`) the counts are booked into when it is not the month
   * of the exchange: that month was closed before the write landed, so the
   * counts went into the next open month as an adjustment.
   */
  readonly booked?: string | undefined;
  readonly day?: number | undefined;
  readonly month?: Readonly<Record<string, number>> | undefined;
}

/** What a committed metering wrote: enough to take it back (a deliver the consumer refused). */
export interface MeteringReceipt {
  /** The metering event's id, made by the meter. */
  readonly eventId: string;
  /** When the exchange was metered (`MeteringRequest.now`): its hour and quota windows. */
  readonly at: Date;
  readonly plan: ShardPlan;
  /** What the exchange was worth, in micro-units of the agreement's currency. */
  readonly value: number;
}

export type MeteringOutcome =
  | ({ readonly kind: "metered" } & MeteringReceipt)
  | { readonly kind: "duplicate" }
  | { readonly kind: "status_changed" }
  /** The agreement, the dataset or the trade rules changed since the decision. */
  | { readonly kind: "terms_changed" }
  /** The request's DPoP proof was used before: nothing was metered. */
  | { readonly kind: "proof_replayed" }
  | {
      readonly kind: "quota_exceeded";
      readonly counter: QuotaCounter;
      readonly retryAfter: number;
    };

type PlanOrRefusal =
  /** `text`: the plan as JSON, when it was made with the plan (the fast plan). */
  | { readonly kind: "plan"; readonly plan: ShardPlan; readonly text?: string | undefined }
  | Extract<MeteringOutcome, { kind: "quota_exceeded" }>;

interface Built {
  readonly tx: Transaction;
  readonly receipt: MeteringReceipt;
  /** The items whose conditions the meter acts on. */
  readonly items: {
    readonly status: readonly TxItem[];
    readonly terms: readonly TxItem[];
    readonly event: TxItem;
    readonly idempotency?: TxItem | undefined;
    readonly proof?: TxItem | undefined;
    readonly day?: TxItem | undefined;
    readonly month: readonly TxItem[];
    /** The check that the month booked into is still open (only when it may be closing). */
    readonly closed?: TxItem | undefined;
  };
}

const IDEMPOTENCY_SECONDS = 24 * 3600;
const EVENT_RETENTION_SECONDS = 400 * 24 * 3600;
/** Rounds lost to transaction conflicts or throttling inside a transaction, with backoff. */
const MAX_CONFLICT_ROUNDS = 10;
/** Between those rounds. */
const CONFLICT_BACKOFF = { baseMs: 10, capMs: 200 };
/**
 * Rounds lost to a quota shard that filled meanwhile. Each such loss means
 * another exchange took quota (progress), so the bound is generous: running
 * out of rounds must not refuse an exchange that still fits.
 */
const MAX_QUOTA_ROUNDS = 64;
/** Closed months skipped while booking one write: one per month a write can be late. */
const MAX_CLOSED_ROUNDS = 24;
/** Cancellation reasons worth another round; anything else is a store fault. */
const RETRYABLE = new Set([
  "TransactionConflict",
  "ThrottlingError",
  "ProvisionedThroughputExceeded",
  "RequestLimitExceeded",
]);

export class Meter {
  constructor(
    private readonly db: Db,
    /** Only for the status checks the metering transaction re-runs. */
    private readonly registry: Pick<
      Registry,
      | "partnerActiveCheck"
      | "agreementActiveCheck"
      | "datasetVersionCheck"
      | "tradeRulesVersionCheck"
    >,
    /** Where best-effort writes that failed are reported (they never fail the request). */
    private readonly log: Logger,
    /** The gateway's clock: when a round is built decides whether it checks for a closed month. */
    private readonly clock: () => Date = () => new Date(),
    /** Picks a shard in [0, n): random in production; fixed by tests that pin requests. */
    private readonly pickShard: (n: number) => number = randomShard,
  ) {}

  async meter(req: MeteringRequest): Promise<MeteringOutcome> {
    // Made here (or by the exchange service), once per exchange, and the same
    // in every round: never the caller's X-Request-Id, which it could repeat.
    const eventId = req.eventId ?? randomUUID();
    let plan: PlanOrRefusal = this.fastPlan(req);
    let conflicts = 0;
    let quotaRounds = 0;
    let closedRounds = 0;
    for (let round = 0; ; round++) {
      if (plan.kind === "quota_exceeded") return plan;
      const built = this.build(req, plan.plan, eventId, plan.text);
      // One token per round: the SDK's own retries of this call resend it, and
      // DynamoDB applies a token at most once (for 10 minutes).
      const token = digest(`${eventId}#${round}`).slice(0, 36);
      let result: TxResult;
      try {
        result = await built.tx.run("meter the exchange", token);
      } catch (err) {
        // The write may have landed before the failure (a timeout after the
        // commit): make sure it counts for nothing, since nothing is released.
        throw await this.settleUnknown(req, built, err);
      }
      if (result.ok) return metered(built.receipt);
      const { items } = built;
      const statusFailed = items.status.some(result.failed);
      if (result.failed(items.event)) {
        // The event exists: this very round committed already (an SDK retry
        // the token did not absorb). It is ours, counted once.
        if (!statusFailed) return metered(built.receipt);
        await this.reverse(req, built.receipt).catch(() => false);
        return { kind: "status_changed" };
      }
      if (result.failed(items.proof)) return { kind: "proof_replayed" };
      if (statusFailed) return { kind: "status_changed" };
      if (items.terms.some(result.failed)) return { kind: "terms_changed" };
      if (result.failed(items.idempotency)) return { kind: "duplicate" };
      if (result.failed(items.closed)) {
        // The month closed before this write landed: book it into the next one.
        if (++closedRounds > MAX_CLOSED_ROUNDS)
          throw contended("every month booked into was closed");
        plan = {
          kind: "plan",
          plan: { ...plan.plan, booked: nextMonth(bookedMonth(req.now, plan.plan)) },
        };
        continue;
      }
      if (result.failed(items.day) || items.month.some(result.failed)) {
        if (++quotaRounds > MAX_QUOTA_ROUNDS)
          throw contended("the quota counters stayed contended");
        plan = await this.slowPlan(req, plan.plan);
        continue;
      }
      const { reasons } = result;
      if (!reasons.every((r) => r === "None" || RETRYABLE.has(r)) || reasons.every(isNone)) {
        throw new StoreUnavailableError(
          "meter the exchange",
          new Error(`the metering transaction was cancelled: ${reasons.join(", ")}`),
        );
      }
      if (++conflicts > MAX_CONFLICT_ROUNDS)
        throw contended("the metering transaction stayed contended");
      await sleep(jitteredDelay(conflicts, CONFLICT_BACKOFF));
    }
  }

  /**
   * The claim of an Idempotency-Key on an agreement, if one is in force at
   * `now` (an expired claim that TTL has not deleted yet is none).
   */
  async claim(
    agreement: string,
    key: string,
    action: Action,
    fingerprint: string | undefined,
    now: Date,
  ): Promise<IdempotencyClaim | undefined> {
    const item = await this.db.get(
      "meter",
      idempotencyKey(agreement, key, action, fingerprint),
      "read the Idempotency-Key claim",
    );
    return claimOf(item, now);
  }

  /**
   * Counts a refused exchange (policy deny, quota or leak block) on the flow.
   * Best effort: the refusal stands whether or not it was counted, so a
   * failure is logged (`refusal_uncounted`) and never thrown.
   */
  async countRefusal(agreement: Agreement, kind: RefusalKind, now: Date): Promise<void> {
    // Hour, day and month move together (a transaction), in a month still open.
    let month = monthKey(now);
    try {
      for (let round = 0; ; round++) {
        const shard = this.pickShard(FLOW_SHARDS);
        const tx = this.db.transaction();
        for (const u of rollupUpdates(
          agreement,
          shard,
          booking(now, month),
          REFUSALS[kind],
          [ONE],
          this.db.name("meter"),
        ))
          tx.add({ Update: u });
        const closed = this.mayBeClosed(month)
          ? tx.conditionCheck("meter", openCheck(month, shard))
          : undefined;
        const result = await tx.run("count the refusal");
        if (result.ok) return;
        if (round >= MAX_CLOSED_ROUNDS) throw new Error(`cancelled: ${result.reasons.join(", ")}`);
        if (result.failed(closed)) month = nextMonth(month);
        else if (result.reasons.every((r) => r === "None" || RETRYABLE.has(r)))
          await sleep(jitteredDelay(round + 1, CONFLICT_BACKOFF));
        else throw new Error(`cancelled: ${result.reasons.join(", ")}`);
      }
    } catch (err) {
      this.log.warn("refusal_uncounted", {
        agreement: agreement.id,
        kind,
        message: err instanceof Error ? err.message : String(err),
        cause: String((err as { cause?: unknown }).cause),
      });
    }
  }

  /**
   * Takes back a metered exchange that did not happen (a deliver the
   * consumer's backend did not accept): the event goes metered → reversed
   * (once: the condition), and its counts and quota are given back, in the
   * hour and windows of the receipt's time. `req` is the request that was
   * metered (its records, bytes and Idempotency-Key).
   */
  async reverse(req: MeteringRequest, receipt: MeteringReceipt): Promise<boolean> {
    const { agreement } = req;
    const { at, plan } = receipt;
    const original = bookedMonth(at, plan);
    // Taken back where it was booked, unless that month closed meanwhile:
    // then as an adjustment in the next open month, with a reversal event there.
    for (let month = original, round = 0; round <= MAX_CLOSED_ROUNDS; round++) {
      const late = month !== original;
      const where = late ? booking(at, month) : booking(at, plan.booked);
      const tx = this.db.transaction();
      tx.update("meter", {
        Key: eventKeyOf(agreement.id, receipt),
        UpdateExpression: late ? "SET #st = :rev, reversedIn = :h" : "SET #st = :rev",
        ConditionExpression: "#st = :metered",
        ExpressionAttributeNames: { "#st": "state" },
        ExpressionAttributeValues: {
          ":rev": S("reversed"),
          ":metered": S("metered"),
          ...(late ? { ":h": S(hourKey(where.at)) } : {}),
        },
      });
      if (late) {
        tx.put("meter", {
          Item: {
            ...eventKey(
              hourKey(where.at),
              shardOf(receipt.eventId, EVENT_SHARDS),
              agreement.id,
              `${receipt.eventId}#R`,
            ),
            ...flowOfEvent(agreement),
            records: N(req.records),
            bytes: N(req.bytes),
            value: N(receipt.value),
            hour: S(hourKey(where.at)),
            state: S("reversal"),
            reverses: S(receipt.eventId),
            expiresAt: N(epochSeconds(where.at) + EVENT_RETENTION_SECONDS),
          },
          ConditionExpression: "attribute_not_exists(pk)",
        });
      }
      for (const u of rollupUpdates(
        agreement,
        plan.rollup,
        where,
        EXCHANGE_COUNTS,
        [N(-1), N(-req.records), N(-req.bytes), N(-receipt.value)],
        this.db.name("meter"),
      ))
        tx.add({ Update: u });
      const closed = tx.conditionCheck("meter", openCheck(month, plan.rollup));
      if (req.idempotencyKey !== undefined) {
        // The key may be used again: the exchange it named did not happen.
        tx.update("meter", {
          Key: idempotencyKey(agreement.id, req.idempotencyKey, req.action, req.fingerprint),
          UpdateExpression: "SET expiresAt = :zero",
          ExpressionAttributeValues: { ":zero": N(0) },
        });
      }
      if (plan.day !== undefined)
        tx.update("meter", takeQuota(agreement.id, at, "requestsPerDay", plan.day, -1, null));
      for (const [shard, k] of Object.entries(plan.month ?? {})) {
        tx.update("meter", takeQuota(agreement.id, at, "recordsPerMonth", Number(shard), -k, null));
      }
      // A token of this call only: SDK retries of a reversal that landed are
      // absorbed; the state condition makes a second call a no-op anyway.
      const token = digest(`reverse#${agreement.id}#${receipt.eventId}#${randomUUID()}`).slice(
        0,
        36,
      );
      const result = await tx.run("reverse the metering event", token);
      if (result.ok) return true;
      if (!result.failed(closed)) return false;
      month = nextMonth(month);
    }
    return false;
  }

  // ------------------------------------------------------------ unknown outcomes

  /**
   * After a metering write failed without an answer (timeouts, faults), it
   * may or may not have committed. Nothing is released, so it must count for
   * nothing: a tombstone under the event's key stops a late commit (its
   * `attribute_not_exists` fails), and an event that did commit is reversed.
   */
  private async settleUnknown(
    req: MeteringRequest,
    built: Built,
    cause: unknown,
  ): Promise<StoreUnavailableError> {
    const outcome = await this.voidOrReverse(req, built).catch(() => "unknown");
    return new StoreUnavailableError(`meter the exchange (write ${outcome})`, cause);
  }

  /** Throws StoreUnavailableError when the store cannot say (the outcome stays unknown). */
  private async voidOrReverse(req: MeteringRequest, built: Built): Promise<string> {
    const voided = await this.db.update(
      "meter",
      {
        Key: eventKeyOf(req.agreement.id, built.receipt),
        UpdateExpression: "SET #st = :void, expiresAt = :exp, requestId = :rid",
        ConditionExpression: "attribute_not_exists(pk)",
        ExpressionAttributeNames: { "#st": "state" },
        ExpressionAttributeValues: {
          ":void": S("void"),
          ":exp": N(epochSeconds(req.now) + IDEMPOTENCY_SECONDS),
          ":rid": S(req.requestKey),
        },
      },
      "void the metering event",
    );
    if (voided) return "never committed";
    return (await this.reverse(req, built.receipt)) ? "committed and reversed" : "unknown";
  }

  /**
   * Whether a write built now for `month` could still land after a close of
   * it began: from CLOSED_CHECK_FROM_MS before the month's end on. A write
   * built earlier lands before the month may be closed (see CLOSE_GRACE_MS),
   * so it carries no check (2 WCU less on every exchange of the month).
   */
  private mayBeClosed(month: string): boolean {
    // The same month on nearly every call: its threshold is worked out once.
    if (this.checkFrom.month !== month) {
      const end = nextMonthStart(monthStart(month)).getTime();
      this.checkFrom = { month, at: end - CLOSED_CHECK_FROM_MS };
    }
    return this.clock().getTime() >= this.checkFrom.at;
  }

  /** When writes booked into `month` start checking that it is still open. */
  private checkFrom = { month: "", at: 0 };

  // ------------------------------------------------------------ plans

  private fastPlan(req: MeteringRequest): PlanOrRefusal {
    const quota = req.agreement.quota;
    const day = quota?.requestsPerDay;
    const month = quota?.recordsPerMonth;
    // Shards with an index below the limit are the only ones with a budget
    // when the limit is smaller than the shard count.
    const rollup = this.pickShard(FLOW_SHARDS);
    const dayShard = day === undefined ? undefined : this.pickShard(Math.min(FLOW_SHARDS, day));
    const monthShard =
      month === undefined || req.records === 0
        ? undefined
        : this.pickShard(Math.min(FLOW_SHARDS, month));
    const plan: ShardPlan = {
      rollup,
      day: dayShard,
      month: monthShard === undefined ? undefined : { [monthShard]: req.records },
    };
    return { kind: "plan", plan, text: fastPlanText(rollup, dayShard, monthShard, req.records) };
  }

  /**
   * Reads every shard of the counters (consistently, one round trip) and
   * plans where the exchange fits; refuses only when the shards together have
   * no room. Counters only grow within a window (but for reversals of
   * exchanges that did not happen), so "no room" read now stays true.
   */
  private async slowPlan(req: MeteringRequest, previous: ShardPlan): Promise<PlanOrRefusal> {
    const quota = req.agreement.quota ?? {};
    const wantDay = quota.requestsPerDay !== undefined;
    const wantMonth = quota.recordsPerMonth !== undefined && req.records > 0;
    const counters: { counter: QuotaCounter; limit: number }[] = [];
    if (wantDay) counters.push({ counter: "requestsPerDay", limit: quota.requestsPerDay ?? 0 });
    if (wantMonth) counters.push({ counter: "recordsPerMonth", limit: quota.recordsPerMonth ?? 0 });
    const rooms = await this.rooms(req, counters);
    const exceeded: QuotaCounter[] = [];
    let day = previous.day;
    let month = previous.month;
    const dayRooms = rooms.get("requestsPerDay");
    if (dayRooms !== undefined) {
      const open = dayRooms.flatMap((room, shard) => (room >= 1 ? [shard] : []));
      if (open.length === 0) exceeded.push("requestsPerDay");
      else day = open[this.pickShard(open.length)];
    }
    const monthRooms = rooms.get("recordsPerMonth");
    if (monthRooms !== undefined) {
      if (monthRooms.reduce((a, b) => a + b, 0) < req.records) exceeded.push("recordsPerMonth");
      else month = spread(req.records, monthRooms);
    }
    if (exceeded.length > 0) return this.exceeded(req, exceeded);
    return { kind: "plan", plan: { ...previous, day, month } };
  }

  private async rooms(
    req: MeteringRequest,
    counters: readonly { counter: QuotaCounter; limit: number }[],
  ): Promise<Map<QuotaCounter, number[]>> {
    const counts = await this.quotaCounts(
      req.agreement.id,
      counters.map((c) => c.counter),
      req.now,
    );
    const out = new Map<QuotaCounter, number[]>();
    for (const { counter, limit } of counters) {
      const used = counts.get(counter) ?? [];
      out.set(
        counter,
        used.map((n, i) => Math.max(0, shardBudget(limit, FLOW_SHARDS, i) - n)),
      );
    }
    return out;
  }

  /**
   * What each shard of the given quota counters holds in the window of `now`,
   * in one round trip (consistent unless told otherwise).
   */
  async quotaCounts(
    agreement: string,
    counters: readonly QuotaCounter[],
    now: Date,
    consistent = true,
  ): Promise<Map<QuotaCounter, number[]>> {
    const shards = Array.from({ length: FLOW_SHARDS }, (_, i) => i);
    const refs = counters.flatMap((counter) => {
      const window = counter === "requestsPerDay" ? dayKey(now) : monthKey(now);
      return shards.map((i) => ({
        table: "meter" as const,
        key: quotaKey(agreement, counter, window, i),
      }));
    });
    const items =
      refs.length === 0 ? [] : await this.db.getMany(refs, "read the quota counters", consistent);
    return new Map(
      counters.map((counter, c) => [
        counter,
        shards.map((i) => num(items[c * FLOW_SHARDS + i], "n") ?? 0),
      ]),
    );
  }

  /** Refuses; with several counters exhausted, Retry-After is when the last of them opens again. */
  private exceeded(
    req: MeteringRequest,
    counters: readonly QuotaCounter[],
  ): Extract<MeteringOutcome, { kind: "quota_exceeded" }> {
    let best: { counter: QuotaCounter; retryAfter: number } | undefined;
    for (const counter of counters) {
      const end = counter === "requestsPerDay" ? nextDayStart(req.now) : nextMonthStart(req.now);
      const retryAfter = secondsUntil(req.now, end);
      if (best === undefined || retryAfter > best.retryAfter) best = { counter, retryAfter };
    }
    const chosen = best ?? { counter: "requestsPerDay" as const, retryAfter: 1 };
    return { kind: "quota_exceeded", ...chosen };
  }

  // ------------------------------------------------------------ items

  private build(
    req: MeteringRequest,
    plan: ShardPlan,
    eventId: string,
    /** The plan as JSON, if known already. */
    planText: string = JSON.stringify(plan),
  ): Built {
    const { agreement, now } = req;
    const value = exchangeValue(agreement.price, req.records);
    const receipt: MeteringReceipt = { eventId, at: now, plan, value };
    const where = booking(now, plan.booked);
    // One ISO string each for the exchange's time and where it is booked: every key slices them.
    const at = isoString(now);
    const bookedAt = where.adjustment ? isoString(where.at) : at;
    const hour = bookedAt.slice(0, 13);
    const month = bookedAt.slice(0, 7);
    const nowSeconds = epochSeconds(now);
    const tx = this.db.transaction();
    const meterTable = this.db.name("meter");
    const status = [tx.add(this.registry.partnerActiveCheck(agreement.provider, now, req.replica))];
    // One item may appear once in a transaction: a partner that is both
    // provider and consumer is checked once.
    if (agreement.consumer !== agreement.provider)
      status.push(tx.add(this.registry.partnerActiveCheck(agreement.consumer, now, req.replica)));
    status.push(
      tx.add(
        this.registry.agreementActiveCheck(agreement.id, now, req.replica, req.terms?.agreement),
      ),
    );
    const terms =
      req.terms === undefined
        ? []
        : [
            tx.add(
              this.registry.datasetVersionCheck(agreement.dataset, req.terms.dataset, req.replica),
            ),
            tx.add(this.registry.tradeRulesVersionCheck(req.terms.tradeRules, req.replica)),
          ];
    // One literal in the stored order of attributes (the pinned requests):
    // spreads and Object.assign of the key and the flow took V8's slow paths.
    const flow = flowOf(agreement);
    const event: Item = {
      pk: S(eventPk(hour, shardOf(eventId, EVENT_SHARDS))),
      sk: S(`${agreement.id}#${eventId}`),
      eventId: S(eventId),
      requestId: S(req.requestKey),
      agreement: flow.agreement,
      provider: flow.provider,
      consumer: flow.consumer,
      dataset: flow.dataset,
      currency: flow.currency,
      version: N(agreement.version),
      action: S(req.action),
      records: N(req.records),
      bytes: N(req.bytes),
      value: N(value),
      at: S(at),
      hour: S(hour),
      state: METERED,
      plan: S(planText),
      expiresAt: N(nowSeconds + EVENT_RETENTION_SECONDS),
    };
    const eventItem = tx.add({
      Put: { Item: event, ConditionExpression: "attribute_not_exists(pk)", TableName: meterTable },
    });
    const idempotency =
      req.idempotencyKey === undefined
        ? undefined
        : tx.put("meter", {
            // Object.assign, not spreads: the same attributes in the same order, without V8's slow path.
            Item: Object.assign(
              {},
              req.claim,
              idempotencyKey(agreement.id, req.idempotencyKey, req.action, req.fingerprint),
              {
                event: S(`${event.pk?.S}|${event.sk?.S}`),
                eventId: S(eventId),
                expiresAt: N(nowSeconds + IDEMPOTENCY_SECONDS),
              },
              req.terms === undefined ? undefined : termsAttributes(req.terms),
            ),
            // TTL deletes lazily: an expired claim still present is free. A
            // claim made under other terms may be replaced, if it is still the one seen.
            ConditionExpression:
              req.replaces === undefined
                ? "attribute_not_exists(pk) OR expiresAt < :now"
                : "attribute_not_exists(pk) OR expiresAt < :now OR #event = :seen",
            ...(req.replaces === undefined
              ? {}
              : { ExpressionAttributeNames: { "#event": "event" } }),
            ExpressionAttributeValues: {
              ":now": N(nowSeconds),
              ...(req.replaces === undefined ? {} : { ":seen": S(req.replaces) }),
            },
          });
    const proof = req.proofClaim === undefined ? undefined : tx.put("meter", req.proofClaim);
    for (const u of rollupUpdates(
      agreement,
      plan.rollup,
      where,
      EXCHANGE_COUNTS,
      [ONE, N(req.records), N(req.bytes), N(value)],
      meterTable,
      bookedAt,
    ))
      tx.add({ Update: u });
    const closed =
      req.alwaysCheckClosedMonth === true || this.mayBeClosed(month)
        ? tx.conditionCheck("meter", openCheck(month, plan.rollup))
        : undefined;
    const dayLimit = agreement.quota?.requestsPerDay;
    const day =
      plan.day === undefined || dayLimit === undefined
        ? undefined
        : tx.add({
            Update: takeQuota(
              agreement.id,
              now,
              "requestsPerDay",
              plan.day,
              1,
              dayLimit,
              at,
              meterTable,
            ),
          });
    const monthLimit = agreement.quota?.recordsPerMonth;
    const monthShards = monthLimit === undefined ? undefined : plan.month;
    const quotaMonth: TxItem[] = [];
    if (monthLimit !== undefined && monthShards !== undefined)
      for (const shard in monthShards) {
        const k = monthShards[shard];
        if (k === undefined) continue;
        quotaMonth.push(
          tx.add({
            Update: takeQuota(
              agreement.id,
              now,
              "recordsPerMonth",
              Number(shard),
              k,
              monthLimit,
              at,
              meterTable,
            ),
          }),
        );
      }
    return {
      tx,
      receipt,
      items: {
        status,
        terms,
        event: eventItem,
        idempotency,
        proof,
        day,
        month: quotaMonth,
        closed,
      },
    };
  }
}

/** Where a write's counts are booked: the exchange's own time, or the start of a later month. */
interface Booking {
  readonly at: Date;
  /** Booked into a later month than the exchange's (its own month was closed). */
  readonly adjustment: boolean;
}

const monthStart = (month: string): Date => new Date(`${month}-01T00:00:00.000Z`);
const nextMonth = (month: string): string => monthKey(nextMonthStart(monthStart(month)));
const bookedMonth = (at: Date, plan: ShardPlan): string => plan.booked ?? monthKey(at);

function booking(at: Date, month: string | undefined): Booking {
  if (month === undefined || month === monthKey(at)) return { at, adjustment: false };
  return { at: monthStart(month), adjustment: true };
}

/**
 * The same ADD on one rollup shard of the flow: its hour (per-flow
 * partition), its day and its month (the period partitions finance reads).
 * `amounts` are the template's counts, in its order (negative ones take back).
 */
function rollupUpdates(
  agreement: Agreement,
  shard: number,
  where: Booking,
  template: RollupTemplate,
  amounts: readonly AttributeValue[],
  /** The meter table's name, last in each update (the order Transaction.update writes). */
  tableName: string,
  bookedAt: string = isoString(where.at),
): Update[] {
  const flow = flowOf(agreement);
  const values = rollupValues(template, amounts, flow);
  const hourValues = rollupValues(template, amounts, flow);
  const hour = bookedAt.slice(0, 13);
  hourValues[":h"] = S(hour);
  const { id } = agreement;
  const { currency } = agreement.price;
  return [
    {
      Key: rollupKey(id, shard, hour, currency),
      UpdateExpression: template.hourUpdate,
      ExpressionAttributeNames: template.hourNames,
      ExpressionAttributeValues: hourValues,
      TableName: tableName,
    },
    {
      Key: periodKey(bookedAt.slice(0, 10), shard, id, currency, where.adjustment),
      UpdateExpression: template.periodUpdate,
      ExpressionAttributeNames: template.periodNames,
      ExpressionAttributeValues: values,
      TableName: tableName,
    },
    {
      Key: periodKey(bookedAt.slice(0, 7), shard, id, currency, where.adjustment),
      UpdateExpression: template.periodUpdate,
      ExpressionAttributeNames: template.periodNames,
      ExpressionAttributeValues: values,
      TableName: tableName,
    },
  ];
}

/** A count of one: a refusal, an exchange's request. Shared, never written into. */
const ONE: AttributeValue = Object.freeze(N(1));
const METERED: AttributeValue = Object.freeze(S("metered"));

/** What a refusal adds to the flow's rollups. */
const REFUSALS: Readonly<Record<RefusalKind, RollupTemplate>> = {
  denied: rollupTemplate(["denied"]),
  blocked: rollupTemplate(["blocked"]),
  failed: rollupTemplate(["failed"]),
};

/** The month is not closed: its marker copy of this shard does not exist. */
const openCheck = (month: string, shard: number) => ({
  Key: closedMarkerKey(month, shard),
  ConditionExpression: "attribute_not_exists(pk)",
});

/** The flow attributes an event carries for the recount. */
const flowOfEvent = (agreement: Agreement): Item => {
  const flow = flowOf(agreement);
  return {
    agreement: flow.agreement,
    provider: flow.provider,
    consumer: flow.consumer,
    dataset: flow.dataset,
    currency: flow.currency,
  };
};

/**
 * Adds `amount` to a quota shard of the window of `now`; with a limit, only
 * while the shard's budget holds it.
 */
function takeQuota(
  agreement: string,
  now: Date,
  counter: QuotaCounter,
  shard: number,
  amount: number,
  limit: number | null,
  /** `now` as an ISO string, when the caller has it already. */
  at?: string,
): Omit<Update, "TableName">;
function takeQuota(
  agreement: string,
  now: Date,
  counter: QuotaCounter,
  shard: number,
  amount: number,
  limit: number | null,
  at: string,
  /** The table, written last (as Transaction.update would): a complete item for Transaction.add. */
  tableName: string,
): Update;
function takeQuota(
  agreement: string,
  now: Date,
  counter: QuotaCounter,
  shard: number,
  amount: number,
  limit: number | null,
  at: string = isoString(now),
  tableName?: string,
): Omit<Update, "TableName"> | Update {
  const daily = counter === "requestsPerDay";
  const window = daily ? at.slice(0, 10) : at.slice(0, 7);
  const values: Item = { ":k": N(amount), ":exp": windowExpiry(window, now, daily) };
  let condition: string | undefined;
  if (limit !== null) {
    const room = shardBudget(limit, FLOW_SHARDS, shard) - amount;
    if (room >= 0) {
      condition = "attribute_not_exists(n) OR n <= :room";
      values[":room"] = N(room);
    } else {
      // More than the shard's whole budget: a condition that never holds
      // sends it to the slow path. (No :room then: DynamoDB refuses unused values.)
      condition = "attribute_not_exists(pk) AND attribute_exists(pk)";
    }
  }
  const update: Omit<Update, "TableName"> & { TableName?: string } = {
    Key: quotaKey(agreement, counter, window, shard),
    UpdateExpression: "ADD n :k SET expiresAt = :exp",
    ...(condition === undefined ? {} : { ConditionExpression: condition }),
    ExpressionAttributeValues: values,
  };
  if (tableName !== undefined) update.TableName = tableName;
  return update;
}

/**
 * A quota window's expiry (a day after it ends), as a shared value: the same
 * window on nearly every call, so it is worked out once per window.
 */
const expiries = new Map<string, AttributeValue>();
function windowExpiry(window: string, now: Date, daily: boolean): AttributeValue {
  const known = expiries.get(window);
  if (known !== undefined) return known;
  const end = daily ? nextDayStart(now) : nextMonthStart(now);
  const value = Object.freeze(N(epochSeconds(end) + 86_400));
  if (expiries.size >= 64) expiries.clear();
  expiries.set(window, value);
  return value;
}

/**
 * How a refused exchange is counted: `denied` by policy (or quota), `blocked`
 * for data that must not leave, `failed` when a backend's answer could not be
 * used (uninspectable, an upstream error or timeout).
 */
export type RefusalKind = "denied" | "blocked" | "failed";

const termsAttributes = (t: TermsVersions): Item => ({
  av: N(t.agreement),
  dv: N(t.dataset),
  tv: N(t.tradeRules),
});

/** A claim item read from the table, if it is in force at `now`. */
export function claimOf(item: Item | undefined, now: Date): IdempotencyClaim | undefined {
  if (item === undefined) return undefined;
  const expiresAt = num(item, "expiresAt") ?? 0;
  const event = str(item, "event");
  if (event === undefined || expiresAt < epochSeconds(now)) return undefined;
  const av = num(item, "av");
  const dv = num(item, "dv");
  const tv = num(item, "tv");
  return {
    event,
    eventId: str(item, "eventId"),
    terms:
      av === undefined || dv === undefined || tv === undefined
        ? undefined
        : { agreement: av, dataset: dv, tradeRules: tv },
    item,
  };
}

export const sameTerms = (a: TermsVersions | undefined, b: TermsVersions): boolean =>
  a !== undefined &&
  a.agreement === b.agreement &&
  a.dataset === b.dataset &&
  a.tradeRules === b.tradeRules;

const digest = (s: string): string => hash("sha256", s, "base64url");

const isNone = (r: CancelReason): boolean => r === "None";

const metered = (receipt: MeteringReceipt): MeteringOutcome => ({ kind: "metered", ...receipt });

/** The metering event's key, from the receipt: the hour it is booked in, its shard and its id. */
const eventKeyOf = (agreement: string, receipt: MeteringReceipt): Item =>
  eventKey(
    hourKey(booking(receipt.at, receipt.plan.booked).at),
    shardOf(receipt.eventId, EVENT_SHARDS),
    agreement,
    receipt.eventId,
  );

const contended = (why: string) => new StoreUnavailableError("meter the exchange", new Error(why));

/**
 * `JSON.stringify` of the plan fastPlan makes (`{ rollup, day, month: {
 * [monthShard]: records } }`, undefined parts left out), written directly:
 * stringifying an object with an index key took V8's slow path on every
 * exchange. Numbers as JSON writes them (String, or null when not finite).
 */
export function fastPlanText(
  rollup: number,
  dayShard: number | undefined,
  monthShard: number | undefined,
  records: number,
): string {
  const day = dayShard === undefined ? "" : `,"day":${jsonNumber(dayShard)}`;
  const month = monthShard === undefined ? "" : `,"month":{"${monthShard}":${jsonNumber(records)}}`;
  return `{"rollup":${jsonNumber(rollup)}${day}${month}}`;
}

const jsonNumber = (n: number): string => (Number.isFinite(n) ? String(n) : "null");

/** Spreads `need` over shards by their room, largest rooms first. */
export function spread(need: number, rooms: readonly number[]): Record<string, number> {
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
