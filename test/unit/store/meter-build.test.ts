/**
 * The metering transaction, pinned: the exact TransactWriteItems input the
 * meter sends for representative exchanges (every optional part present; a
 * bare one; a write booked into the next month after its own closed). The
 * snapshot was recorded before the builder was optimised, so a faster build
 * must send DynamoDB byte-for-byte the same requests. aws-sdk-client-mock only
 * records the input (the metering suites run it against DynamoDB Local).
 */
import {
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type TransactWriteItemsCommandInput,
} from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { agreement } from "../../../bench/fixtures.ts";
import { silentLogger } from "../../../functions/log.ts";
import { key, S } from "../../../functions/store/codec.ts";
import { Meter, type MeteringRequest } from "../../../functions/store/meter.ts";
import { Registry } from "../../../functions/store/registry.ts";
import { mockedDb } from "./mock-db.ts";

const { mock, db } = mockedDb();

/** Near the end of a month: the closed-month check is part of every write. */
const now = new Date("2026-11-30T23:59:58.123Z");
// Shards are random in production; fixed here so the requests are comparable
// (injected, not module-mocked: the unit project shares modules between files).
const lastShard = (n: number) => (n <= 1 ? 0 : n - 1);
const meter = new Meter(db, new Registry(db), silentLogger, () => now, lastShard);

/**
 * Records every transaction sent (all commit); with `closedOnce`, the first
 * is cancelled by its closed-month check, as when the month closed meanwhile.
 */
function record(options: { closedOnce?: boolean } = {}): TransactWriteItemsCommandInput[] {
  const inputs: TransactWriteItemsCommandInput[] = [];
  mock.on(TransactWriteItemsCommand).callsFake((input: TransactWriteItemsCommandInput) => {
    inputs.push(structuredClone(input));
    if (options.closedOnce !== true || inputs.length > 1) return {};
    throw new TransactionCanceledException({
      message: "Transaction cancelled",
      $metadata: {},
      CancellationReasons: (input.TransactItems ?? []).map((item) => ({
        Code: item.ConditionCheck?.Key?.pk?.S?.startsWith("C#") ? "ConditionalCheckFailed" : "None",
      })),
    });
  });
  return inputs;
}

const full: MeteringRequest = {
  agreement,
  action: "read",
  requestKey: "req-1",
  idempotencyKey: "idem-1",
  fingerprint: "fp-1",
  records: 42,
  bytes: 8192,
  now,
  replica: 3,
  terms: { agreement: 1, dataset: 2, tradeRules: 0 },
  eventId: "00000000-0000-4000-8000-000000000001",
  claim: { status: { N: "200" }, body: S("stored-body-ref") },
  replaces: "E#2026-11-30T23#5|agr-1#old",
  proofClaim: {
    Item: { ...key("J#jti-1", "J"), expiresAt: { N: "1800000000" } },
    ConditionExpression: "attribute_not_exists(pk)",
  },
};

describe("the metering transaction", () => {
  it("with every optional part: the same items, keys, conditions and expressions", async () => {
    const inputs = record();
    const outcome = await meter.meter(full);
    expect(outcome.kind).toBe("metered");
    // As JSON text: the order of attributes is pinned too, not only their values.
    expect(JSON.stringify(inputs, null, 1)).toMatchSnapshot();
  });

  it("a bare exchange: no key, no terms, no quota, one partner on both sides", async () => {
    const inputs = record();
    const outcome = await meter.meter({
      agreement: { ...agreement, consumer: agreement.provider, quota: undefined },
      action: "read",
      requestKey: "req-2",
      records: 0,
      bytes: 10,
      now: new Date("2026-11-15T10:00:00.000Z"),
      eventId: "00000000-0000-4000-8000-000000000002",
    });
    expect(outcome.kind).toBe("metered");
    // As JSON text: the order of attributes is pinned too, not only their values.
    expect(JSON.stringify(inputs, null, 1)).toMatchSnapshot();
  });

  it("booked into the next month when its own closed meanwhile", async () => {
    const inputs = record({ closedOnce: true });
    const outcome = await meter.meter({ ...full, idempotencyKey: undefined, replaces: undefined });
    expect(outcome.kind).toBe("metered");
    expect(inputs).toHaveLength(2);
    // As JSON text: the order of attributes is pinned too, not only their values.
    expect(JSON.stringify(inputs, null, 1)).toMatchSnapshot();
  });

  it("a reversal, in its own month and as a late adjustment in the next", async () => {
    const inputs = record();
    const receipt = {
      eventId: "00000000-0000-4000-8000-000000000003",
      at: new Date("2026-11-30T23:00:00.000Z"),
      plan: { rollup: 2, day: 1, month: { "4": 40, "6": 2 } },
      value: 1234,
    };
    expect(await meter.reverse(full, receipt)).toBe(true);
    expect(
      await meter.reverse(full, { ...receipt, plan: { ...receipt.plan, booked: "2026-12" } }),
    ).toBe(true);
    // Each call's own token is random: everything else is pinned.
    for (const input of inputs) input.ClientRequestToken = undefined;
    expect(JSON.stringify(inputs, null, 1)).toMatchSnapshot();
  });

  it("a reversal whose month closed meanwhile: a reversal event in the next", async () => {
    const inputs = record({ closedOnce: true });
    const receipt = {
      eventId: "00000000-0000-4000-8000-000000000004",
      at: new Date("2026-11-30T23:00:00.000Z"),
      plan: { rollup: 5, day: 0, month: { "1": 42 } },
      value: 99,
    };
    expect(await meter.reverse(full, receipt)).toBe(true);
    expect(inputs).toHaveLength(2);
    for (const input of inputs) input.ClientRequestToken = undefined;
    expect(JSON.stringify(inputs, null, 1)).toMatchSnapshot();
  });

  it("a refusal counted on the flow", async () => {
    const inputs = record();
    await meter.countRefusal(agreement, "denied", now);
    await meter.countRefusal(agreement, "blocked", new Date("2026-11-02T08:00:00.000Z"));
    expect(inputs).toHaveLength(2);
    expect(JSON.stringify(inputs, null, 1)).toMatchSnapshot();
  });
});
