/**
 * Creates the gateway's tables where they are missing (the local server at
 * start, the tests per run). In AWS the CDK app creates them.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import type { TableNames } from "./db.ts";
import { TABLE_SPECS, TABLES } from "./schema.ts";

export const localTableNames = (prefix: string): TableNames =>
  Object.fromEntries(TABLES.map((t) => [t, `${prefix}-${t}`])) as unknown as TableNames;

async function exists(client: DynamoDBClient, name: string): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: name }));
    return true;
  } catch (err) {
    if ((err as Error).name === "ResourceNotFoundException") return false;
    throw err;
  }
}

export interface EnsureTablesOptions {
  /**
   * Turn on each table's TTL. Tests turn it off: they move the gateway's
   * clock to past months, and DynamoDB (Local too) deletes items whose
   * `expiresAt` passed in real time, which would delete what they just wrote.
   * @default true
   */
  readonly ttl?: boolean;
}

export async function ensureTables(
  client: DynamoDBClient,
  names: TableNames,
  options: EnsureTablesOptions = {},
): Promise<void> {
  await Promise.all(
    TABLES.map(async (table) => {
      const name = names[table];
      if (await exists(client, name)) return;
      const spec = TABLE_SPECS[table];
      const attrs = new Set([
        "pk",
        "sk",
        ...spec.indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
      ]);
      try {
        await client.send(
          new CreateTableCommand({
            TableName: name,
            BillingMode: "PAY_PER_REQUEST",
            AttributeDefinitions: [...attrs].map((a) => ({ AttributeName: a, AttributeType: "S" })),
            KeySchema: [
              { AttributeName: "pk", KeyType: "HASH" },
              { AttributeName: "sk", KeyType: "RANGE" },
            ],
            ...(spec.indexes.length === 0
              ? {}
              : {
                  GlobalSecondaryIndexes: spec.indexes.map((i) => ({
                    IndexName: i.name,
                    KeySchema: [
                      { AttributeName: i.partitionKey, KeyType: "HASH" as const },
                      { AttributeName: i.sortKey, KeyType: "RANGE" as const },
                    ],
                    Projection: { ProjectionType: "ALL" as const },
                  })),
                }),
            ...(spec.stream
              ? {
                  StreamSpecification: {
                    StreamEnabled: true,
                    StreamViewType: "NEW_IMAGE" as const,
                  },
                }
              : {}),
          }),
        );
      } catch (err) {
        if (!(err instanceof ResourceInUseException)) throw err;
      }
      if (spec.ttlAttribute !== undefined && options.ttl !== false) {
        await client
          .send(
            new UpdateTimeToLiveCommand({
              TableName: name,
              TimeToLiveSpecification: { AttributeName: spec.ttlAttribute, Enabled: true },
            }),
          )
          .catch(() => undefined);
      }
    }),
  );
}
