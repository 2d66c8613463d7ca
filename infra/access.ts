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

/**
 * Object actions in the gateway's bucket, on the objects whose keys match
 * some patterns only (IAM: `*` any run of characters). The multipart calls
 * (create, upload part, complete) are s3:PutObject; a copy is s3:GetObject
 * on its source and s3:PutObject on its target.
 */
export interface ObjectAccess {
  readonly actions: readonly (
    | "GetObject"
    | "PutObject"
    | "DeleteObject"
    | "AbortMultipartUpload"
  )[];
  readonly keys: readonly string[];
}

/** Functions another one may invoke (lambda:InvokeFunction on their live alias, nothing else). */
export type InvokableFunction = "transferWorker";

export type SigningKeyAction = "kms:Sign" | "kms:GetPublicKey";
export type MacKeyAction = "kms:GenerateMac";
/** @deprecated the name before the client-secret key: MacKeyAction */
export type PseudonymKeyAction = MacKeyAction;
/** The signing keys, one per purpose (functions/auth/keys.ts). */
export type SigningKeyName = "accessToken" | "backendToken" | "event";

export interface FunctionAccess {
  readonly tables: Readonly<Partial<Record<TableName, TableAccess>>>;
  /** KMS actions per signing key; a key not named here is not in the function's environment. */
  readonly signingKeys?: Readonly<Partial<Record<SigningKeyName, readonly SigningKeyAction[]>>>;
  readonly pseudonymKey?: readonly MacKeyAction[];
  /** The HMAC key the client-secret pepper is derived from (checking or issuing client secrets). */
  readonly clientSecretKey?: readonly MacKeyAction[];
  /** The object store, per key pattern; a function without it gets no OBJECTS_BUCKET either. */
  readonly objects?: readonly ObjectAccess[];
  /**
   * Listing the bucket (s3:ListBucket), only for `s3:prefix` values matching
   * these patterns. Absent: no listing (S3 then answers a missing key with
   * 403, not 404, which the object stores read as a store fault: nothing is
   * released).
   */
  readonly listObjects?: readonly string[];
  /** Functions it invokes; each one's alias ARN is in its environment (stack: INVOKE_ENV). */
  readonly invokes?: readonly InvokableFunction[];
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

/** Every object of every transfer (functions/transfers/keys.ts: `transfers/<id>/…`). */
const TRANSFER_OBJECTS = "transfers/*";

/**
 * The worker streams a body into its attempt's staging object (multipart;
 * aborted when the body is refused midway), copies it to `body` once
 * metered, reads an `upload`, and deletes everything of a transfer that
 * ended (listing its prefix: a run does not know its earlier attempts' keys).
 */
const TRANSFER_WORKER_OBJECTS: readonly ObjectAccess[] = [
  {
    actions: ["PutObject", "AbortMultipartUpload", "GetObject", "DeleteObject"],
    keys: ["transfers/*/staging-*"],
  },
  { actions: ["PutObject", "DeleteObject"], keys: ["transfers/*/body-*"] },
  { actions: ["GetObject", "DeleteObject"], keys: ["transfers/*/upload"] },
];

/**
 * Proven by behaviour: test/lambda/permissions.test.ts runs every function's
 * bundle through a whole scenario, records each AWS call, and requires these
 * grants to be exactly what was called, nothing missing and nothing unused.
 */
export const FUNCTION_ACCESS: Readonly<Record<FunctionName, FunctionAccess>> = {
  token: {
    tables: {
      // BatchGetItem: the client with its partner and agreements (functions/token/token-reads.ts).
      // PutItem: the replay list of private_key_jwt client assertions.
      credentials: { table: ["BatchGetItem", "PutItem"] },
      // Claims of DPoP proofs (functions/store/proof-replays.ts), in their partitions only.
      meter: DPOP_CLAIMS,
      registry: { table: ["BatchGetItem", "Query"] },
      audit: AUDIT_APPEND,
    },
    signingKeys: { accessToken: SIGN },
    // The pepper client secrets are checked under (once per container).
    clientSecretKey: ["kms:GenerateMac"],
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
    objects: [{ actions: ["PutObject", "GetObject", "DeleteObject"], keys: ["replays/*"] }],
  },
  transfers: {
    // The large transfers' routes: a transfer started, shown, listed, completed.
    // The meter only in transfers' own partitions: the transfers (`X#`), their
    // Idempotency-Key claims (`XI#`), their listings per agreement (`XA#`),
    // and the claims of DPoP proofs (`DP#`).
    tables: {
      registry: { table: ["BatchGetItem"] },
      meter: {
        scoped: [
          // A new transfer is put with its listing edge and its claim.
          { actions: ["PutItem"], leadingKeys: ["X#*", "XA#*", "XI#*"] },
          { actions: ["GetItem"], leadingKeys: ["X#*", "XI#*"] },
          { actions: ["BatchGetItem"], leadingKeys: ["X#*"] },
          { actions: ["Query"], leadingKeys: ["XA#*"] },
          ...(DPOP_CLAIMS.scoped ?? []),
        ],
      },
    },
    signingKeys: { accessToken: READ_PUBLIC },
    // A ready body's GET URL and an upload's PUT URL are presigned here (with
    // this role's credentials: the URL can do what the role may), `complete`
    // looks for the upload (listing its key: a missing key must not read as
    // a fault), and a transfer revoked on read loses all its objects.
    objects: [
      { actions: ["GetObject"], keys: ["transfers/*/body-*"] },
      { actions: ["PutObject"], keys: ["transfers/*/upload"] },
      { actions: ["DeleteObject"], keys: [TRANSFER_OBJECTS] },
    ],
    listObjects: [TRANSFER_OBJECTS],
    // Starts transfer jobs (the worker's live alias, asynchronously).
    invokes: ["transferWorker"],
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
    // Issues partners' and clients' secrets, hashed under the pepper.
    clientSecretKey: ["kms:GenerateMac"],
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
      // An event that ends a flow revokes its open transfers: their listings
      // (`XA#<agreement>`), the transfers themselves (`X#<id>`), nothing else there.
      meter: {
        scoped: [
          { actions: ["Query"], leadingKeys: ["XA#*"] },
          { actions: ["GetItem", "BatchGetItem", "PutItem"], leadingKeys: ["X#*"] },
        ],
      },
    },
    signingKeys: { event: SIGN },
    // ... and deletes their objects.
    objects: [{ actions: ["DeleteObject"], keys: [TRANSFER_OBJECTS] }],
    listObjects: [TRANSFER_OBJECTS],
  },
  transferWorker: {
    // A transfer's job: re-checks the parties, the agreement and the trade
    // rules (ConditionCheckItem in its metering transaction), meters as the
    // exchange does (its counters and claims: PutItem, UpdateItem), reads and
    // changes the transfer's own item (`X#<id>`, a conditioned PutItem in the
    // same transactions, with the transfer.ready event in the outbox), and
    // appends the audit entry of a blocked body.
    tables: {
      registry: { table: ["GetItem", "BatchGetItem", "ConditionCheckItem"] },
      // ConditionCheckItem: a metering write that may land after its month
      // closed checks the month's marker (functions/store/meter.ts).
      meter: {
        table: ["PutItem", "UpdateItem"],
        scoped: [
          { actions: ["GetItem"], leadingKeys: ["X#*"] },
          { actions: ["ConditionCheckItem"], leadingKeys: ["C#*"] },
        ],
      },
      audit: AUDIT_APPEND,
      outbox: { table: ["PutItem"] },
    },
    // Calls the provider's backend as a read does (the gateway JWT), derives pseudonyms.
    signingKeys: { backendToken: SIGN },
    pseudonymKey: ["kms:GenerateMac"],
    objects: TRANSFER_WORKER_OBJECTS,
    listObjects: [TRANSFER_OBJECTS],
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
