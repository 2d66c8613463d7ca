/**
 * The gateway's DynamoDB tables: their logical names, key attributes, indexes
 * and TTL attributes. Plain data, shared by the store code, the local server
 * (which creates the tables) and the CDK app (which declares them), so the
 * three cannot drift apart. See docs/data-model.md for what lives where.
 */

export const TABLES = ["registry", "credentials", "meter", "audit", "outbox"] as const;
export type TableName = (typeof TABLES)[number];

export interface IndexSpec {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
}

export interface TableSpec {
  readonly partitionKey: "pk";
  readonly sortKey: "sk";
  readonly indexes: readonly IndexSpec[];
  /** Attribute holding an epoch-seconds expiry, if items of this table expire. */
  readonly ttlAttribute?: string;
  /** Whether changes are streamed (the outbox feeds the event deliveries). */
  readonly stream: boolean;
}

/** Lists newest first: gsi1pk names a collection, gsi1sk is `createdAt#id`. */
export const BY_COLLECTION: IndexSpec = {
  name: "byCollection",
  partitionKey: "gsi1pk",
  sortKey: "gsi1sk",
};

export const TABLE_SPECS: Readonly<Record<TableName, TableSpec>> = {
  registry: { partitionKey: "pk", sortKey: "sk", indexes: [BY_COLLECTION], stream: false },
  credentials: {
    partitionKey: "pk",
    sortKey: "sk",
    indexes: [],
    ttlAttribute: "expiresAt",
    stream: false,
  },
  meter: {
    partitionKey: "pk",
    sortKey: "sk",
    indexes: [],
    ttlAttribute: "expiresAt",
    stream: false,
  },
  audit: { partitionKey: "pk", sortKey: "sk", indexes: [], stream: false },
  outbox: {
    partitionKey: "pk",
    sortKey: "sk",
    indexes: [BY_COLLECTION],
    ttlAttribute: "expiresAt",
    stream: true,
  },
};

/** The environment variable that names each table in AWS. */
export const TABLE_ENV: Readonly<Record<TableName, string>> = {
  registry: "REGISTRY_TABLE",
  credentials: "CREDENTIALS_TABLE",
  meter: "METER_TABLE",
  audit: "AUDIT_TABLE",
  outbox: "OUTBOX_TABLE",
};
