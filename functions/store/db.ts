/**
 * A thin layer over the DynamoDB client: every store call goes through it and
 * maps store faults to StoreUnavailableError (never an allow); a failed
 * condition (of an update, or of a transaction's items) comes back as data.
 */
import {
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  type KeysAndAttributes,
  QueryCommand,
  type QueryCommandInput,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from "@aws-sdk/client-dynamodb";
import { StoreUnavailableError } from "../errors.ts";
import { jitteredDelay, sleep } from "./backoff.ts";
import type { Item } from "./codec.ts";
import type { TableName } from "./schema.ts";
import { Transaction } from "./transaction.ts";

export type TableNames = Readonly<Record<TableName, string>>;

export interface KeyRef {
  readonly table: TableName;
  readonly key: Item;
}

/** Why each item of a cancelled transaction failed, in request order ("None" = it did not). */
export type CancelReason = "None" | "ConditionalCheckFailed" | "TransactionConflict" | string;

export type TransactResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reasons: readonly CancelReason[] };

const MAX_BATCH_GET = 100;
const MAX_UNPROCESSED_ROUNDS = 5;
/** Waits for unprocessed keys: on average 10, 20, 40, 80 ms ... (base 20 with full jitter). */
const UNPROCESSED_BACKOFF = { baseMs: 20, capMs: 320 };

export class Db {
  constructor(
    readonly client: DynamoDBClient,
    readonly tables: TableNames,
  ) {}

  name(table: TableName): string {
    return this.tables[table];
  }

  async get(
    table: TableName,
    key: Item,
    operation: string,
    consistent = true,
  ): Promise<Item | undefined> {
    try {
      const out = await this.client.send(
        new GetItemCommand({ TableName: this.tables[table], Key: key, ConsistentRead: consistent }),
      );
      return out.Item;
    } catch (cause) {
      throw new StoreUnavailableError(operation, cause);
    }
  }

  /**
   * Reads up to 100 items across tables in one round trip (more only when
   * DynamoDB leaves keys unprocessed). Results are in request order.
   */
  async getMany(
    refs: readonly KeyRef[],
    operation: string,
    consistent = true,
  ): Promise<(Item | undefined)[]> {
    if (refs.length > MAX_BATCH_GET) throw new RangeError("getMany takes at most 100 keys");
    const names = refs.map((r) => this.tables[r.table]);
    const answered: Answered[] = [];
    let pending: Record<string, KeysAndAttributes> = batchRequest(refs, names, consistent);
    for (let round = 0; hasKeys(pending); round++) {
      if (round >= MAX_UNPROCESSED_ROUNDS)
        throw new StoreUnavailableError(operation, "unprocessed keys remained");
      let out: BatchGetItemCommandOutput;
      try {
        out = await this.client.send(new BatchGetItemCommand({ RequestItems: pending }));
      } catch (cause) {
        throw new StoreUnavailableError(operation, cause);
      }
      const responses = out.Responses;
      if (responses !== undefined)
        for (const tableName in responses)
          for (const item of responses[tableName] ?? []) answered.push({ tableName, item });
      pending = out.UnprocessedKeys ?? {};
      if (hasKeys(pending)) await sleep(jitteredDelay(round, UNPROCESSED_BACKOFF));
    }
    return matchAnswers(refs, names, answered);
  }

  async query(table: TableName, input: Omit<QueryCommandInput, "TableName">, operation: string) {
    try {
      return await this.client.send(new QueryCommand({ ...input, TableName: this.tables[table] }));
    } catch (cause) {
      throw new StoreUnavailableError(operation, cause);
    }
  }

  /**
   * Updates one item. A failed condition is data (false: nothing was
   * written), for the callers that act on it; any other failure is
   * StoreUnavailableError.
   */
  async update(
    table: TableName,
    input: Omit<UpdateItemCommandInput, "TableName">,
    operation: string,
  ): Promise<boolean> {
    try {
      await this.client.send(new UpdateItemCommand({ ...input, TableName: this.tables[table] }));
      return true;
    } catch (cause) {
      if (
        cause instanceof ConditionalCheckFailedException ||
        (cause as Error)?.name === "ConditionalCheckFailedException"
      ) {
        return false;
      }
      throw new StoreUnavailableError(operation, cause);
    }
  }

  /** A write transaction to build item by item; its result answers per item. */
  transaction(): Transaction {
    return new Transaction(this);
  }

  /**
   * Runs a write transaction. A cancellation is data (which conditions failed);
   * any other failure is StoreUnavailableError. `token` makes SDK retries of
   * the same call idempotent for 10 minutes (ClientRequestToken).
   */
  async transact(
    items: readonly TransactWriteItem[],
    operation: string,
    token?: string,
  ): Promise<TransactResult> {
    try {
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [...items],
          ...(token === undefined ? {} : { ClientRequestToken: token }),
        }),
      );
      return { ok: true };
    } catch (cause) {
      if (
        cause instanceof TransactionCanceledException ||
        (cause as Error)?.name === "TransactionCanceledException"
      ) {
        const reasons = (cause as TransactionCanceledException).CancellationReasons;
        if (reasons !== undefined && reasons.length === items.length) {
          return { ok: false, reasons: reasons.map((r) => r.Code ?? "None") };
        }
      }
      throw new StoreUnavailableError(operation, cause);
    }
  }
}

/** The same item: the same table and the same key (whatever the attributes' order). */
const sameItem = (tableA: string, a: Item, tableB: string, b: Item): boolean =>
  tableA === tableB && (a.pk?.S ?? "") === (b.pk?.S ?? "") && (a.sk?.S ?? "") === (b.sk?.S ?? "");

interface Answered {
  readonly tableName: string;
  readonly item: Item;
}

const hasKeys = (request: Record<string, unknown>): boolean => {
  for (const _ in request) return true;
  return false;
};

/**
 * The request for `refs` (tables by name), each key once. Keys are compared,
 * not turned into id strings for a Set: the exchange reads 5 or 6 keys, and
 * even a full batch of 100 is a few thousand comparisons.
 */
function batchRequest(refs: readonly KeyRef[], names: readonly string[], consistent: boolean) {
  const request: Record<string, { Keys: Item[]; ConsistentRead: boolean }> = {};
  for (let i = 0; i < refs.length; i++) {
    const key = (refs[i] as KeyRef).key;
    const tableName = names[i] as string;
    let repeated = false;
    for (let j = 0; j < i && !repeated; j++)
      repeated = sameItem(names[j] as string, (refs[j] as KeyRef).key, tableName, key);
    if (repeated) continue;
    request[tableName] ??= { Keys: [], ConsistentRead: consistent };
    request[tableName].Keys.push(key);
  }
  return request;
}

/** The item answered for each ref, in the refs' order (undefined: none). */
const matchAnswers = (
  refs: readonly KeyRef[],
  names: readonly string[],
  answered: readonly Answered[],
): (Item | undefined)[] =>
  refs.map(
    (r, i) => answered.find((a) => sameItem(a.tableName, a.item, names[i] as string, r.key))?.item,
  );

/** True when only condition checks failed (not conflicts or throttling). */
export const onlyConditionsFailed = (reasons: readonly CancelReason[]): boolean =>
  reasons.every((r) => r === "None" || r === "ConditionalCheckFailed");
