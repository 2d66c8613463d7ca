/**
 * Large transfers as a state machine in the `meter` table (see
 * docs/data-model.md): one item per transfer holding its document, a listing
 * edge per agreement (newest first), and the claim of an Idempotency-Key.
 *
 *   awaiting_upload → running → ready → expired
 *                        ↘ blocked | failed
 *   awaiting_upload | running | ready → revoked
 *
 * Every change is a read-modify-write conditioned on the item's `rev`, so of
 * two writers (a worker finishing, a revocation) exactly one wins and the
 * other sees the new state. A running transfer carries the attempt that
 * holds it and until when (`leaseUntil`): a worker writes only while its
 * attempt is the transfer's, and a run whose lease ended may be taken over.
 */
import { createHash } from "node:crypto";
import type { TransactWriteItem } from "@aws-sdk/client-dynamodb";
import type { Action } from "../../policies/model.ts";
import { StoreUnavailableError } from "../errors.ts";
import { docOf, epochSeconds, type Item, key, N, S, str } from "./codec.ts";
import type { Db } from "./db.ts";
import type { ShardPlan } from "./meter.ts";
import { decodeCursor, encodeCursor, type Page } from "./paging.ts";

export const TRANSFER_STATES = [
  "awaiting_upload",
  "running",
  "ready",
  "blocked",
  "failed",
  "revoked",
  "expired",
] as const;
export type TransferState = (typeof TRANSFER_STATES)[number];

/** States a transfer never leaves (but for `ready`, which expires or is revoked). */
export const FINAL_STATES: ReadonlySet<TransferState> = new Set([
  "blocked",
  "failed",
  "revoked",
  "expired",
]);

export type TransferDirection = Extract<Action, "read" | "deliver">;

export interface TransferRecord {
  readonly id: string;
  readonly agreement: string;
  readonly direction: TransferDirection;
  readonly state: TransferState;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly provider: string;
  readonly consumer: string;
  readonly dataset: string;
  readonly purpose: string | null;
  /** A read's subpath (as asked, `/daily`) and raw query. */
  readonly subpath: string | null;
  readonly query: string | null;
  /** The uploaded body's media type and coding (a deliver), or the cut body's media type once ready. */
  readonly contentType: string | null;
  readonly contentEncoding: string | null;
  readonly records: number | null;
  readonly bytes: number | null;
  readonly sha256: string | null;
  readonly code: string | null;
  readonly readyAt: string | null;
  /** When a ready body expires (24 h after ready). */
  readonly bodyExpiresAt: string | null;
  /** How many runs were started; the running one is `attempt`. */
  readonly attempt: number;
  /** Until when the running attempt holds the transfer (epoch ms), if one runs. */
  readonly leaseUntil: number | null;
  /** The request that created it (traces). */
  readonly requestId: string;
  /**
   * What a run metered for it, kept from the metering on: a transfer that
   * then ends without becoming ready (its run died, a successor was denied
   * or ran out of attempts) gives exactly this back.
   */
  readonly metered?: TransferMetering | undefined;
}

/** A transfer's metering receipt (functions/store/meter.ts), with what it counted. */
export interface TransferMetering {
  readonly eventId: string;
  /** ISO time of the metering: its hour and quota windows. */
  readonly at: string;
  readonly plan: ShardPlan;
  readonly value: number;
  readonly records: number;
  readonly bytes: number;
}

/** How long a transfer's items are kept (TTL) after it was made. */
const RETENTION_SECONDS = 30 * 24 * 3600;
const IDEMPOTENCY_SECONDS = 24 * 3600;

export const transferKey = (id: string): Item => key(`X#${id}`, "X");
const listingKey = (agreement: string, createdAt: string, id: string): Item =>
  key(`XA#${agreement}`, `${createdAt}#${id}`);
const claimKey = (agreement: string, idempotencyKey: string, fingerprint: string): Item =>
  key(
    `XI#${agreement}#${createHash("sha256")
      .update(`${fingerprint}\u0000${idempotencyKey}`)
      .digest("base64url")}`,
    "XI",
  );

interface Versioned {
  readonly value: TransferRecord;
  readonly rev: number;
}

export type CreateOutcome =
  | { readonly kind: "created"; readonly transfer: TransferRecord }
  /** The same Idempotency-Key on the same agreement and request named this one before. */
  | { readonly kind: "existing"; readonly transfer: TransferRecord };

export class TransferStore {
  constructor(private readonly db: Db) {}

