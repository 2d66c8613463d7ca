/**
 * A close whose markers meet metering writes checking them
 * (TransactionConflict, a fault DynamoDB Local never answers, so mocked):
 * it tries again and closes, and never computes a statement before its
 * markers are in place; when the conflict does not clear, 503 and the month
 * stays open.
 */
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { afterEach, describe, expect, it } from "vitest";
import { Periods } from "../../functions/store/meter-periods.ts";
import { forwardingClient, problem } from "../metering/support.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";

/** DynamoDB's answer when every marker is held by another transaction. */
const conflict = () =>
  new TransactionCanceledException({
    message: "Transaction cancelled, please refer cancellation reasons for specific reasons",
    $metadata: { httpStatusCode: 400 },
    CancellationReasons: Array.from({ length: 8 }, () => ({ Code: "TransactionConflict" })),
  });

/** True for the transaction that writes a month's closed markers. */
const beginsClose = (input: Record<string, unknown>) =>
  (
    input as { TransactItems?: { Put?: { Item?: { pk?: { S?: string } } } }[] }
  ).TransactItems?.[0]?.Put?.Item?.pk?.S?.startsWith("C#") === true;

const mocks: { restore(): void }[] = [];
afterEach(() => {
  for (const m of mocks.splice(0)) m.restore();
});

async function gatewayWith(
  conflicts: number,
): Promise<{ g: TestGateway; conflicted: () => number }> {
  let seen = 0;
  const { client, mock } = forwardingClient((command, input) => {
    if (command !== "TransactWriteItemsCommand" || !beginsClose(input) || seen >= conflicts)
      return undefined;
    seen++;
    return Promise.reject(conflict());
  });
  mocks.push(mock);
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
