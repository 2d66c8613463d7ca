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

export type SigningKeyAction = "kms:Sign" | "kms:GetPublicKey";
export type PseudonymKeyAction = "kms:GenerateMac";

export interface FunctionAccess {
  readonly tables: Readonly<Partial<Record<TableName, TableAccess>>>;
  readonly signingKey?: readonly SigningKeyAction[];
  readonly pseudonymKey?: readonly PseudonymKeyAction[];
}

/** Appending to the audit trail: read the chain head, put the entry and the new head. */
const AUDIT_APPEND: readonly ItemAction[] = ["GetItem", "PutItem"];

/**
 * Proven by behaviour: test/lambda/permissions.test.ts runs every function's
 * bundle through a whole scenario, records each AWS call, and requires these
 * grants to be exactly what was called, nothing missing and nothing unused.
 */
export const FUNCTION_ACCESS: Readonly<Record<FunctionName, FunctionAccess>> = {
  token: {
    tables: {
      // PutItem: the replay list of private_key_jwt client assertions.
      credentials: { table: ["GetItem", "PutItem"] },
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
      meter: { table: ["BatchGetItem", "PutItem", "UpdateItem", "Query"] },
      audit: { table: AUDIT_APPEND },
      outbox: { table: ["PutItem"] },
    },
    signingKey: ["kms:Sign", "kms:GetPublicKey"],
    pseudonymKey: ["kms:GenerateMac"],
  },
  admin: {
    // Also the console's: people's sessions and sign-ins under way are items of
    // `credentials` (GetItem, PutItem, and UpdateItem to end them; the TTL deletes).
    tables: {
      registry: {
        table: ["GetItem", "BatchGetItem", "Query", "PutItem", "ConditionCheckItem"],
        indexes: ["Query"],
      },
      credentials: { table: ["GetItem", "PutItem"] },
      audit: { table: ["GetItem", "Query", "PutItem"] },
      outbox: { table: ["PutItem"], indexes: ["Query"] },
      meter: { table: ["Query"] },
    },
    signingKey: ["kms:GetPublicKey"],
  },
  metrics: {
    tables: {
      registry: { indexes: ["Query"] },
      meter: { table: ["Query"] },
    },
    signingKey: ["kms:GetPublicKey"],
  },
  events: {
    // Plus the outbox stream read, granted with the event source mapping.
    tables: {
      // ConditionCheckItem: a fan-out past 99 recipients spans transactions
      // that each check the event is still new.
      outbox: { table: ["UpdateItem", "PutItem", "ConditionCheckItem"], indexes: ["Query"] },
      registry: { table: ["GetItem", "BatchGetItem", "Query"] },
    },
    signingKey: ["kms:Sign", "kms:GetPublicKey"],
  },
};