  /**
   * Creates a transfer with its listing edge, and with an Idempotency-Key the
   * key's claim, all or nothing. A claim in force answers the transfer it names.
   */
  async create(
    t: TransferRecord,
    idempotency?: { readonly key: string; readonly fingerprint: string },
  ): Promise<CreateOutcome> {
    const now = new Date(t.createdAt);
    const expires = N(epochSeconds(now) + RETENTION_SECONDS);
    const tx = this.db.transaction();
    tx.put("meter", {
      Item: this.itemOf(t, 1),
      ConditionExpression: "attribute_not_exists(pk)",
    });
    tx.put("meter", {
      Item: {
        ...listingKey(t.agreement, t.createdAt, t.id),
        transfer: S(t.id),
        expiresAt: expires,
      },
    });
    const claim =
      idempotency === undefined
        ? undefined
        : tx.put("meter", {
            Item: {
              ...claimKey(t.agreement, idempotency.key, idempotency.fingerprint),
              transfer: S(t.id),
              expiresAt: N(epochSeconds(now) + IDEMPOTENCY_SECONDS),
            },
            ConditionExpression: "attribute_not_exists(pk) OR expiresAt < :now",
            ExpressionAttributeValues: { ":now": N(epochSeconds(now)) },
          });
    const result = await tx.run("create the transfer");
    if (result.ok) return { kind: "created", transfer: t };
    if (claim !== undefined && result.failed(claim) && idempotency !== undefined) {
      const item = await this.db.get(
        "meter",
        claimKey(t.agreement, idempotency.key, idempotency.fingerprint),
        "read the transfer's Idempotency-Key claim",
      );
      const named = str(item, "transfer");
      const existing = named === undefined ? undefined : await this.get(named);
      if (existing !== undefined) return { kind: "existing", transfer: existing };
    }
    throw new StoreUnavailableError(
      "create the transfer",
      new Error(`the transaction was cancelled: ${result.reasons.join(", ")}`),
    );
  }

  async get(id: string): Promise<TransferRecord | undefined> {
    return (await this.getVersioned(id))?.value;
  }

  private async getVersioned(id: string): Promise<Versioned | undefined> {
    const item = await this.db.get("meter", transferKey(id), "read the transfer");
    const value = docOf<TransferRecord>(item);
    if (value === undefined || item === undefined) return undefined;
    return { value, rev: Number(item.rev?.N ?? "0") };
  }

  /** An agreement's transfers, newest first. */
  async list(agreement: string, limit: number, cursor?: string): Promise<Page<TransferRecord>> {
    const out = await this.db.query(
      "meter",
      {
        KeyConditionExpression: "pk = :p",
        ExpressionAttributeValues: { ":p": S(`XA#${agreement}`) },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor),
      },
      "list the transfers",
    );
    const ids = (out.Items ?? []).flatMap((i) => {
      const id = str(i, "transfer");
      return id === undefined ? [] : [id];
    });
    const items =
      ids.length === 0
        ? []
        : await this.db.getMany(
            ids.map((id) => ({ table: "meter" as const, key: transferKey(id) })),
            "read the transfers",
          );
    return {
      items: items.flatMap((i) => {
        const t = docOf<TransferRecord>(i);
        return t === undefined ? [] : [t];
      }),
      next: encodeCursor(out.LastEvaluatedKey),
    };
  }

  /** Every transfer of an agreement that still holds or may still hold a body. */
  async openOf(agreement: string): Promise<TransferRecord[]> {
    const out: TransferRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.list(agreement, 100, cursor);
      out.push(...page.items.filter((t) => !FINAL_STATES.has(t.state)));
      cursor = page.next ?? undefined;
    } while (cursor !== undefined);
    return out;
  }

  /**
   * Changes a transfer: `change` sees its current value and answers the new
   * one (or undefined: no change). Conditioned on the revision it read; a
   * lost race reads again and asks `change` again. `also` are items written
   * in the same transaction (an outbox event). Answers the value that holds
   * afterwards and whether this call wrote it.
   */
  async update(
    id: string,
    change: (t: TransferRecord) => TransferRecord | undefined,
    also: (t: TransferRecord) => readonly TransactWriteItem[] = () => [],
  ): Promise<{ readonly transfer: TransferRecord; readonly changed: boolean } | undefined> {
    for (let round = 0; round < 10; round++) {
      const current = await this.getVersioned(id);
      if (current === undefined) return undefined;
      const next = change(current.value);
      if (next === undefined) return { transfer: current.value, changed: false };
      const tx = this.db.transaction();
      const mine = tx.put("meter", {
        Item: this.itemOf(next, current.rev + 1),
        ConditionExpression: "rev = :rev",
        ExpressionAttributeValues: { ":rev": N(current.rev) },
      });
      for (const item of also(next)) tx.add(item);
      const result = await tx.run("change the transfer");
      if (result.ok) return { transfer: next, changed: true };
      if (!result.failed(mine)) {
        // Another item of the transaction refused (an event written twice): nothing changed.
        return { transfer: current.value, changed: false };
      }
    }
    return undefined;
  }

  private itemOf(t: TransferRecord, rev: number): Item {
    return {
      ...transferKey(t.id),
      doc: S(JSON.stringify(t)),
      state: S(t.state),
      agreement: S(t.agreement),
      rev: N(rev),
      expiresAt: N(epochSeconds(new Date(t.createdAt)) + RETENTION_SECONDS),
    };
  }
}
