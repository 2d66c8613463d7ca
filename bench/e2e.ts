/**
 * End to end through the local server against DynamoDB Local, and the same
 * upstream called directly, in the same run.
 *
 * The gateway is `startLocalGateway` (DEMO=0, a temporary DATA_DIR, DynamoDB
 * Local in memory) on this thread; the provider backend (an ~8 KB telemetry
 * body) and the load generator run on worker threads of their own, so the
 * gateway's event loop does only the gateway's work. Partners, dataset and
 * agreement are made through the admin API; the consumer's token comes from
 * the real token endpoint. The load is closed-loop over node:http keep-alive
 * (the same client code for both targets), at each concurrency level the
 * direct call first, then the gateway. DynamoDB calls are counted by a
 * middleware on the gateway's own DynamoDB client (the outbox worker's
 * polling is counted apart).
 *
 * Environment: E2E_SECONDS (5), E2E_WARMUP_SECONDS (1), E2E_CONCURRENCY
 * ("1,8,32"), E2E_STORE_WARMUP_SECONDS (10: gateway load before any figure,
 * so that DynamoDB Local's JVM has compiled its hot paths). Goals: added latency under 3 ms at p50 and under 10 ms at p99.
 */
import type { Worker } from "node:worker_threads";
import { EXAMPLE_PARTNERS } from "../policies/demo/ecosystem.ts";
import { agreement, datasetInput, telemetryBody } from "./fixtures.ts";
import type { LoadResult, LoadSpec } from "./load/closed-loop.ts";
import { countDynamoCalls } from "./load/dynamo-counter.ts";
import { accessToken, httpRequest, keepAliveAgent } from "./load/http.ts";
import { type LoadTarget, startLoadTarget } from "./load/local.ts";
import { percentileOf } from "./load/percentiles.ts";
import { mainThreadCpuMs } from "./load/thread-cpu.ts";
import { nextMessage, startTsWorker } from "./load/threads.ts";
import { emit, round } from "./stats.ts";

