/**
 * Counts the calls a DynamoDB client makes, by command, with a middleware on
 * the client's own stack: logical calls (before the SDK's retries) and
 * attempts (each HTTP round trip, retries included). Calls that touch only
 * the tables named in `ignoreTables` (the outbox worker's polling) are
 * counted apart, so that per-exchange figures hold only the exchange's calls.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";

const READS = new Set(["GetItemCommand", "BatchGetItemCommand", "QueryCommand", "ScanCommand"]);
const WRITES = new Set([
  "PutItemCommand",
  "UpdateItemCommand",
  "DeleteItemCommand",
  "BatchWriteItemCommand",
  "TransactWriteItemsCommand",
]);

export interface CallCounts {
  readonly reads: number;
  readonly writes: number;
  readonly other: number;
  /** HTTP round trips of the counted calls, SDK retries included. */
  readonly attempts: number;
  readonly byCommand: Record<string, number>;
  /** Milliseconds spent waiting on the counted calls (retries included), summed. */
  readonly waitMs: number;
  readonly waitMsByCommand: Record<string, number>;
  /** Items written by the counted TransactWriteItems calls, summed. */
  readonly transactItems: number;
  /** Keys read by the counted BatchGetItem calls, summed. */
  readonly batchKeys: number;
  /** Calls on ignored tables only (background work). */
  readonly background: number;
}

interface Tallies {
  reads: number;
  writes: number;
  other: number;
  attempts: number;
  background: number;
  waitMs: number;
  waitMsByCommand: Record<string, number>;
  transactItems: number;
  batchKeys: number;
  byCommand: Record<string, number>;
}

const emptyTallies = (): Tallies => ({
  reads: 0,
  writes: 0,
  other: 0,
  attempts: 0,
  background: 0,
  waitMs: 0,
  waitMsByCommand: {},
  transactItems: 0,
  batchKeys: 0,
  byCommand: {},
});

/** Every table a command's input names. */
function tablesOf(input: Record<string, unknown>): string[] {
  const names: string[] = [];
  if (typeof input.TableName === "string") names.push(input.TableName);
  if (input.RequestItems !== null && typeof input.RequestItems === "object")
    names.push(...Object.keys(input.RequestItems));
  if (Array.isArray(input.TransactItems)) {
    for (const item of input.TransactItems as Record<string, { TableName?: string }>[]) {
      for (const op of Object.values(item)) if (op?.TableName) names.push(op.TableName);
    }
  }
  return names;
}

export function countDynamoCalls(
  client: DynamoDBClient,
  ignoreTables: readonly string[],
): { snapshot(): CallCounts; reset(): void } {
  let t = emptyTallies();
  const ignored = new Set(ignoreTables);
  const foreground = new WeakSet<object>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      const tables = tablesOf(input);
      const command = context.commandName ?? "unknown";
      if (tables.length > 0 && tables.every((n) => ignored.has(n))) {
        t.background++;
        return next(args);
      }
      foreground.add(input);
      t.byCommand[command] = (t.byCommand[command] ?? 0) + 1;
      if (READS.has(command)) t.reads++;
      else if (WRITES.has(command)) t.writes++;
      else t.other++;
      if (Array.isArray(input.TransactItems)) t.transactItems += input.TransactItems.length;
      if (input.RequestItems !== null && typeof input.RequestItems === "object") {
        for (const r of Object.values(input.RequestItems as Record<string, { Keys?: unknown[] }>))
          t.batchKeys += r.Keys?.length ?? 0;
      }
      const tally = t;
      const t0 = performance.now();
      try {
        return await next(args);
      } finally {
        const ms = performance.now() - t0;
        tally.waitMs += ms;
        tally.waitMsByCommand[command] = (tally.waitMsByCommand[command] ?? 0) + ms;
      }
    },
    { step: "initialize", name: "benchCallCounter", priority: "high" },
  );
  client.middlewareStack.add(
    (next) => async (args) => {
      if (foreground.has(args.input as object)) t.attempts++;
      return next(args);
    },
    { step: "deserialize", name: "benchAttemptCounter", priority: "low" },
  );
  return {
    snapshot: () => ({
      ...t,
      byCommand: { ...t.byCommand },
      waitMsByCommand: { ...t.waitMsByCommand },
    }),
    reset: () => {
      t = emptyTallies();
    },
  };
}
