/**
 * What each function may do, as data: DynamoDB item actions per table (on the
 * table itself and/or its indexes) and KMS actions per key. The stack turns
 * this into IAM statements; nothing else grants data-plane access.
 *
 * TransactWriteItems and BatchGetItem are not IAM actions of their own: they
 * are authorised per item (PutItem, UpdateItem, ConditionCheckItem, GetItem…).
 * Scan and DeleteItem are deliberately absent everywhere.
 */
import type { TableName } from "../functions/store/schema.ts";
import type { FunctionName } from "./bundling.ts";

export type ItemAction =
  | "GetItem"
  | "BatchGetItem"
  | "Query"
  | "PutItem"
  | "UpdateItem"
  | "ConditionCheckItem";

export interface TableAccess {
  /** Actions on the table itself. */
  readonly table?: readonly ItemAction[];
  /** Actions on every global secondary index of the table (only Query makes sense). */
  readonly indexes?: readonly "Query"[];
}

/** Object actions in the gateway's bucket, on objects under some prefixes only. */
export interface ObjectAccess {
  readonly actions: readonly ("GetObject" | "PutObject" | "DeleteObject")[];
  readonly prefixes: readonly string[];
}

export type SigningKeyAction = "kms:Sign" | "kms:GetPublicKey";
export type PseudonymKeyAction = "kms:GenerateMac";

export interface FunctionAccess {
  readonly tables: Readonly<Partial<Record<TableName, TableAccess>>>;
  readonly signingKey?: readonly SigningKeyAction[];
  readonly pseudonymKey?: readonly PseudonymKeyAction[];
  /** The object store; a function without it gets no OBJECTS_BUCKET either. */
  readonly objects?: ObjectAccess;
}

const AUDIT_APPEND: readonly ItemAction[] = [
  "GetItem",
  "PutItem",
  "UpdateItem",
  "ConditionCheckItem",
];

export const FUNCTION_ACCESS: Readonly<Record<FunctionName, FunctionAccess>> = {
  token: {
    tables: {
      credentials: { table: ["GetItem"] },
      registry: { table: ["GetItem", "BatchGetItem", "Query"] },
      audit: { table: AUDIT_APPEND },
    },
    signingKey: ["kms:Sign", "kms:GetPublicKey"],
  },
  exchange: {
    // No credentials entry: the exchange function cannot read secrets. The
    // registry index lists datasets for the catalog; offers, agreement
    // requests and the agreements their approvals make are Puts.
    tables: {
      registry: {
        table: ["GetItem", "BatchGetItem", "Query", "ConditionCheckItem", "PutItem"],
        indexes: ["Query"],
      },
      meter: {
        table: ["GetItem", "BatchGetItem", "PutItem", "UpdateItem", "ConditionCheckItem", "Query"],
      },
      audit: { table: AUDIT_APPEND },
      outbox: { table: ["PutItem"] },
    },
    signingKey: ["kms:Sign", "kms:GetPublicKey"],
    // GenerateMac also derives the keys that seal kept replay bodies.
    pseudonymKey: ["kms:GenerateMac"],
    // Released bodies kept for Idempotency-Key retries: written before the
    // metering, read by a retry, deleted when the metering did not commit.
    objects: { actions: ["PutObject", "GetObject", "DeleteObject"], prefixes: ["replays/"] },
  },
  admin: {
    // Also the console's: people's sessions and sign-ins under way are items of
    // `credentials` (GetItem, PutItem, and UpdateItem to end them; the TTL deletes).
    tables: {
      registry: {
        table: ["GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem", "ConditionCheckItem"],
        indexes: ["Query"],
      },
      credentials: { table: ["GetItem", "PutItem", "UpdateItem", "ConditionCheckItem"] },
      audit: { table: ["GetItem", "Query", "PutItem", "UpdateItem", "ConditionCheckItem"] },
      outbox: { table: ["Query", "GetItem", "PutItem", "UpdateItem"], indexes: ["Query"] },
      meter: { table: ["Query", "GetItem", "BatchGetItem"] },
    },
    signingKey: ["kms:GetPublicKey", "kms:Sign"],
  },
  metrics: {
    tables: {
      // GetItem: the finance client's record, whose credential generation ends rotated tokens.
      credentials: { table: ["GetItem"] },
      registry: { table: ["GetItem", "BatchGetItem"], indexes: ["Query"] },
      meter: { table: ["Query", "GetItem", "BatchGetItem"] },
    },
    signingKey: ["kms:GetPublicKey"],
  },
  events: {
    // Beyond the brief's outbox Get/Update/Put, registry GetItem and kms:Sign,
    // what functions/events/deliver.ts does: it lists new events and due
    // deliveries on the outbox index, reads both parties' agreements
    // (registry Query + BatchGetItem) and puts the signing key's `kid` (its
    // public key thumbprint, kms:GetPublicKey) on every signed event.
    // Plus the outbox stream read, granted with the event source mapping.
    tables: {
      outbox: { table: ["GetItem", "UpdateItem", "PutItem"], indexes: ["Query"] },
      registry: { table: ["GetItem", "BatchGetItem", "Query"] },
    },
    signingKey: ["kms:Sign", "kms:GetPublicKey"],
  },
};
