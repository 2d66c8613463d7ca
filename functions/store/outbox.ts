/**
 * Events for counterparties (an agreement suspended, a party revoked, ...)
 * and their deliveries. An event is written in the same transaction as the
 * change it reports; delivery happens afterwards, outside the request (the
 * local worker, or the outbox stream in AWS), with retries whose state
 * operators can read.
 */
import { randomUUID } from "node:crypto";
import type { TransactWriteItem } from "@aws-sdk/client-dynamodb";
import { StoreUnavailableError } from "../errors.ts";
import { jitteredDelay, sleep } from "./backoff.ts";
import { docOf, type Item, key, S } from "./codec.ts";
import type { Db } from "./db.ts";
import { decodeCursor, encodeCursor, type Page } from "./paging.ts";

export const EVENT_TYPES = [
  "agreement.suspended",
  "agreement.resumed",
  "agreement.terminated",
  "agreement.amended",
  "partner.suspended",
  "partner.resumed",
  "partner.revoked",
  "partner.reinstated",
  "partner.phase_out_scheduled",
  "agreement_request.created",
  "agreement_request.approved",
  "agreement_request.rejected",
  "agreement_request.cancelled",
  "transfer.ready",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const EVENT_SUBJECT_KINDS = [
  "agreement",
  "partner",
  "agreement_request",
  "transfer",
] as const;
export type EventSubjectKind = (typeof EVENT_SUBJECT_KINDS)[number];

export interface GatewayEvent {
  readonly id: string;
  readonly type: EventType;
  readonly at: string;
  /** The agreement, partner, agreement request or transfer the event is about. */
  readonly subject: { readonly kind: EventSubjectKind; readonly id: string };
  readonly reason: string | null;
  readonly data: Readonly<Record<string, unknown>>;
}

export type DeliveryState = "pending" | "delivered" | "failed";

export interface Delivery {
  readonly id: string;
  readonly event: GatewayEvent;
  readonly recipient: string;
  readonly state: DeliveryState;
  readonly attempts: number;
  readonly createdAt: string;
  readonly nextAttemptAt: string | null;
  readonly lastError: string | null;
  readonly deliveredAt: string | null;
}

const eventKey = (id: string) => key(`EV#${id}`, "EV");
const deliveryKey = (eventId: string, recipient: string) => key(`DL#${eventId}`, recipient);
/** Deliveries created per transaction (DynamoDB takes 100 items, one is the event's). */
const FAN_OUT_CHUNK = 99;
/** Between rounds of a fan-out that lost to a conflict. */
const FAN_OUT_BACKOFF = { baseMs: 10, capMs: 200 };

export class Outbox {
  constructor(private readonly db: Db) {}

  newEvent(
    type: EventType,
    subject: GatewayEvent["subject"],
    reason: string | null,
    data: Record<string, unknown>,
    at: Date,
  ): GatewayEvent {
    return { id: randomUUID(), type, at: at.toISOString(), subject, reason, data };
  }

  eventOps(event: GatewayEvent): TransactWriteItem {
    return {
      Put: {
        TableName: this.db.name("outbox"),
        Item: {
          ...eventKey(event.id),
          doc: S(JSON.stringify(event)),
          gsi1pk: S("EVENTS#new"),
          gsi1sk: S(`${event.at}#${event.id}`),
        },
        ConditionExpression: "attribute_not_exists(pk)",
      },
    };
  }

  /** Events not yet fanned out to their recipients, oldest first. */
  async newEvents(limit = 50): Promise<GatewayEvent[]> {
    const out = await this.db.query(
      "outbox",
      {
        IndexName: "byCollection",
        KeyConditionExpression: "gsi1pk = :p",
        ExpressionAttributeValues: { ":p": S("EVENTS#new") },
        Limit: limit,
      },
      "list new events",
    );
    return (out.Items ?? []).map((i) => docOf<GatewayEvent>(i) as GatewayEvent);
  }

  /**
   * Creates one pending delivery per recipient, then marks the event fanned
   * out. Each delivery is created at most once (its key is event and
   * recipient), and the event leaves the "new" list only after every
   * delivery exists: a crash in between leaves the event new, and the next
   * pass creates only the deliveries still missing. Up to 99 recipients this
   * is one transaction. Two workers fanning out the same event cannot create
   * a delivery twice. Returns the deliveries this call created.
   */
  async fanOut(event: GatewayEvent, recipients: readonly string[], now: Date): Promise<number> {
    const all = [...new Set(recipients)];
    const markDone: TransactWriteItem = {
      Update: {
        TableName: this.db.name("outbox"),
        Key: eventKey(event.id),
        UpdateExpression: "SET gsi1pk = :done",
        ConditionExpression: "gsi1pk = :new",
        ExpressionAttributeValues: { ":done": S("EVENTS#done"), ":new": S("EVENTS#new") },
      },
    };
    const stillNew: TransactWriteItem = {
      ConditionCheck: {
        TableName: this.db.name("outbox"),
        Key: eventKey(event.id),
        ConditionExpression: "gsi1pk = :new",
        ExpressionAttributeValues: { ":new": S("EVENTS#new") },
      },
    };
    let created = 0;
    for (let i = 0; i === 0 || i < all.length; i += FAN_OUT_CHUNK) {
      const chunk = all.slice(i, i + FAN_OUT_CHUNK);
      const last = i + FAN_OUT_CHUNK >= all.length;
      const outcome = await this.createDeliveries(event, chunk, now, last ? markDone : stillNew);
      if (outcome === "gone") return created;
      created += outcome;
    }
    return created;
  }

  /**
   * Creates the deliveries of `recipients` that do not exist yet, together
   * with `guard` (the event is still new; the last chunk also marks it done).
   * "gone": another worker fanned the event out already.
   */
  private async createDeliveries(
    event: GatewayEvent,
    recipients: readonly string[],
    now: Date,
    guard: TransactWriteItem,
  ): Promise<number | "gone"> {
    let left = [...recipients];
    for (let attempt = 0; attempt < 10; attempt++) {
      const tx = this.db.transaction();
      const puts = left.map((recipient) => ({
        recipient,
        item: tx.put("outbox", {
          Item: this.deliveryItem({
            id: `${event.id}:${recipient}`,
            event,
            recipient,
            state: "pending",
            attempts: 0,
            createdAt: now.toISOString(),
            nextAttemptAt: now.toISOString(),
            lastError: null,
            deliveredAt: null,
          }),
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      }));
      const guarded = tx.add(guard);
      const result = await tx.run("fan out the event");
      if (result.ok) return left.length;
      if (result.failed(guarded)) return "gone";
      // Deliveries that exist already (an earlier, interrupted pass) are kept as they are.
      const existing = new Set(puts.filter((p) => result.failed(p.item)).map((p) => p.recipient));
      if (existing.size > 0) {
        left = left.filter((r) => !existing.has(r));
        continue;
      }
      await sleep(jitteredDelay(attempt, FAN_OUT_BACKOFF));
    }
    throw new StoreUnavailableError("fan out the event", new Error("the event stayed contended"));
  }

  private deliveryItem(d: Delivery): Item {
    return {
      ...deliveryKey(d.event.id, d.recipient),
      doc: S(JSON.stringify(d)),
      gsi1pk: S(`DELIVERY#${d.state}`),
      gsi1sk: S(`${d.state === "pending" ? d.nextAttemptAt : d.createdAt}#${d.id}`),
    };
  }

  /** Pending deliveries whose next attempt is due. */
  async dueDeliveries(now: Date, limit = 50): Promise<Delivery[]> {
    const out = await this.db.query(
      "outbox",
      {
        IndexName: "byCollection",
        KeyConditionExpression: "gsi1pk = :p AND gsi1sk <= :now",
        ExpressionAttributeValues: {
          ":p": S("DELIVERY#pending"),
          ":now": S(`${now.toISOString()}#~`),
        },
        Limit: limit,
      },
      "list due deliveries",
    );
    return (out.Items ?? []).map((i) => docOf<Delivery>(i) as Delivery);
  }

  /**
   * Takes a due delivery for one attempt: its next attempt moves `leaseMs`
   * ahead, so no other worker attempts it meanwhile, and a worker that dies
   * during the attempt leaves it due again once the lease ends. Undefined when
   * another worker took or settled it first.
   */
  async claim(d: Delivery, now: Date, leaseMs: number): Promise<Delivery | undefined> {
    const claimed: Delivery = {
      ...d,
      nextAttemptAt: new Date(now.getTime() + leaseMs).toISOString(),
    };
    return (await this.settle(d, claimed)) ? claimed : undefined;
  }

  async getDeliveries(eventId: string): Promise<Delivery[]> {
    const out = await this.db.query(
      "outbox",
      {
        KeyConditionExpression: "pk = :p",
        ExpressionAttributeValues: { ":p": S(`DL#${eventId}`) },
      },
      "read the event's deliveries",
    );
    return (out.Items ?? []).map((i) => docOf<Delivery>(i) as Delivery);
  }

  /** Records an attempt's outcome, only if the delivery is still as `before` (one writer wins). */
  async settle(before: Delivery, after: Delivery): Promise<boolean> {
    const result = await this.db.transact(
      [
        {
          Put: {
            TableName: this.db.name("outbox"),
            Item: this.deliveryItem(after),
            ConditionExpression: "gsi1pk = :p AND gsi1sk = :s",
            ExpressionAttributeValues: {
              ":p": S(`DELIVERY#${before.state}`),
              ":s": S(
                `${before.state === "pending" ? before.nextAttemptAt : before.createdAt}#${before.id}`,
              ),
            },
          },
        },
      ],
      "record the delivery attempt",
    );
    return result.ok;
  }

  async listDeliveries(
    state: DeliveryState,
    limit: number,
    cursor?: string,
  ): Promise<Page<Delivery>> {
    const out = await this.db.query(
      "outbox",
      {
        IndexName: "byCollection",
        KeyConditionExpression: "gsi1pk = :p",
        ExpressionAttributeValues: { ":p": S(`DELIVERY#${state}`) },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor),
      },
      "list deliveries",
    );
    return {
      items: (out.Items ?? []).map((i) => docOf<Delivery>(i) as Delivery),
      next: encodeCursor(out.LastEvaluatedKey),
    };
  }
}
