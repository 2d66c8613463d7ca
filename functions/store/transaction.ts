/**
 * A write transaction built item by item. Every item added returns a handle,
 * and the result answers for a handle whether (and why) that item cancelled
 * the transaction: callers never keep item positions by hand. It runs through
 * `Db.transact`, so faults map as for every other store call (a cancellation
 * is data, anything else is StoreUnavailableError).
 */
import type { ConditionCheck, Put, TransactWriteItem, Update } from "@aws-sdk/client-dynamodb";
import type { CancelReason, Db } from "./db.ts";
import type { TableName } from "./schema.ts";

declare const itemOfTransaction: unique symbol;

/** One item of one transaction, as `put`, `update`, `conditionCheck` and `add` return it. */
export interface TxItem {
  readonly [itemOfTransaction]: true;
}

export interface TxResult {
  /** True when the transaction committed. */
  readonly ok: boolean;
  /** Every item's reason, in the order the items were added (all "None" when it committed). */
  readonly reasons: readonly CancelReason[];
  /** Why this item cancelled the transaction ("None": it did not). */
  reason(item: TxItem): CancelReason;
  /** True when this item's condition failed. An item that was never added (undefined) did not. */
  failed(item: TxItem | undefined): boolean;
}

/** A handle: its transaction and its position (no map to keep, nothing to look up). */
class Handle {
  constructor(
    readonly tx: Transaction,
    readonly at: number,
  ) {}
}

export class Transaction {
  private readonly items: TransactWriteItem[] = [];

  constructor(private readonly db: Db) {}

  /** How many items the transaction holds. */
  get size(): number {
    return this.items.length;
  }

  put(table: TableName, put: Omit<Put, "TableName">): TxItem {
    return this.add({ Put: { ...put, TableName: this.db.name(table) } });
  }

  update(table: TableName, update: Omit<Update, "TableName">): TxItem {
    return this.add({ Update: { ...update, TableName: this.db.name(table) } });
  }

  conditionCheck(table: TableName, check: Omit<ConditionCheck, "TableName">): TxItem {
    return this.add({ ConditionCheck: { ...check, TableName: this.db.name(table) } });
  }

  /** An item built elsewhere (a registry check, the operations an audit entry records). */
  add(item: TransactWriteItem): TxItem {
    const handle = new Handle(this, this.items.length);
    this.items.push(item);
    return handle as unknown as TxItem;
  }

  /**
   * Runs the transaction. `token` makes SDK retries of this call idempotent
   * for 10 minutes (ClientRequestToken).
   */
  async run(operation: string, token?: string): Promise<TxResult> {
    const result = await this.db.transact(this.items, operation, token);
    const reasons: readonly CancelReason[] = result.ok
      ? this.items.map(() => "None")
      : result.reasons;
    const reason = (item: TxItem): CancelReason => reasons[this.positionOf(item)] ?? "None";
    return {
      ok: result.ok,
      reasons,
      reason,
      failed: (item) => item !== undefined && reason(item) === "ConditionalCheckFailed",
    };
  }

  private positionOf(item: TxItem): number {
    if (!(item instanceof Handle) || item.tx !== this)
      throw new Error("the item belongs to another transaction");
    return item.at;
  }
}
