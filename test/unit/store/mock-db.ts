/** A Db over a DynamoDB client whose calls aws-sdk-client-mock answers (reset after each test). */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach } from "vitest";
import { Db } from "../../../functions/store/db.ts";

export function mockedDb() {
  const client = new DynamoDBClient({
    region: "local",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  const mock = mockClient(client);
  const db = new Db(client, {
    registry: "t-registry",
    credentials: "t-credentials",
    meter: "t-meter",
    audit: "t-audit",
    outbox: "t-outbox",
  });
  afterEach(() => mock.reset());
  return { client, mock, db };
}
