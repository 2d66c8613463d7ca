/**
 * The store layer over DynamoDB: Db maps every call's faults the same way (a
 * failed condition is data where a caller acts on it, anything else is
 * StoreUnavailableError), and its transaction builder answers per item
 * whatever position the item took. aws-sdk-client-mock stands in for DynamoDB
 * (answers and faults only; the metering suites run the same code against
 * DynamoDB Local).
 */
import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { StoreUnavailableError } from "../../../functions/errors.ts";
import { key } from "../../../functions/store/codec.ts";
import { mockedDb } from "./mock-db.ts";

const { mock, db } = mockedDb();

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: "Transaction cancelled",
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

function threeItems() {
  const tx = db.transaction();
  const check = tx.conditionCheck("registry", {
    Key: key("P#a", "P"),
    ConditionExpression: "attribute_exists(pk)",
  });
  const put = tx.put("meter", {
    Item: key("E#1", "e"),
    ConditionExpression: "attribute_not_exists(pk)",
  });
  const update = tx.update("meter", { Key: key("R#1", "h"), UpdateExpression: "ADD n :one" });
  return { tx, check, put, update };
}

describe("a transaction built item by item", () => {
  it("sends the items in the order they were added, each with its table's name", async () => {
    mock.on(TransactWriteItemsCommand).resolves({});
    const { tx } = threeItems();
    expect(tx.size).toBe(3);
    const result = await tx.run("test", "token-1");
    expect(result.ok).toBe(true);
    const input = mock.commandCalls(TransactWriteItemsCommand)[0]?.args[0].input;
    expect(input?.ClientRequestToken).toBe("token-1");
    expect(input?.TransactItems?.map((i) => Object.keys(i)[0])).toEqual([
      "ConditionCheck",
      "Put",
      "Update",
    ]);
    expect(input?.TransactItems?.map((i) => Object.values(i)[0]?.TableName)).toEqual([
      "t-registry",
      "t-meter",
      "t-meter",
    ]);
  });

  it("answers for each item: a committed transaction failed nowhere", async () => {
    mock.on(TransactWriteItemsCommand).resolves({});
    const { tx, check, put, update } = threeItems();
    const result = await tx.run("test");
    for (const item of [check, put, update]) {
      expect(result.failed(item)).toBe(false);
      expect(result.reason(item)).toBe("None");
    }
    expect(result.failed(undefined)).toBe(false);
  });

  it("puts each cancellation reason on the handle of the item that caused it", async () => {
    mock
      .on(TransactWriteItemsCommand)
      .rejects(cancelled("None", "ConditionalCheckFailed", "TransactionConflict"));
    const { tx, check, put, update } = threeItems();
    const result = await tx.run("test");
    expect(result.ok).toBe(false);
    expect(result.failed(check)).toBe(false);
    expect(result.failed(put)).toBe(true);
    expect(result.failed(update)).toBe(false);
    expect(result.reason(update)).toBe("TransactionConflict");
    expect(result.reasons).toEqual(["None", "ConditionalCheckFailed", "TransactionConflict"]);
  });

  it("refuses a handle of another transaction", async () => {
    mock.on(TransactWriteItemsCommand).resolves({});
    const mine = threeItems();
    const other = threeItems();
    const result = await mine.tx.run("test");
    expect(() => result.failed(other.put)).toThrow(/another transaction/);
  });

  it("maps any other failure to StoreUnavailableError", async () => {
    mock
      .on(TransactWriteItemsCommand)
      .rejects(Object.assign(new Error("down"), { name: "ServiceUnavailable" }));
    await expect(threeItems().tx.run("test")).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

const update = () =>
  db.update(
    "meter",
    {
      Key: key("E#1", "e"),
      UpdateExpression: "SET n = :one",
      ConditionExpression: "attribute_not_exists(pk)",
    },
    "test",
  );

describe("Db.update", () => {
  it("writes to the table's name and answers true", async () => {
    mock.on(UpdateItemCommand).resolves({});
    expect(await update()).toBe(true);
    expect(mock.commandCalls(UpdateItemCommand)[0]?.args[0].input.TableName).toBe("t-meter");
  });

  it("answers false when its condition failed", async () => {
    mock
      .on(UpdateItemCommand)
      .rejects(new ConditionalCheckFailedException({ message: "failed", $metadata: {} }));
    expect(await update()).toBe(false);
  });

  it("maps any other failure to StoreUnavailableError", async () => {
    mock
      .on(UpdateItemCommand)
      .rejects(Object.assign(new Error("denied"), { name: "AccessDeniedException" }));
    await expect(update()).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

describe("Db.getMany", () => {
  const refs = [
    { table: "meter" as const, key: key("A", "a") },
    { table: "registry" as const, key: key("B", "b") },
  ];
  const item = (pk: string, sk: string) => ({ ...key(pk, sk), doc: { S: pk } });

  it("asks again for the keys DynamoDB left unprocessed, and answers in request order", async () => {
    mock
      .on(BatchGetItemCommand)
      .resolvesOnce({
        Responses: { "t-registry": [item("B", "b")] },
        UnprocessedKeys: { "t-meter": { Keys: [key("A", "a")] } },
      })
      .resolvesOnce({ Responses: { "t-meter": [item("A", "a")] } });
    const found = await db.getMany(refs, "test");
    expect(found.map((i) => i?.doc?.S)).toEqual(["A", "B"]);
    const calls = mock.commandCalls(BatchGetItemCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.args[0].input.RequestItems).toEqual({ "t-meter": { Keys: [key("A", "a")] } });
  });

  it("gives up with StoreUnavailableError when keys stay unprocessed for five rounds", async () => {
    mock.on(BatchGetItemCommand).resolves({
      Responses: {},
      UnprocessedKeys: { "t-meter": { Keys: [key("A", "a")] } },
    });
    await expect(db.getMany(refs, "test")).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(mock.commandCalls(BatchGetItemCommand)).toHaveLength(5);
  });

  // A few keys, and a full batch.
  it.each([3, 97])(
    "%i keys: each key asked once, answered at every position it was asked, per table",
    async (n) => {
      mock.reset();
      const asked = Array.from({ length: n }, (_, i) => ({
        table: (i % 2 === 0 ? "meter" : "registry") as "meter" | "registry",
        key: key(`K${i % 3}`, "s"),
      }));
      // The same key again in the same table, and a key nobody stored.
      const [first, second] = asked as [(typeof asked)[number], (typeof asked)[number]];
      const refs = [...asked, first, second, { table: "meter" as const, key: key("none", "s") }];
      mock.on(BatchGetItemCommand).callsFake((input) => {
        const Responses: Record<string, Record<string, { S: string }>[]> = {};
        for (const [table, req] of Object.entries(input.RequestItems ?? {}) as [
          string,
          { Keys: { pk: { S: string }; sk: { S: string } }[] },
        ][]) {
          // Attributes in another order than the key was sent in, as DynamoDB may answer.
          Responses[table] = req.Keys.filter((k) => k.pk.S !== "none").map((k) => ({
            doc: { S: `${table}/${k.pk.S}` },
            sk: k.sk,
            pk: k.pk,
          }));
        }
        return { Responses };
      });
      const found = await db.getMany(refs as never, "test");
      expect(found.map((i) => i?.doc?.S)).toEqual(
        refs.map((r) => (r.key.pk?.S === "none" ? undefined : `t-${r.table}/${r.key.pk?.S}`)),
      );
      const sent = mock.commandCalls(BatchGetItemCommand)[0]?.args[0].input.RequestItems ?? {};
      const keysSent = Object.entries(sent).flatMap(([t, r]) =>
        (r.Keys ?? []).map((k) => `${t}|${k.pk?.S}`),
      );
      expect(new Set(keysSent).size).toBe(keysSent.length);
      expect(new Set(keysSent)).toEqual(new Set(refs.map((r) => `t-${r.table}|${r.key.pk?.S}`)));
    },
  );
});
