/**
 * What each function may do, as data: DynamoDB item actions per table (on the
 * table itself, on items of some partitions only, and/or its indexes) and KMS
 * actions per key. The stack turns this into IAM statements and key policy
 * statements, and names in each function's environment only the keys it may
 * use; nothing else grants data-plane access.
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

/** Item actions allowed only on items whose partition key matches (IAM `dynamodb:LeadingKeys`). */
export interface ScopedAccess {
  readonly actions: readonly ItemAction[];
  /** IAM `StringLike` patterns of the partition key (`T#*`). */
  readonly leadingKeys: readonly string[];
}

export interface TableAccess {
  /** Actions on the table itself. */
  readonly table?: readonly ItemAction[];
  /** Actions on some partitions of the table only. */
  readonly scoped?: readonly ScopedAccess[];
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
/** The signing keys, one per purpose (functions/auth/keys.ts). */
export type SigningKeyName = "accessToken" | "backendToken" | "event";

export interface FunctionAccess {
  readonly tables: Readonly<Partial<Record<TableName, TableAccess>>>;
  /** KMS actions per signing key; a key not named here is not in the function's environment. */
  readonly signingKeys?: Readonly<Partial<Record<SigningKeyName, readonly SigningKeyAction[]>>>;
  readonly pseudonymKey?: readonly PseudonymKeyAction[];
  /** The object store; a function without it gets no OBJECTS_BUCKET either. */
  readonly objects?: ObjectAccess;
}

const SIGN: readonly SigningKeyAction[] = ["kms:Sign", "kms:GetPublicKey"];
/** Verifying access tokens, or publishing a key: its public half only. */
const READ_PUBLIC: readonly SigningKeyAction[] = ["kms:GetPublicKey"];

/**
 * Appending to the audit trail: read a chain's head, put the entry and the
 * new head, in the chains' partitions only (`CHAIN…`): no appender can write
 * an anchor.
 */
const AUDIT_APPEND: TableAccess = {
  scoped: [{ actions: ["GetItem", "PutItem"], leadingKeys: ["CHAIN*"] }],
};

/**
 * Claiming a DPoP proof's jti (functions/store/proof-replays.ts): a
 * conditional UpdateItem in the claims' own partitions of `meter`, nothing
 * else there. Every function that takes access tokens has it; the exchange's
 * table-wide grants cover it already.
 */
const DPOP_CLAIMS: TableAccess = {
  scoped: [{ actions: ["UpdateItem"], leadingKeys: ["DP#*"] }],
};

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
      // Claims of DPoP proofs (functions/store/proof-replays.ts), in their partitions only.
      meter: DPOP_CLAIMS,
      registry: { table: ["GetItem", "BatchGetItem", "Query"] },
      audit: AUDIT_APPEND,
    },
    signingKeys: { accessToken: SIGN },
  },
  exchange: {
    // No credentials entry: the exchange function cannot read secrets.
    tables: {
      registry: {
        table: ["GetItem", "BatchGetItem", "Query", "ConditionCheckItem"],
        // A phased-out partner's attestations: their own partitions, nothing
        // else, so the data path can never write a partner, an agreement or a
        // status (un-revoke a partner).
        scoped: [{ actions: ["PutItem"], leadingKeys: ["T#*"] }],
      },
      // ConditionCheckItem: a write that may land after its month closed checks the month's marker.
      meter: {
        table: ["BatchGetItem", "PutItem", "UpdateItem", "Query"],
        scoped: [{ actions: ["ConditionCheckItem"], leadingKeys: ["C#*"] }],
      },
      audit: AUDIT_APPEND,
    },
    // Verifies access tokens, signs its JWTs to partner backends: never an access token.
    signingKeys: { accessToken: READ_PUBLIC, backendToken: SIGN },
    // GenerateMac also derives the keys that seal kept replay bodies.
    pseudonymKey: ["kms:GenerateMac"],
    // Released bodies kept for Idempotency-Key retries: written before the
    // metering, read by a retry, deleted when the metering did not commit.
    objects: { actions: ["PutObject", "GetObject", "DeleteObject"], prefixes: ["replays/"] },
  },
  catalog: {
    // Self-service: the catalog lists datasets (the index); offers, agreement
    // requests and the agreements approvals make (with their edges under both
    // partners) are Puts; their events go to the outbox.
    tables: {
      registry: {
        table: ["GetItem", "BatchGetItem", "Query", "ConditionCheckItem", "PutItem"],
        indexes: ["Query"],
      },
      audit: AUDIT_APPEND,
      outbox: { table: ["PutItem"] },
      meter: DPOP_CLAIMS,
    },
    signingKeys: { accessToken: READ_PUBLIC },
  },
  admin: {
    // Also the console's: people's sessions and sign-ins under way are items of
    // `credentials` (GetItem, PutItem, and UpdateItem to end them; the TTL deletes).
    tables: {
      registry: {
        table: ["GetItem", "BatchGetItem", "Query", "PutItem", "ConditionCheckItem"],
        indexes: ["Query"],
      },
      credentials: { table: ["GetItem", "PutItem", "UpdateItem"] },
      // Lists and verifies (every chain and the anchors), appends.
      audit: { ...AUDIT_APPEND, table: ["Query"] },
      outbox: { table: ["PutItem"], indexes: ["Query"] },
      meter: { table: ["Query"], scoped: DPOP_CLAIMS.scoped },
    },
    // Verifies access tokens; operators' calls sign nothing.
    signingKeys: { accessToken: READ_PUBLIC },
  },
  metrics: {
    tables: {
      // GetItem: the finance client's record, whose credential generation ends rotated tokens.
      credentials: { table: ["GetItem"] },
      registry: { indexes: ["Query"] },
      // Closing a period: its closed-marker copies (C#) and kept statement
      // (S#), nothing else of the meter (functions/store/meter-periods.ts).
      meter: {
        table: ["Query"],
        scoped: [
          ...(DPOP_CLAIMS.scoped ?? []),
          { actions: ["GetItem", "PutItem", "UpdateItem"], leadingKeys: ["C#*"] },
          { actions: ["PutItem"], leadingKeys: ["S#*"] },
        ],
      },
      // The close is audited with its statement's digest.
      audit: AUDIT_APPEND,
    },
    signingKeys: { accessToken: READ_PUBLIC },
  },
  events: {
    // Plus the outbox stream read, granted with the event source mapping.
    tables: {
      // ConditionCheckItem: a fan-out past 99 recipients spans transactions
      // that each check the event is still new.
      outbox: { table: ["UpdateItem", "PutItem", "ConditionCheckItem"], indexes: ["Query"] },
      registry: { table: ["GetItem", "BatchGetItem", "Query"] },
      // The minute tick anchors the audit trail: reads the last anchor and
      // every chain's head, writes the next anchor, and nothing else.
      audit: {
        scoped: [
          { actions: ["Query", "PutItem"], leadingKeys: ["ANCHOR"] },
          { actions: ["BatchGetItem"], leadingKeys: ["CHAIN*"] },
        ],
      },
    },
    signingKeys: { event: SIGN },
  },
  meta: {
    tables: {
      // /health reads the trade rules, and nothing else.
      registry: { scoped: [{ actions: ["GetItem"], leadingKeys: ["TRADE"] }] },
    },
    // The JWKS publishes every purpose's public key.
    signingKeys: { accessToken: READ_PUBLIC, backendToken: READ_PUBLIC, event: READ_PUBLIC },
  },
};
