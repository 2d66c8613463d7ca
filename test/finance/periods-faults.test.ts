/**
 * A close whose markers meet metering writes checking them
 * (TransactionConflict, a fault DynamoDB Local never answers, so mocked):
 * it tries again and closes, and never computes a statement before its
 * markers are in place; when the conflict does not clear, 503 and the month
 * stays open.
 */
import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { localDynamoClient } from "../../functions/local/server.ts";
import { Periods } from "../../functions/store/meter-periods.ts";
import { problem } from "../metering/support.ts";
import { createTestGateway, dynamoEndpoint, type TestGateway } from "../support/gateway.ts";

const FORWARDED = [
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  TransactWriteItemsCommand,
] as const;

/** DynamoDB's answer when every marker is held by another transaction. */
const conflict = () =>
  new TransactionCanceledException({
    message: "Transaction cancelled, please refer cancellation reasons for specific reasons",
    $metadata: { httpStatusCode: 400 },
    CancellationReasons: Array.from({ length: 8 }, () => ({ Code: "TransactionConflict" })),
  });

/** True for the transaction that writes a month's closed markers. */
const beginsClose = (input: { TransactItems?: { Put?: { Item?: { pk?: { S?: string } } } }[] }) =>
  input.TransactItems?.[0]?.Put?.Item?.pk?.S?.startsWith("C#") === true;

const mocks: { restore(): void }[] = [];
afterEach(() => {
  for (const m of mocks.splice(0)) m.restore();
});

async function gatewayWith(
  conflicts: number,
): Promise<{ g: TestGateway; conflicted: () => number }> {
  const real = localDynamoClient(dynamoEndpoint());
  const client = new DynamoDBClient({
    endpoint: dynamoEndpoint(),
    region: "local",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  const mock = mockClient(client);
  mocks.push(mock);
  let seen = 0;
  for (const Command of FORWARDED) {
    // biome-ignore lint/suspicious/noExplicitAny: each command class takes its own input type
    mock.on(Command as any).callsFake((input: any) => {
      if (Command === TransactWriteItemsCommand && beginsClose(input) && seen < conflicts) {
        seen++;
        return Promise.reject(conflict());
      }
      // biome-ignore lint/suspicious/noExplicitAny: as above
      return real.send(new (Command as any)(input));
    });
  }
  const g = await createTestGateway({ client });
  g.clock.offsetMs = Date.parse("2021-07-01T00:31:00Z") - Date.now();
  return { g, conflicted: () => seen };
}

const close = async (g: TestGateway) =>
  g.call("POST", "/metrics/periods/2021-06/close", {
    token: await g.token("closer", ["metrics:close"]),
  });

describe("closing while metering writes hold the markers", () => {
  it("tries again and closes", async () => {
    const { g, conflicted } = await gatewayWith(2);
    const res = await close(g);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(conflicted()).toBe(2);
    expect((await new Periods(g.gw.db).state("2021-06")).state).toBe("closed");
  });

  it("answers 503 when the conflict does not clear, and the month stays open", async () => {
    const { g } = await gatewayWith(1_000);
    const res = await close(g);
    expect(res.status).toBe(503);
    expect(await problem(res)).toMatchObject({ code: "store_unavailable" });
    expect((await new Periods(g.gw.db).state("2021-06")).state).toBe("open");
  });
});
