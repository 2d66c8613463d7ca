/**
 * `npm run soak [-- --duration=60 --partners=20 --concurrency=16 ...]`: many
 * partners at once against the local server (in this process, DEMO=0, a
 * temporary DATA_DIR, DynamoDB Local in memory, loopback only) while a chaos
 * loop revokes, reinstates, suspends, resumes and rotates credentials at
 * random, amends agreements' fields while exchanges are in flight, and sends
 * HEAD requests (405, never metered) and Idempotency-Key retries. Bounded in time (the duration, and a watchdog) and in count
 * (--max-exchanges). At the end it checks, and prints one JSON line each:
 *   revocation  nothing served (200) that started after a party or the
 *               agreement was taken down (its answer received) and ended
 *               before the change bringing it back was sent (so every status
 *               read it made saw it down); no refusal for a status while every
 *               party and the agreement were surely active the whole time;
 *   counts      200s per agreement (within an Idempotency-Key group, each
 *               distinct body once: the providers answer differently on
 *               every call, so a retry that released fresh data shows as a
 *               count finance does not have) equal /metrics/flows requests,
 *               records and value; quotas never
 *               exceeded and never refusing below; /metrics/reconcile
 *               consistent with the same total;
 *   answers     no 500 and no transport failure; only the contract's answers
 *               (5xx only 502 upstream_error from the flaky backend, 503
 *               metering_unavailable, 504 upstream_timeout); the old secret
 *               refused right after each rotation; no operator call failed;
 *   memory      heapUsed of this process (after a forced GC) sampled every
 *               second after warm-up: slope under --heap-threshold MB/min;
 *   coverage    the run exercised what it checks;
 * plus throughput and latency percentiles, then a verdict line. Exit code 0
 * only if every check passed. `--self-check` runs a short soak with injected
 * violations (a phantom suspension, 500s, an unserved metering, a heap leak)
 * and exits 0 only if each is detected.
 *
 * Flags (defaults): --duration=60 s, --partners=20 (half providers, half
 * consumers, two agreements per consumer), --concurrency=16 callers,
 * --max-exchanges=300000, --chaos-loops=3, --warmup=min(20, duration/3) s
 * before heap samples, --heap-threshold=3 MB/min, --quota=15 (requests per
 * day; records per month ×8), --token-refresh=15 s, --trade-rules=1 (0: never
 * set, as on a fresh store), --seed (printed; replays the random choices).
 * Every flag can be given as SOAK_<NAME> (e.g. SOAK_DURATION=120);
 * --dump=<file> writes every request and status change as JSON;
 * --heap-snapshots=<dir> writes heap snapshots after warm-up and at the end.
 */

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { writeHeapSnapshot } from "node:v8";
import type { UpstreamTransport } from "../functions/exchange/upstream.ts";
import type { Agreement } from "../policies/model.ts";
import { type LoadTarget, startLoadTarget } from "./load/local.ts";
import { forcedGc, sampleHeap } from "./load/memory.ts";
import { Chaos } from "./load/soak-chaos.ts";
import {
  type CheckResult,
  checkAnswers,
  checkCounts,
  checkCoverage,
  checkMemory,
  checkRevocation,
  expectedFlows,
  type FlowRow,
  type HeapSample,
  type Reconcile,
  throughput,
} from "./load/soak-checks.ts";
import { SoakDriver } from "./load/soak-driver.ts";
import { ExchangeLog, Kind } from "./load/soak-log.ts";
import { buildWorld, type SoakWorld } from "./load/soak-world.ts";

interface Options {
  duration: number;
  partners: number;
  concurrency: number;
  maxExchanges: number;
  chaosLoops: number;
  warmup: number;
  heapThreshold: number;
  quota: number;
  tokenRefresh: number;
  /** 1: trade rules are set before the run (as deployed); 0: never set (a fresh store). */
  tradeRules: number;
  seed: number;
  selfCheck: boolean;
  /** Where to write every recorded request and status change as JSON (for a post-mortem). */
  dump: string | undefined;
  /** A directory for two heap snapshots, after warm-up and at the end (for a post-mortem). */
  heapSnapshots: string | undefined;
}