const GOAL_ADDED_P50_MS = 3;
const GOAL_ADDED_P99_MS = 10;
const AGREEMENT = "e2e-agr-1";
const PURPOSE = "insurance-pricing";

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number`);
  return n;
}

function levels(): number[] {
  const raw = process.env.E2E_CONCURRENCY ?? "1,8,32";
  const out = raw.split(",").map((s) => Number(s.trim()));
  if (out.some((n) => !Number.isInteger(n) || n < 1 || n > 512))
    throw new Error("E2E_CONCURRENCY must be a list of integers from 1 to 512");
  return out;
}

/**
 * Partners, dataset and agreement through the admin API, mirroring
 * bench/fixtures.ts, every id under `prefix` (bench/transfer.ts makes its own).
 */
export async function ecosystem(
  target: LoadTarget,
  backendUrl: string,
  names: { prefix: string; agreement: string } = { prefix: "e2e", agreement: AGREEMENT },
): Promise<Record<string, string>> {
  const { prefix } = names;
  const secrets: Record<string, string> = {};
  for (const { id: exampleId, jurisdiction } of Object.values(EXAMPLE_PARTNERS)) {
    const id = `${prefix}-${exampleId}`;
    const created = await target.operator.expect<{ clientSecret: string }>(
      201,
      "POST",
      "/admin/partners",
      { id, name: id, jurisdiction, baseUrl: backendUrl },
    );
    secrets[id] = created.clientSecret;
  }
  await target.operator.expect(
    201,
    "POST",
    "/admin/datasets",
    datasetInput(`${prefix}-vehicle-telemetry`, `${prefix}-fleetco`),
  );
  const now = Date.now();
  const { status: _s, version: _v, createdAt: _c, updatedAt: _u, ...terms } = agreement;
  await target.operator.expect(201, "POST", "/admin/agreements", {
    ...terms,
    id: names.agreement,
    dataset: `${prefix}-vehicle-telemetry`,
    provider: `${prefix}-fleetco`,
    consumer: `${prefix}-insureco`,
    purposes: [PURPOSE],
    validFrom: new Date(now - 86_400_000).toISOString(),
    validUntil: new Date(now + 365 * 86_400_000).toISOString(),
    valueShares: terms.valueShares.map((s) => ({ ...s, partner: `${prefix}-${s.partner}` })),
  });
  return secrets;
}

interface Figures {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly requests: number;
  readonly errors: number;
  readonly non200: number;
}

function figures(r: LoadResult): Figures {
  return {
    requestsPerSecond: round((r.requests / r.elapsedMs) * 1000, 1),
    p50Ms: round(percentileOf(r.latenciesUs, 50) / 1000, 3),
    p99Ms: round(percentileOf(r.latenciesUs, 99) / 1000, 3),
    meanMs: round(r.latenciesUs.reduce((a, b) => a + b, 0) / Math.max(1, r.requests) / 1000, 3),
    requests: r.requests,
    errors: r.errors,
    non200: r.requests - (r.statuses["200"] ?? 0),
  };
}

async function load(worker: Worker, spec: LoadSpec): Promise<LoadResult> {
  const answer = nextMessage<{ ok: true; result: LoadResult } | { ok: false; error: string }>(
    worker,
  );
  worker.postMessage(spec);
  const a = await answer;
  if (!a.ok) throw new Error(`the load generator failed: ${a.error}`);
  return a.result;
}

export async function run(): Promise<void> {
  const seconds = envNumber("E2E_SECONDS", 5);
  const warmupSeconds = envNumber("E2E_WARMUP_SECONDS", 1);
  const body = telemetryBody(8 * 1024);
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const backend = startTsWorker(new URL("./load/backend-worker.ts", import.meta.url), { body });
    stops.push(async () => {
      backend.postMessage("stop");
      await new Promise((r) => setTimeout(r, 200));
      await backend.terminate();
    });
    const { port } = await nextMessage<{ port: number }>(backend);
    const backendUrl = `http://127.0.0.1:${port}`;

    const target = await startLoadTarget();
    stops.push(() => target.stop());
    const gw = target.local.gateway;
    const counter = countDynamoCalls(gw.db.client, [gw.db.name("outbox")]);

    const secrets = await ecosystem(target, backendUrl);
    const agent = keepAliveAgent(2);
    stops.push(async () => agent.destroy());
    const token = await accessToken(
      agent,
      target.base,
      "e2e-insureco",
      secrets["e2e-insureco"] ?? "",
      `agreement:${AGREEMENT}`,
    );
    const gatewayUrl = `${target.base}/v1/exchange/${AGREEMENT}`;
    const gatewayHeaders = {
      Authorization: `Bearer ${token}`,
      "Data-Purpose": PURPOSE,
      Accept: "application/json",
    };
    const directUrl = `${backendUrl}/telemetry`;
    const directHeaders = { Accept: "application/json" };

    // One call each way, checked, before any load.
    const probe = await httpRequest(agent, new URL(gatewayUrl), { headers: gatewayHeaders });
    if (probe.status !== 200)
      throw new Error(`the gateway answered ${probe.status}: ${probe.body.toString("utf8")}`);
    const records = Number(probe.headers["x-records"] ?? "0");
    if (records <= 0) throw new Error("the gateway released no records");
    const direct = await httpRequest(agent, new URL(directUrl), { headers: directHeaders });
    if (direct.status !== 200) throw new Error(`the backend answered ${direct.status}`);

    // DynamoDB calls of one exchange, sequentially, on a fresh store (trade
    // rules never set, as after a first `npm start`) and once trade rules
    // exist (the typical state of bench/fixtures.ts, used for the load below).
    const callsOf = async (tradeRules: string) => {
      const n = 30;
      counter.reset();
      for (let i = 0; i < n; i++) {
        const r = await httpRequest(agent, new URL(gatewayUrl), { headers: gatewayHeaders });
        if (r.status !== 200) throw new Error(`the gateway answered ${r.status}`);
      }
      const c = counter.snapshot();
      emit({
        bench: "e2e.dynamoCallsPerExchange",
        tradeRules,
        concurrency: 1,
        reads: round(c.reads / n, 3),
        writes: round(c.writes / n, 3),
        attempts: round(c.attempts / n, 3),
        byCommand: Object.fromEntries(
          Object.entries(c.byCommand).map(([k, v]) => [k, round(v / n, 3)]),
        ),
        keysPerBatchGet: round(c.batchKeys / Math.max(1, c.byCommand.BatchGetItemCommand ?? 0), 2),
        itemsPerTransaction: round(
          c.transactItems / Math.max(1, c.byCommand.TransactWriteItemsCommand ?? 0),
          2,
        ),
        exchanges: n,
      });
    };

    const loader = startTsWorker(new URL("./load/load-worker.ts", import.meta.url), {});
    stops.push(async () => {
      loader.postMessage("stop");
      await loader.terminate();
    });
    await nextMessage<string>(loader);

    emit({
      bench: "e2e.setup",
      server: "startLocalGateway, DEMO=0, in-process",
      store: "DynamoDB Local, in memory",
      client: "closed loop, node:http keep-alive, worker thread",
      backend: "node:http, worker thread",
      upstreamBodyBytes: Buffer.byteLength(body),
      releasedBodyBytes: probe.body.byteLength,
      recordsPerExchange: records,
      tradeRules: "set (embargoes and a denied party, as in bench/fixtures.ts)",
      seconds,
      warmupSeconds,
    });

    await callsOf("never set");
    await target.operator.expect(200, "PUT", "/admin/trade-rules", {
      embargoedJurisdictions: ["KP", "IR"],
      deniedParties: ["shadyco"],
    });
    await callsOf("set");

    // DynamoDB Local is a JVM: its first thousands of calls run before the JIT
    // has compiled them and are many times slower. Warm it through the gateway.
    const storeWarmup = envNumber("E2E_STORE_WARMUP_SECONDS", 10);
    const warm = figures(
      await load(loader, {
        url: gatewayUrl,
        headers: gatewayHeaders,
        concurrency: 8,
        warmupMs: 0,
        durationMs: storeWarmup * 1000,
      }),
    );
    emit({ bench: "e2e.storeWarmup", concurrency: 8, seconds: storeWarmup, ...warm });

    for (const concurrency of levels()) {
      const common = { concurrency, warmupMs: warmupSeconds * 1000, durationMs: seconds * 1000 };
      const d = figures(await load(loader, { url: directUrl, headers: directHeaders, ...common }));
      counter.reset();
      const elu0 = performance.eventLoopUtilization();
      const cpu0 = mainThreadCpuMs();
      const gr = await load(loader, { url: gatewayUrl, headers: gatewayHeaders, ...common });
      const elu = performance.eventLoopUtilization(elu0);
      const cpu1 = mainThreadCpuMs();
      const calls = counter.snapshot();
      const g = figures(gr);
      // Every request of the run, warm-up included, went through the counter.
      const total = Math.max(1, gr.okAll);
      const storeWait = calls.waitMs / total;
      emit({ bench: "e2e.direct", concurrency, ...d });
      emit({ bench: "e2e.gateway", concurrency, ...g });
      const addedP50 = round(g.p50Ms - d.p50Ms, 3);
      const addedP99 = round(g.p99Ms - d.p99Ms, 3);
      emit({
        bench: "e2e.added",
        concurrency,
        p50Ms: addedP50,
        p99Ms: addedP99,
        goalP50Ms: GOAL_ADDED_P50_MS,
        goalP99Ms: GOAL_ADDED_P99_MS,
        p50Met: addedP50 < GOAL_ADDED_P50_MS,
        p99Met: addedP99 < GOAL_ADDED_P99_MS,
        throughputRatio: round(g.requestsPerSecond / d.requestsPerSecond, 3),
        p50Ratio: round(g.p50Ms / d.p50Ms, 2),
        p99Ratio: round(g.p99Ms / d.p99Ms, 2),
        meanMs: round(g.meanMs - d.meanMs, 3),
        // What the gateway adds besides waiting on DynamoDB (means add up; percentiles do not).
        storeWaitMeanMs: round(storeWait, 3),
        meanExcludingStoreMs: round(g.meanMs - d.meanMs - storeWait, 3),
        // The gateway's thread (this one) per exchange, its own work with the SDK's:
        // CPU time, and event-loop active time (which also counts waiting for a core).
        gatewayThreadCpuMsPerExchange:
          cpu0 === undefined || cpu1 === undefined
            ? null
            : round((cpu1 - cpu0) / Math.max(1, gr.answeredAll), 3),
        gatewayThreadBusyMsPerExchange: round(elu.active / Math.max(1, gr.answeredAll), 3),
        gatewayThreadUtilization: round(elu.utilization, 3),
      });
      emit({
        bench: "e2e.dynamoUnderLoad",
        concurrency,
        reads: round(calls.reads / total, 3),
        writes: round(calls.writes / total, 3),
        attempts: round(calls.attempts / total, 3),
        waitMsPerExchange: round(calls.waitMs / total, 3),
        itemsPerTransaction: round(
          calls.transactItems / Math.max(1, calls.byCommand.TransactWriteItemsCommand ?? 0),
          2,
        ),
        keysPerBatchGet: round(
          calls.batchKeys / Math.max(1, calls.byCommand.BatchGetItemCommand ?? 0),
          2,
        ),
        waitMsByCommand: Object.fromEntries(
          Object.entries(calls.waitMsByCommand).map(([k, v]) => [k, round(v / total, 3)]),
        ),
        byCommand: Object.fromEntries(
          Object.entries(calls.byCommand).map(([k, v]) => [k, round(v / total, 3)]),
        ),
        exchanges: gr.okAll,
        refused: gr.answeredAll - gr.okAll,
        backgroundCalls: calls.background,
      });
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}
