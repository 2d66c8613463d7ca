/**
 * `npm run bench -- finance`: /metrics/flows?granularity=total for one month
 * of all flows, over 1 000 and 10 000 flows seeded directly into DynamoDB
 * Local (BatchWriteItem: every flow with a month rollup on each of the 8
 * shards, the worst case for the period index), read through the same
 * function the route runs (flowRows) with the agreements in memory (the
 * registry's list is a paged query of its own, the same on both paths).
 * Store calls are counted by a middleware on the client. The old path (8
 * queries per flow, every flow's hourly rollups) is run for 1 000 flows and
 * derived from its algorithm for 10 000 (80 000 queries: minutes here).
 * Run alone: npx tsx -e "import('./bench/finance.ts').then(m=>m.run())"
 */
import { randomUUID } from "node:crypto";
import { BatchWriteItemCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { startDynamoLocal } from "../functions/local/dynamo-local.ts";
import { localDynamoClient } from "../functions/local/server.ts";
import { flowRows } from "../functions/metrics/flows.ts";
import { N, S } from "../functions/store/codec.ts";
import { ensureTables, localTableNames } from "../functions/store/create-tables.ts";
import { Db } from "../functions/store/db.ts";
import { FLOW_SHARDS, periodKey, rollupKey } from "../functions/store/meter-keys.ts";
import { MeterReader } from "../functions/store/meter-read.ts";
import type { Agreement } from "../policies/model.ts";
import { emit, round } from "./stats.ts";

const MONTH = "2026-10";
const FROM = new Date(`${MONTH}-01T00:00:00Z`);
const TO = new Date("2026-11-01T00:00:00Z");
const NOW = new Date("2026-12-02T12:00:00Z");
const GOAL_CALLS = 300;

function counter(client: DynamoDBClient) {
  let calls = 0;
  client.middlewareStack.add(
    (next) => async (args) => {
      calls++;
      return next(args);
    },
    { step: "initialize", name: "benchFinanceCalls" },
  );
  return {
    take() {
      const n = calls;
      calls = 0;
      return n;
    },
  };
}

const agreementOf = (i: number): Agreement =>
  ({
    id: `agr-${i}`,
    provider: `prov-${i % 97}`,
    consumer: `cons-${i % 89}`,
    dataset: `ds-${i % 31}`,
    price: { currency: "EUR", perRequest: 100, perRecord: 7 },
    valueShares: [{ partner: `prov-${i % 97}`, bps: 10_000 }],
  }) as unknown as Agreement;

/** Writes items 25 at a time, 16 batches in flight. */
async function seed(client: DynamoDBClient, table: string, items: Record<string, unknown>[]) {
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      let pending = (batches[next++] ?? []).map((Item) => ({ PutRequest: { Item } }));
      while (pending.length > 0) {
        const out = await client.send(
          new BatchWriteItemCommand({ RequestItems: { [table]: pending as never } }),
        );
        pending = (out.UnprocessedItems?.[table] ?? []) as typeof pending;
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

const counts = (i: number, s: number) => ({
  provider: S(`prov-${i % 97}`),
  consumer: S(`cons-${i % 89}`),
  dataset: S(`ds-${i % 31}`),
  currency: S("EUR"),
  requests: N(10 + s),
  records: N(70 + s),
  bytes: N(10_000 + s),
  value: N(1_490 + s * 7),
});

export async function run(): Promise<void> {
  const store = await startDynamoLocal({ dbPath: null, timeoutMs: 60_000 });
  try {
    const client = localDynamoClient(store.endpoint);
    const tables = localTableNames(`bn${randomUUID().slice(0, 8)}`);
    await ensureTables(client, tables);
    const calls = counter(client);
    const reader = new MeterReader(new Db(client, tables));
    let seeded = 0;
    for (const flows of [1_000, 10_000]) {
      const t0 = Date.now();
      const items: Record<string, unknown>[] = [];
      for (let i = seeded; i < flows; i++) {
        for (let s = 0; s < FLOW_SHARDS; s++) {
          items.push({ ...periodKey(MONTH, s, `agr-${i}`, "EUR", false), ...counts(i, s) });
          // The old path's hourly rollups, for the flows it is run over.
          if (flows === 1_000)
            items.push({
              ...rollupKey(`agr-${i}`, s, `${MONTH}-15T10`, "EUR"),
              ...counts(i, s),
              hour: S(`${MONTH}-15T10`),
            });
        }
      }
      await seed(client, tables.meter, items);
      seeded = flows;
      const seedSeconds = (Date.now() - t0) / 1000;
      calls.take();
      const agreements = Array.from({ length: flows }, (_, i) => agreementOf(i));
      const t1 = process.hrtime.bigint();
      const rows = await flowRows(
        reader,
        agreements,
        { from: FROM, to: TO },
        "total",
        undefined,
        NOW,
      );
      const ms = Number(process.hrtime.bigint() - t1) / 1e6;
      const storeCalls = calls.take();
      let old: { storeCalls: number; ms?: number; measured: boolean } = {
        storeCalls: flows * FLOW_SHARDS,
        measured: false,
      };
      if (flows === 1_000) {
        const t2 = process.hrtime.bigint();
        const oldRows = await flowRows(
          reader,
          agreements,
          { from: FROM, to: TO },
          "total",
          undefined,
        );
        old = {
          storeCalls: calls.take(),
          ms: round(Number(process.hrtime.bigint() - t2) / 1e6, 1),
          measured: true,
        };
        if (JSON.stringify(oldRows) !== JSON.stringify(rows))
          throw new Error("the two paths disagree");
      }
      emit({
        bench: "finance",
        read: "/metrics/flows?granularity=total, one month, all flows",
        flows,
        rows: rows.length,
        storeCalls,
        ms: round(ms, 1),
        oldPath: {
          ...old,
          how: old.measured
            ? "run: hourly rollups, 8 queries per flow"
            : "derived: 8 queries per flow (FLOW_SHARDS), each at least one round trip",
        },
        seeded: { items: items.length, seconds: round(seedSeconds, 1) },
        goal: { storeCallsAtMost: GOAL_CALLS },
        meetsGoal: storeCalls <= GOAL_CALLS,
        totalRequests: rows.reduce((n, r) => n + r.requests, 0),
      });
    }
  } finally {
    await store.stop();
  }
}