const DEFAULTS: Options = {
  duration: 60,
  partners: 20,
  concurrency: 16,
  maxExchanges: 300_000,
  chaosLoops: 3,
  warmup: 20,
  heapThreshold: 3,
  quota: 15,
  tokenRefresh: 15,
  tradeRules: 1,
  seed: 0,
  selfCheck: false,
  dump: undefined,
  heapSnapshots: undefined,
};

const LIMITS: Record<
  keyof Omit<Options, "selfCheck" | "dump" | "heapSnapshots">,
  [number, number]
> = {
  duration: [5, 3600],
  partners: [2, 500],
  concurrency: [1, 512],
  maxExchanges: [100, 5_000_000],
  chaosLoops: [0, 32],
  warmup: [0, 600],
  heapThreshold: [0, 1000],
  quota: [1, 1_000_000],
  tokenRefresh: [1, 3600],
  tradeRules: [0, 1],
  seed: [0, 2 ** 32 - 1],
};

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const envName = (s: string) => `SOAK_${kebab(s).replace(/-/g, "_").toUpperCase()}`;

function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): Options {
  const o: Options = { ...DEFAULTS, seed: Math.floor(Math.random() * 2 ** 32) };
  const flags = new Map<string, string>();
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (m === null) throw new Error(`unknown argument ${a}`);
    flags.set(m[1] as string, m[2] ?? "true");
  }
  const selfCheck = flags.get("self-check") ?? env.SOAK_SELF_CHECK;
  o.selfCheck = selfCheck === "true" || selfCheck === "1";
  flags.delete("self-check");
  o.dump = flags.get("dump") ?? env.SOAK_DUMP;
  flags.delete("dump");
  o.heapSnapshots = flags.get("heap-snapshots") ?? env.SOAK_HEAP_SNAPSHOTS;
  flags.delete("heap-snapshots");
  if (o.selfCheck) Object.assign(o, { duration: 20, partners: 6, concurrency: 6, warmup: 4 });
  for (const key of Object.keys(LIMITS) as (keyof typeof LIMITS)[]) {
    const raw = flags.get(kebab(key)) ?? env[envName(key)];
    flags.delete(kebab(key));
    if (raw === undefined || raw === "") continue;
    const n = Number(raw);
    const [min, max] = LIMITS[key];
    if (!Number.isFinite(n) || n < min || n > max)
      throw new Error(`--${kebab(key)} must be a number from ${min} to ${max}`);
    o[key] = key === "heapThreshold" ? n : Math.floor(n);
  }
  for (const f of flags.keys()) throw new Error(`unknown flag --${f}`);
  const warmupGiven = argv.some((a) => a.startsWith("--warmup=")) || env.SOAK_WARMUP !== undefined;
  if (!warmupGiven) o.warmup = Math.min(DEFAULTS.warmup, Math.floor(o.duration / 3));
  if (o.warmup >= o.duration) o.warmup = Math.floor(o.duration / 4);
  return o;
}

/** A small seeded generator (mulberry32): the choices of a run can be replayed with --seed. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const emit = (figure: Record<string, unknown>) => console.log(JSON.stringify(figure));

/**
 * The gateway logs JSON lines on stdout; the soak's figures are JSON lines
 * too. Its log lines go to stderr, counted by level and code.
 */
