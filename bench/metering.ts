/**
 * Metered exchanges per second against DynamoDB Local, through the
 * in-process app (app.request) with a provider backend on loopback, and the
 * DynamoDB calls each exchange makes, counted by a middleware on the
 * gateway's own client: logical calls at the `initialize` step (once per
 * call) and HTTP attempts at the `deserialize` step (inside the SDK's retry
 * loop). Reads and writes apart. Goal: one read round trip and at most two
 * writes per exchange. After each level, finance's count of the flow is
 * compared with the exchanges released (`exact`).
 *
 * Starts its own DynamoDB Local (in memory) and stops it (bench/finance-setup.ts). Environment:
 * METERING_SECONDS (3 per level), METERING_CONCURRENCY ("1,8,32").
 * Run alone: npx tsx -e "import('./bench/metering.ts').then(m=>m.run())"
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { PURPOSE, startFinanceBench } from "./finance-setup.ts";
import { emit, percentile, round } from "./stats.ts";

const RECORDS_PER_ANSWER = 10;
const GOAL = { readRoundTrips: 1, writesMax: 2 };

const READS = new Set(["GetItemCommand", "BatchGetItemCommand", "QueryCommand", "ScanCommand"]);
const WRITES = new Set([
  "PutItemCommand",
  "UpdateItemCommand",
  "DeleteItemCommand",
  "BatchWriteItemCommand",
  "TransactWriteItemsCommand",
]);

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number`);
  return n;
}

function levels(): number[] {
  const out = (process.env.METERING_CONCURRENCY ?? "1,8,32").split(",").map((s) => Number(s));
  if (out.some((n) => !Number.isInteger(n) || n < 1 || n > 256))
    throw new Error("METERING_CONCURRENCY must list integers from 1 to 256");
  return out;
}

interface Tally {
  calls: Record<string, number>;
  attempts: Record<string, number>;
}

/** Counts calls (before retries) and attempts (each round trip) by command. */
function countCalls(client: DynamoDBClient): { take(): Tally } {
  let tally: Tally = { calls: {}, attempts: {} };
  const bump = (into: Record<string, number>, name: string) => {
    into[name] = (into[name] ?? 0) + 1;
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      bump(tally.calls, context.commandName ?? "unknown");
      return next(args);
    },
    { step: "initialize", name: "benchMeteringCalls" },
  );
  client.middlewareStack.add(
    (next, context) => async (args) => {
      bump(tally.attempts, context.commandName ?? "unknown");
      return next(args);
    },
    { step: "deserialize", name: "benchMeteringAttempts" },
  );
  return {
    take() {
      const out = tally;
      tally = { calls: {}, attempts: {} };
      return out;
    },
  };
}

function perExchange(tally: Tally, exchanges: number) {
  const sum = (from: Record<string, number>, kinds: Set<string>) =>
    Object.entries(from).reduce((n, [k, v]) => n + (kinds.has(k) ? v : 0), 0);
  const per = (n: number) => round(n / Math.max(1, exchanges), 3);
  const reads = per(sum(tally.calls, READS));
  const writes = per(sum(tally.calls, WRITES));
  return {
    reads,
    writes,
    readAttempts: per(sum(tally.attempts, READS)),
    writeAttempts: per(sum(tally.attempts, WRITES)),
    byCommand: Object.fromEntries(Object.entries(tally.calls).map(([k, v]) => [k, per(v)])),
    meetsGoal: reads <= GOAL.readRoundTrips && writes <= GOAL.writesMax,
  };
}

export async function run(): Promise<void> {
  const b = await startFinanceBench(RECORDS_PER_ANSWER);
  try {
    const counter = countCalls(b.client);
    const finance = await b.mint("finance", ["metrics:read"]);
    const now = Date.now();
    const scenarios = [
      { name: "read", agreement: "bench-plain", quota: undefined, idempotency: false },
      {
        // Both quota counters and an Idempotency-Key: the largest metering transaction.
        name: "read+quotas+idempotency-key",
        agreement: "bench-quota",
        quota: { requestsPerDay: 100_000_000, recordsPerMonth: 1_000_000_000 },
        idempotency: true,
      },
    ];
    for (const s of scenarios)
      await b.agreement(s.agreement, s.quota === undefined ? {} : { quota: s.quota });
    // A token from the real token endpoint (it names the parties: one read round trip).
    const token = await b.consumerToken(scenarios.map((s) => s.agreement));

    const seconds = envNumber("METERING_SECONDS", 3);
    let keySeq = 0;
    const exchange = async (agreement: string, idempotency: boolean) => {
      const t0 = process.hrtime.bigint();
      const res = await b.app.request(`/v1/exchange/${agreement}`, {
        headers: {
          Authorization: `Bearer ${token}`,
          "Data-Purpose": PURPOSE,
          ...(idempotency ? { "Idempotency-Key": `bench-${++keySeq}` } : {}),
        },
      });
      await res.arrayBuffer();
      return { ok: res.status === 200, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
    };

    const released: Record<string, number> = {};
    for (const s of scenarios) {
      // Warm-up: compiled guard plans, JIT, DynamoDB Local's first writes.
      for (let i = 0; i < 20; i++) await exchange(s.agreement, s.idempotency);
      released[s.agreement] = 20;
      for (const concurrency of levels()) {
        counter.take();
        const latencies: number[] = [];
        let ok = 0;
        let failed = 0;
        const start = process.hrtime.bigint();
        const deadline = start + BigInt(Math.round(seconds * 1e9));
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (process.hrtime.bigint() < deadline) {
              const r = await exchange(s.agreement, s.idempotency);
              latencies.push(r.ms);
              if (r.ok) ok++;
              else failed++;
            }
          }),
        );
        const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
        const tally = counter.take();
        released[s.agreement] = (released[s.agreement] ?? 0) + ok;
        latencies.sort((a, b) => a - b);
        const flows = await b.call(
          "GET",
          `/metrics/flows?${new URLSearchParams({
            from: new Date(now - 2 * 3_600_000).toISOString(),
            to: new Date(Date.now() + 3_600_000).toISOString(),
            granularity: "total",
          })}`,
          finance,
        );
        const counted = (flows.items as { agreement: string; requests: number }[])
          .filter((r) => r.agreement === s.agreement)
          .reduce((n, r) => n + r.requests, 0);
        counter.take();
        emit({
          bench: "metering",
          scenario: s.name,
          concurrency,
          exchanges: ok,
          failed,
          seconds: round(elapsed),
          meteredExchangesPerSecond: round(ok / elapsed, 1),
          latencyMs: {
            p50: round(percentile(latencies, 50)),
            p99: round(percentile(latencies, 99)),
          },
          dynamoPerExchange: perExchange(tally, ok + failed),
          goal: GOAL,
          exact: counted === released[s.agreement],
          counted,
          released: released[s.agreement],
        });
      }
    }
  } finally {
    await b.close();
  }
}
