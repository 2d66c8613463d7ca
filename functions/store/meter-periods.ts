/**
 * Closed months. A close writes the month's marker copies (state `closing`)
 * first: from then on every metering write for the month fails its check on
 * them and is booked into the next open month. The statement is computed
 * after that (the month no longer moves), kept as its exact bytes, and the
 * copies move to `closed` with its SHA-256 in the same transaction as the
 * audit entry that records it. See docs/metering.md, "Periods".
 */
import type { TransactWriteItem } from "@aws-sdk/client-dynamodb";
import { type Item, N, S, str } from "./codec.ts";
import type { Db } from "./db.ts";
import { closedMarkerKey, FLOW_SHARDS, statementPk } from "./meter-keys.ts";

/**
 * The cut-off for exchanges in flight at midnight. A metering write built
 * before `end of month - CLOSED_CHECK_FROM_MS` (by the gateway's clock)
 * carries no check of the closed marker; one built later does. A month may
 * be closed only from CLOSE_GRACE_MS after its end. In between lies more than
 * the longest a built write can still land: DynamoDB refuses a request more
 * than 15 minutes after its signature (SigV4), and gateway clocks agree to
 * well within the remaining margin. docs/metering.md, "Periods".
 */
export const CLOSED_CHECK_FROM_MS = 5 * 60_000;
export const CLOSE_GRACE_MS = 30 * 60_000;

export type PeriodState =
  | { readonly state: "open" }
  | { readonly state: "closing"; readonly attempt: string }
  | {
      readonly state: "closed";
      readonly attempt: string;
      readonly closedAt: string;
      readonly sha256: string;
    };

/** A statement is kept in chunks well under DynamoDB's 400 KB item limit. */
const CHUNK_CHARS = 300_000;
/** Chunks per transaction (each at most 4 MB in all). */
const CHUNKS_PER_WRITE = 10;

const copies = Array.from({ length: FLOW_SHARDS }, (_, i) => i);

export class Periods {
  constructor(private readonly db: Db) {}

  /** The month's state, read strongly consistent from its first marker copy. */
  async state(month: string): Promise<PeriodState> {
    const item = await this.db.get("meter", closedMarkerKey(month, 0), "read the period");
    return stateOf(item);
  }

  /**
   * Writes every marker copy as `closing` (all or none). False when the
   * month has a marker already (closing or closed).
   */
  async beginClose(month: string, attempt: string, now: Date): Promise<boolean> {
    const tx = this.db.transaction();
    for (const i of copies) {
      tx.put("meter", {
        Item: {
          ...closedMarkerKey(month, i),
          state: S("closing"),
          attempt: S(attempt),
          startedAt: S(now.toISOString()),
        },
        ConditionExpression: "attribute_not_exists(pk)",
      });
    }
    const result = await tx.run("begin closing the period");
    return result.ok;
  }

  /** Keeps the statement's bytes under the attempt (rewritable until the close is final). */
  async keepStatement(month: string, attempt: string, body: string): Promise<void> {
    const chunks: string[] = [];
    for (let i = 0; i < body.length || i === 0; i += CHUNK_CHARS)
      chunks.push(body.slice(i, i + CHUNK_CHARS));
    for (let from = 0; from < chunks.length; from += CHUNKS_PER_WRITE) {
      const tx = this.db.transaction();
      chunks.slice(from, from + CHUNKS_PER_WRITE).forEach((text, k) => {
        tx.put("meter", {
          Item: {
            pk: S(statementPk(month)),
            sk: S(`${attempt}#${String(from + k).padStart(5, "0")}`),
            chunks: N(chunks.length),
            text: S(text),
          },
        });
      });
      const result = await tx.run("keep the statement");
      if (!result.ok) throw new Error(`keeping the statement: ${result.reasons.join(", ")}`);
    }
  }

  /** The kept statement's bytes, or undefined when its chunks are not all there. */
  async statement(month: string, attempt: string): Promise<string | undefined> {
    const parts: string[] = [];
    let expected = 0;
    let start: Item | undefined;
    do {
      const out = await this.db.query(
        "meter",
        {
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :a)",
          ExpressionAttributeValues: { ":pk": S(statementPk(month)), ":a": S(`${attempt}#`) },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        },
        "read the statement",
      );
      for (const item of out.Items ?? []) {
        parts.push(str(item, "text") ?? "");
        expected = Number(item.chunks?.N ?? 0);
      }
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    return parts.length > 0 && parts.length === expected ? parts.join("") : undefined;
  }

  /**
   * The writes that make the close final (for the audit append that records
   * it): every copy from `closing` to `closed`, with the statement's digest.
   */
  finishOps(month: string, attempt: string, closedAt: string, sha256: string): TransactWriteItem[] {
    return copies.map((i) => ({
      Update: {
        TableName: this.db.name("meter"),
        Key: closedMarkerKey(month, i),
        UpdateExpression: "SET #st = :closed, attempt = :a, closedAt = :at, sha256 = :sha",
        ConditionExpression: "#st = :closing",
        ExpressionAttributeNames: { "#st": "state" },
        ExpressionAttributeValues: {
          ":closed": S("closed"),
          ":closing": S("closing"),
          ":a": S(attempt),
          ":at": S(closedAt),
          ":sha": S(sha256),
        },
      },
    }));
  }
}

function stateOf(item: Item | undefined): PeriodState {
  const state = str(item, "state");
  const attempt = str(item, "attempt") ?? "";
  if (state === "closed")
    return {
      state,
      attempt,
      closedAt: str(item, "closedAt") ?? "",
      sha256: str(item, "sha256") ?? "",
    };
  if (state === "closing") return { state, attempt };
  return { state: "open" };
}