function divertGatewayLogs(): { errors: Record<string, number>; restore(): void } {
  const errors: Record<string, number> = {};
  const original = process.stdout.write.bind(process.stdout);
  const write = (chunk: unknown, ...rest: unknown[]) => {
    const text = typeof chunk === "string" ? chunk : String(chunk);
    if (!text.startsWith('{"bench":') && text.includes('"level":"')) {
      try {
        const line = JSON.parse(text) as { level?: string; code?: string };
        if (line.level === "error") {
          const code = line.code ?? "unknown";
          errors[code] = (errors[code] ?? 0) + 1;
        }
      } catch {
        // not one line of JSON: passed on as it is
      }
      return (process.stderr.write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }
    return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
  };
  process.stdout.write = write as typeof process.stdout.write;
  return {
    errors,
    restore: () => {
      process.stdout.write = original;
    },
  };
}

async function flowsUntilSettled(
  target: LoadTarget,
  world: SoakWorld,
  expected: ReturnType<typeof expectedFlows>,
  window: { from: string; to: string },
): Promise<{ rows: FlowRow[]; waitedMs: number }> {
  const started = Date.now();
  const query = `from=${encodeURIComponent(window.from)}&to=${encodeURIComponent(window.to)}`;
  for (;;) {
    await target.refreshAdminTokens();
    const body = await target.finance.expect<{ items: FlowRow[] }>(
      200,
      "GET",
      `/metrics/flows?${query}&granularity=total&groupBy=agreement`,
    );
    const byId = new Map<string, number>();
    for (const r of body.items)
      if (r.agreement !== undefined)
        byId.set(r.agreement, (byId.get(r.agreement) ?? 0) + r.requests);
    const settled = world.agreements.every(
      (a) => (byId.get(a.id) ?? 0) === (expected.get(a.id)?.requests ?? 0),
    );
    // The contract gives 5 s for an exchange to show; 10 s before concluding.
    if (settled || Date.now() - started > 10_000)
      return { rows: body.items, waitedMs: Date.now() - started };
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface Injections {
  /** Schedules the self-check's faults; returns a function that removes them. */
  arm(at: number): () => void;
  readonly exclude: ReadonlySet<string>;
}

/** The self-check's violations, one per check, each of which the checks must catch. */
function injections(target: LoadTarget, world: SoakWorld, chaos: () => Chaos): Injections {
  const victim = world.partners[world.flakyProvider === 0 ? 1 : 0];
  if (victim === undefined) throw new Error("no partner to inject a phantom suspension for");
  const exclude = new Set([`partner:${victim.id}`]);
  return {
    exclude,
    arm: (at) => {
      const timers: NodeJS.Timeout[] = [];
      const leak: number[][] = [];
      const gw = target.local.gateway as { transport: UpstreamTransport };
      const transport = gw.transport;
      timers.push(
        setTimeout(() => {
          // (a) a suspension the chaos "recorded" but never sent: its exchanges are served.
          const now = performance.now();
          chaos().changes.push(
            {
              entity: `partner:${victim.id}`,
              op: "phantom-suspend",
              direction: "down",
              sentAt: now,
              answeredAt: now,
              status: 200,
              code: "",
              to: "suspended",
              phantom: true,
            },
            {
              entity: `partner:${victim.id}`,
              op: "phantom-resume",
              direction: "up",
              sentAt: now + 4000,
              answeredAt: now + 4000,
              status: 200,
              code: "",
              to: "active",
              phantom: true,
            },
          );
          // (c) a transport that throws now and then: the gateway answers 500.
          let calls = 0;
          gw.transport = (req) => {
            if (++calls % 25 === 0) throw new Error("self-check: injected fault");
            return transport(req);
          };
        }, at),
      );
      // (b) one exchange metered that nobody was served.
      const meterUnserved = async () => {
        // An agreement without quotas, so that nothing can refuse the metering.
        const a = world.agreements.find((x) => Object.keys(x.quota).length === 0);
        const stored =
          a === undefined ? undefined : await target.local.gateway.registry.getAgreement(a.id);
        const agreement = stored?.value as Agreement | undefined;
        if (agreement === undefined) throw new Error("no agreement without quotas");
        // The chaos may have a party or the agreement down right now: try again.
        for (let attempt = 0; ; attempt++) {
          const outcome = await target.local.gateway.meter.meter({
            agreement,
            action: "read",
            requestKey: "self-check",
            records: 5,
            bytes: 100,
            now: new Date(),
          });
          if (outcome.kind === "metered") return;
          if (attempt >= 50) throw new Error(`the meter answered ${outcome.kind}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      timers.push(
        setTimeout(() => {
          meterUnserved().catch((err: unknown) =>
            process.stderr.write(`self-check: the unserved metering failed: ${String(err)}\n`),
          );
        }, at),
      );
      // (d) a heap that keeps growing (about 16 MB a minute).
      const leaking = setInterval(() => leak.push(new Array(32_768).fill(leak.length)), 1000);
      return () => {
        for (const t of timers) clearTimeout(t);
        clearInterval(leaking);
        gw.transport = transport;
        leak.length = 0;
      };
    },
  };
}

async function soak(o: Options): Promise<CheckResult[]> {
  const random = seeded(o.seed);
  const logs = divertGatewayLogs();
  const stops: (() => Promise<unknown> | unknown)[] = [() => logs.restore()];
  try {
    const setupStarted = Date.now();
    const target = await startLoadTarget();
    stops.push(() => target.stop());
    const world = await buildWorld(target, {
      partners: o.partners,
      quota: o.quota,
      tradeRules: o.tradeRules === 1,
      random,
    });
    stops.push(() => world.close());
    const log = new ExchangeLog(o.maxExchanges);
    const driver = new SoakDriver(world, log, {
      base: target.base,
      concurrency: o.concurrency,
      tokenRefreshMs: o.tokenRefresh * 1000,
      random,
    });
    stops.push(() => driver.close());
    let chaos: Chaos | undefined;
    const inject = o.selfCheck
      ? injections(target, world, () => chaos as Chaos)
      : { exclude: new Set<string>(), arm: () => () => undefined };
    chaos = new Chaos(world, {
      base: target.base,
      agent: target.adminAgent,
      operator: target.operator,
      loops: o.chaosLoops,
      random,
      exclude: inject.exclude,
    });
    await driver.prime();
    emit({
      bench: "soak.setup",
      seed: o.seed,
      durationS: o.duration,
      warmupS: o.warmup,
      partners: world.partners.length,
      agreements: world.agreements.length,
      concurrency: o.concurrency,
      chaosLoops: o.chaosLoops,
      maxExchanges: o.maxExchanges,
      recordsPerRead: world.recordsPerRead,
      tradeRules: o.tradeRules === 1 ? "set" : "never set",
      gc: forcedGc().how,
      selfCheck: o.selfCheck,
      setupS: Number(((Date.now() - setupStarted) / 1000).toFixed(1)),
      store: "DynamoDB Local, in memory",
    });
    const runFrom = new Date(Date.now() - 60_000);
    const origin = performance.now();
    const until = origin + o.duration * 1000;
    const disarm = inject.arm((o.duration * 1000) / 3);
    stops.push(disarm);
    const heap = sampleHeap(origin, 1000, o.warmup * 1000);
    const snapshots = o.heapSnapshots;
    const snapshotTimer =
      snapshots === undefined
        ? undefined
        : setTimeout(
            () => writeHeapSnapshot(join(snapshots, "after-warmup.heapsnapshot")),
            o.warmup * 1000,
          );
    await Promise.all([driver.run(until), chaos.run(until - 1000)]);
    clearTimeout(snapshotTimer);
    if (snapshots !== undefined) writeHeapSnapshot(join(snapshots, "end.heapsnapshot"));
    const elapsed = (performance.now() - origin) / 1000;
    const samples = heap.stop();
    disarm();

    const expected = expectedFlows(log, world);
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const window = { from: runFrom.toISOString(), to };
    const { rows, waitedMs } = await flowsUntilSettled(target, world, expected, window);
    const reconcile = await target.finance.expect<Reconcile>(
      200,
      "GET",
      `/metrics/reconcile?from=${encodeURIComponent(window.from)}&to=${encodeURIComponent(to)}`,
    );
    const sameUtcDay = runFrom.toISOString().slice(0, 10) === new Date().toISOString().slice(0, 10);

    const figures = throughput(log, elapsed);
    emit({
      bench: "soak.throughput",
      ...figures,
      tokenRequests: countKind(log, Kind.token),
      logFull: log.full,
      backendFailuresInjected: world.upstreamFailures(),
      metricsSettledAfterMs: waitedMs,
    });
    const revocation = checkRevocation(log, world, chaos.changes, origin);
    const counts = checkCounts(world, expected, rows, reconcile, { sameUtcDay });
    const results = [
      revocation,
      counts,
      checkAnswers(log, world, chaos.changes, chaos.rotations, {
        chaosFailures: chaos.failures,
        gatewayErrorLogs: logs.errors,
      }),
      checkMemory(samples, o.heapThreshold, forcedGc().how, Number(figures.servedPerSecond)),
      checkCoverage(log, revocation, counts, chaos.changes),
    ];
    for (const r of results)
      emit({
        bench: `soak.check.${r.check}`,
        pass: r.pass,
        ...r.figures,
        violations: r.violations,
      });
    if (o.dump !== undefined) await dump(o.dump, log, world, chaos, origin, samples);
    return results;
  } finally {
    for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => undefined);
  }
}

async function dump(
  path: string,
  log: ExchangeLog,
  world: SoakWorld,
  chaos: Chaos,
  origin: number,
  samples: readonly HeapSample[],
): Promise<void> {
  const ms = (t: number) => Number((t - origin).toFixed(3));
  const requests = Array.from({ length: log.n }, (_, i) => ({
    kind: ["read", "deliver", "token"][log.kind[i] as number],
    agreement: world.agreements[log.agreement[i] as number]?.id,
    caller: world.partners[log.caller[i] as number]?.id,
    start: ms(log.start[i] as number),
    end: ms(log.end[i] as number),
    status: log.status[i],
    code: log.codeOf(i),
    group: log.group[i],
    records: log.records[i],
  }));
  const changes = chaos.changes.map((c) => ({
    ...c,
    sentAt: ms(c.sentAt),
    answeredAt: ms(c.answeredAt),
  }));
  await writeFile(
    path,
    JSON.stringify(
      { partners: world.partners.map((p) => p.id), changes, requests, heap: samples },
      null,
      1,
    ),
  );
}

function countKind(log: ExchangeLog, kind: number): number {
  let n = 0;
  for (let i = 0; i < log.n; i++) if (log.kind[i] === kind) n++;
  return n;
}

async function main(): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const o = parseOptions(process.argv.slice(2), process.env);
  // Bounded in time whatever happens: setup, the run, the checks and cleanup.
  const watchdog = setTimeout(
    () => {
      emit({ bench: "soak.verdict", pass: false, failed: ["watchdog"], exitCode: 2 });
      process.exit(2);
    },
    (o.duration + 240) * 1000,
  );
  watchdog.unref();
  const results = await soak(o);
  const failed = results.filter((r) => !r.pass).map((r) => r.check);
  if (o.selfCheck) {
    const mustCatch = ["revocation", "counts", "answers", "memory"];
    const missed = mustCatch.filter((c) => !failed.includes(c));
    emit({
      bench: "soak.verdict",
      selfCheck: true,
      pass: missed.length === 0,
      detected: mustCatch.filter((c) => failed.includes(c)),
      missed,
      exitCode: missed.length === 0 ? 0 : 1,
    });
    return missed.length === 0 ? 0 : 1;
  }
  emit({
    bench: "soak.verdict",
    pass: failed.length === 0,
    failed,
    exitCode: failed.length === 0 ? 0 : 1,
  });
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Sockets or timers left by a failed cleanup must not keep the soak alive.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (err: unknown) => {
    emit({
      bench: "soak.verdict",
      pass: false,
      error: err instanceof Error ? err.message : String(err),
      exitCode: 1,
    });
    process.exit(1);
  },
);
