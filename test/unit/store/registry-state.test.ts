/**
 * The exchange's state read: one replica of the agreement, both partners,
 * the dataset and the trade rules, with the keys of a flow's replica made
 * once and kept. Kept keys must be the right ones for every binding (no two
 * flows share them) and answer as freshly made ones did.
 */
import {
  BatchGetItemCommand,
  type BatchGetItemCommandInput,
  GetItemCommand,
  type GetItemCommandInput,
} from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { agreement, dataset, partner } from "../../../bench/fixtures.ts";
import { key, S } from "../../../functions/store/codec.ts";
import { Registry } from "../../../functions/store/registry.ts";
import { EMPTY_TRADE_RULES } from "../../../policies/model.ts";
import { mockedDb } from "./mock-db.ts";

const { mock, db } = mockedDb();
const registry = new Registry(db);

/** Answers every key asked with the item a registry write would have stored there. */
function storeOf(items: Record<string, unknown>) {
  const asked: string[][] = [];
  mock.on(BatchGetItemCommand).callsFake((input: BatchGetItemCommandInput) => {
    const keys = input.RequestItems?.["t-registry"]?.Keys ?? [];
    asked.push(keys.map((k) => `${k.pk?.S}|${k.sk?.S}`));
    const found = keys.flatMap((k) => {
      const doc = items[k.pk?.S ?? ""];
      return doc === undefined
        ? []
        : [{ ...key(k.pk?.S ?? "", k.sk?.S ?? ""), doc: S(JSON.stringify(doc)) }];
    });
    return { Responses: { "t-registry": found } };
  });
  mock.on(GetItemCommand).callsFake((input: GetItemCommandInput) => {
    const pk = input.Key?.pk?.S ?? "";
    asked.push([`${pk}|${input.Key?.sk?.S}`]);
    const doc = items[pk];
    return doc === undefined ? {} : { Item: { ...input.Key, doc: S(JSON.stringify(doc)) } };
  });
  return asked;
}

const binding = {
  provider: agreement.provider,
  consumer: agreement.consumer,
  dataset: agreement.dataset,
};
const stored = {
  [`A#${agreement.id}`]: agreement,
  [`P#${agreement.provider}`]: partner(agreement.provider, "SE"),
  [`P#${agreement.consumer}`]: partner(agreement.consumer, "DE"),
  [`D#${agreement.dataset}`]: dataset,
  TRADE: EMPTY_TRADE_RULES,
};

describe("Registry.loadExchangeState", () => {
  it("reads one replica of each item, the same keys every time for a flow and replica", async () => {
    const asked = storeOf(stored);
    for (let i = 0; i < 40; i++) {
      const state = await registry.loadExchangeState(agreement.id, binding);
      expect(state.agreement).toEqual(agreement);
      expect(state.provider?.id).toBe(agreement.provider);
      expect(state.consumer?.id).toBe(agreement.consumer);
      expect(state.dataset).toEqual(dataset);
      expect(state.also).toEqual([]);
      const replica = `R#${state.replica}`;
      expect(asked.at(-1)).toEqual([
        `A#${agreement.id}|${replica}`,
        `P#${agreement.provider}|${replica}`,
        `P#${agreement.consumer}|${replica}`,
        `D#${agreement.dataset}|${replica}`,
        `TRADE|${replica}`,
      ]);
    }
  });

  it("keeps the keys of each binding apart, even when their texts run together", async () => {
    const asked = storeOf({});
    await registry.loadExchangeState("ab", { provider: "c", consumer: "d", dataset: "e" });
    await registry.loadExchangeState("a", { provider: "bc", consumer: "d", dataset: "e" });
    // The state reads (5 keys each), not the entity reads that follow an empty answer.
    const [first, second] = asked
      .filter((keys) => keys.length === 5)
      .map((keys) => keys.map((k) => k.split("|")[0]));
    expect(first).toEqual(["A#ab", "P#c", "P#d", "D#e", "TRADE"]);
    expect(second?.slice(0, 2)).toEqual(["A#a", "P#bc"]);
  });

  it("answers the items asked beside the state, and reads the entities when a copy is missing", async () => {
    const asked = storeOf(stored);
    const claim = { table: "meter" as const, key: key("I#x", "I") };
    const state = await registry.loadExchangeState(agreement.id, binding, [claim]);
    expect(state.also).toEqual([undefined]);
    expect(state.replica).toBeTypeOf("number");
    // A trade-rules copy that is missing: read from the entities, without a replica.
    const { TRADE: _, ...withoutRules } = stored;
    const asked2 = storeOf(withoutRules);
    const fallback = await registry.loadExchangeState(agreement.id, binding);
    expect(fallback.replica).toBeUndefined();
    expect(fallback.tradeRules).toEqual(EMPTY_TRADE_RULES);
    expect(asked2.length).toBeGreaterThan(1);
    expect(asked.length).toBe(1);
  });
});
