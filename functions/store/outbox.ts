/**
 * Events for counterparties (an agreement suspended, a party revoked, ...)
 * and their deliveries. An event is written in the same transaction as the
 * change it reports; delivery happens afterwards, outside the request (the
 * local worker, or the outbox stream in AWS), with retries whose state
 * operators can read.
 */
import { randomUUID } from "node:crypto";
import type { TransactWriteItem } from "@aws-sdk/client-dynamodb";
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
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface GatewayEvent {
  readonly id: string;
  readonly type: EventType;
  readonly at: string;
  /** The agreement or partner the event is about. */
  readonly subject: { readonly kind: "agreement" | "partner"; readonly id: string };
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

  /** Creates one pending delivery per recipient and marks the event fanned out, atomically. */
  async fanOut(event: GatewayEvent, recipients: readonly string[], now: Date): Promise<void> {
    const items: TransactWriteItem[] = recipients.slice(0, 99).map((recipient) => ({
      Put: {
        TableName: this.db.name("outbox"),
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
      },
    }));
    items.push({
      Update: {
        TableName: this.db.name("outbox"),
        Key: eventKey(event.id),
        UpdateExpression: "SET gsi1pk = :done",
        ConditionExpression: "gsi1pk = :new",
        ExpressionAttributeValues: { ":done": S("EVENTS#done"), ":new": S("EVENTS#new") },
      },
    });
    await this.db.transact(items, "fan out the event");
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
