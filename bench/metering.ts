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
 * Starts its own DynamoDB Local (in memory) and stops it. Environment:
 * METERING_SECONDS (3 per level), METERING_CONCURRENCY ("1,8,32").
 * Run alone: npx tsx -e "import('./bench/metering.ts').then(m=>m.run())"
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createApp } from "../functions/app.ts";
import { ephemeralKeys } from "../functions/auth/local-keys.ts";
import { pseudonymKeysFromSecret } from "../functions/auth/pseudonyms.ts";
import { issueAccessToken } from "../functions/auth/tokens.ts";
import { ensureClient, ensureTradeRules } from "../functions/bootstrap.ts";
import { createGateway, DEFAULT_SETTINGS } from "../functions/gateway.ts";
import { startDynamoLocal } from "../functions/local/dynamo-local.ts";
import { localDynamoClient } from "../functions/local/server.ts";
import { silentLogger } from "../functions/log.ts";
import { ensureTables, localTableNames } from "../functions/store/create-tables.ts";
import { ALL_SURFACES } from "../functions/surfaces/index.ts";
import { EXAMPLE_DATASET } from "../policies/demo/ecosystem.ts";
import { emit, percentile, round } from "./stats.ts";

const ISSUER = "http://bench.metering";
const PURPOSE = "insurance-pricing";
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

/** A provider on loopback answering every read with the same JSON body. */
async function startProvider(): Promise<{ url: string; server: Server }> {
  const items = Array.from({ length: RECORDS_PER_ANSWER }, (_, i) => ({
    vin: `WDB${String(100_000 + i)}`,
    mileage: 40_000 + i,
    speed: { avg: 61.5, max: 140 },
    engine: { calibration: `CAL-${String(100_000 + i)}` },
    driver: { name: `Driver ${i}` },
  }));
  const body = JSON.stringify({ items });
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, server };
}

export async function run(): Promise<void> {
  const store = await startDynamoLocal({ dbPath: null, timeoutMs: 60_000 });
  const provider = await startProvider();
  try {
    const client = localDynamoClient(store.endpoint);
    const counter = countCalls(client);
    const tables = localTableNames(`bm${randomUUID().slice(0, 8)}`);
    await ensureTables(client, tables);
    const gw = createGateway({
      client,
      tables,
      keys: await ephemeralKeys(),
      pseudonyms: pseudonymKeysFromSecret(Buffer.alloc(32, 3)),
      settings: { ...DEFAULT_SETTINGS, issuer: ISSUER, audience: ISSUER, localBackends: true },
      log: silentLogger,
    });
    const app = createApp(gw, ALL_SURFACES);
    await ensureTradeRules(gw);
    await ensureClient(gw, "operator", "admin", undefined);
    await ensureClient(gw, "finance", "metrics:read", undefined);
    const mint = async (sub: string, scopes: string[]) =>
      (
        await issueAccessToken(
          gw.keys.signer,
          { issuer: ISSUER, audience: ISSUER, maxLifetimeSeconds: 900 },
          { sub, scopes, ttlSeconds: 900 },
          gw.clock(),
        )
      ).token;
    const admin = await mint("operator", ["admin"]);
    const finance = await mint("finance", ["metrics:read"]);
    const call = async (method: string, path: string, token: string, body?: unknown) => {
      const res = await app.request(path, {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return JSON.parse(text) as Record<string, unknown>;
    };

    const secrets: Record<string, string> = {};
    for (const [id, jurisdiction] of [
      ["bench-provider", "SE"],
      ["bench-consumer", "DE"],
    ] as const) {
      const created = await call("POST", "/admin/partners", admin, {
        id,
        name: id,
        jurisdiction,
        baseUrl: provider.url,
      });
      secrets[id] = String(created.clientSecret);
    }
    // The example dataset, without export control (the metering figures need none).
    const { exportControl: _none, ...dataset } = EXAMPLE_DATASET;
    await call("POST", "/admin/datasets", admin, {
      ...dataset,
      id: "bench-telemetry",
      owner: "bench-provider",
    });
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
    for (const s of scenarios) {
      await call("POST", "/admin/agreements", admin, {
        id: s.agreement,
        dataset: "bench-telemetry",
        provider: "bench-provider",
        consumer: "bench-consumer",
        actions: ["read"],
        fields: ["vin", "mileage", "speed.avg"],
        purposes: [PURPOSE],
        validFrom: new Date(now - 86_400_000).toISOString(),
        validUntil: new Date(now + 30 * 86_400_000).toISOString(),
        price: { currency: "EUR", perRequest: 100, perRecord: 2000 },
        ...(s.quota === undefined ? {} : { quota: s.quota }),
      });
    }
    // A token from the real token endpoint (it names the parties: one read round trip).
    const tokenRes = await app.request("/oauth/token", {
      method: "POST",
      headers: {
        Authorization: `Basic ${Buffer.from(`bench-consumer:${secrets["bench-consumer"]}`).toString("base64")}`,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        scope: scenarios.map((s) => `agreement:${s.agreement}`).join(" "),
      }).toString(),
    });
    const token = ((await tokenRes.json()) as { access_token: string }).access_token;

    const seconds = envNumber("METERING_SECONDS", 3);
    let keySeq = 0;
    const exchange = async (agreement: string, idempotency: boolean) => {
      const t0 = process.hrtime.bigint();
      const res = await app.request(`/v1/exchange/${agreement}`, {
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
        const flows = await call(
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
    provider.server.closeAllConnections();
    await new Promise<void>((r) => provider.server.close(() => r()));
    await store.stop();
  }
}
