/**
 * The streaming guard on NDJSON telemetry, against a plain streaming baseline
 * in the same process: split lines + `JSON.parse` + `JSON.stringify` of each
 * line (decoding the bytes and encoding the output alike). Bodies are made on
 * the fly in 64 KiB chunks, cycling through 8 MiB of generated records, never
 * stored. Each size runs in a fresh Node process, so its peak RSS growth (over
 * the process's RSS once the record pool is built) is its own. Throughput is
 * in CPU time of the process (best of two passes each), as the machine is
 * shared; `wallRatio` is the same ratio in wall time.
 * Goals: throughput ratio guard / baseline ≤ 1.0; RSS growth < 128 MiB and
 * flat in size (the `guard-stream-1gib` suite prints 100 MiB and 1 GiB).
 *
 *   npm run bench -- guard-stream          # 100 MiB
 *   npm run bench -- guard-stream-1gib     # 100 MiB and 1 GiB
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { openGuardStream } from "../policies/guard/index.ts";
import { prng, telemetryPlan, telemetryRecord } from "./guard.ts";
import { emit, round } from "./stats.ts";

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
const POOL = 8 * MiB;

/** 8 MiB of NDJSON telemetry (big integers, personal fields, nested trips), cut into 64 KiB chunks. */
function chunkPool(): Uint8Array[] {
  const rand = prng(42);
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < POOL; i++) {
    const line = `${JSON.stringify(telemetryRecord(rand, i)).replace('"counter":0', `"counter":${9007199254740993n + BigInt(i)}`)}\n`;
    lines.push(line);
    size += line.length;
  }
  const bytes = new TextEncoder().encode(lines.join(""));
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += CHUNK) chunks.push(bytes.subarray(at, at + CHUNK));
  return chunks;
}

/** Calls `each` with chunks cycling through the whole pool until at least `total` bytes were handed out. */
function feed(
  pool: readonly Uint8Array[],
  total: number,
  each: (chunk: Uint8Array) => void,
): number {
  let sent = 0;
  while (sent < total) {
    for (const chunk of pool) {
      each(chunk);
      sent += chunk.length;
    }
  }
  return sent;
}

interface Pass {
  inBytes: number;
  /** CPU seconds of the process (user + system): other work on the machine weighs less on it than on wall time. */
  seconds: number;
  wallSeconds: number;
  outBytes: number;
  records: number;
  peakRssGrowth: number;
}

/** Runs `body` over `total` bytes, sampling RSS every 16 chunks. */
function pass(
  pool: readonly Uint8Array[],
  total: number,
  body: (chunk: Uint8Array) => number,
  end: () => number,
): Omit<Pass, "records"> {
  const start = process.memoryUsage.rss();
  let peak = start;
  let outBytes = 0;
  let n = 0;
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const inBytes = feed(pool, total, (chunk) => {
    outBytes += body(chunk);
    if ((++n & 15) === 0) peak = Math.max(peak, process.memoryUsage.rss());
  });
  outBytes += end();
  const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const seconds = (cpu.user + cpu.system) / 1e6;
  peak = Math.max(peak, process.memoryUsage.rss());
  return { inBytes, seconds, wallSeconds, outBytes, peakRssGrowth: peak - start };
}

function guardPass(pool: readonly Uint8Array[], total: number): Pass {
  const plan = telemetryPlan();
  const s = openGuardStream(plan, "ndjson");
  const encoder = new TextEncoder();
  let records = 0;
  const r = pass(
    pool,
    total,
    (chunk) => {
      const w = s.write(chunk);
      if (!w.ok) throw new Error(`the guard refused the bench body: ${JSON.stringify(w)}`);
      return encoder.encode(w.text).length;
    },
    () => {
      const e = s.end();
      if (!e.ok) throw new Error(`the guard refused the bench body: ${JSON.stringify(e)}`);
      records = e.records;
      return encoder.encode(e.text).length;
    },
  );
  return { ...r, records };
}

/** What a plain streaming pipeline does: decode, split lines, parse and print each, encode. */
function baselinePass(pool: readonly Uint8Array[], total: number): Pass {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const encoder = new TextEncoder();
  let rest = "";
  let records = 0;
  const lines = (text: string, last: boolean): number => {
    const all = rest + text;
    const out: string[] = [];
    let from = 0;
    for (let nl = all.indexOf("\n"); nl >= 0; nl = all.indexOf("\n", from)) {
      out.push(JSON.stringify(JSON.parse(all.slice(from, nl))));
      from = nl + 1;
    }
    rest = all.slice(from);
    if (last && rest.trim() !== "") out.push(JSON.stringify(JSON.parse(rest)));
    records += out.length;
    return out.length === 0 ? 0 : encoder.encode(`${out.join("\n")}\n`).length;
  };
  const r = pass(
    pool,
    total,
    (chunk) => lines(decoder.decode(chunk, { stream: true }), false),
    () => lines(decoder.decode(), true),
  );
  return { ...r, records };
}

/**
 * In a child process: one size. The first guard pass runs cold, right after
 * the pool was built and garbage collected: its RSS growth is all the guard
 * needs. Then baseline, guard, baseline, for throughput (best of two each).
 */
function measure(total: number): void {
  const pool = chunkPool();
  (globalThis as { gc?: () => void }).gc?.();
  const cold = guardPass(pool, total);
  const baseline = [baselinePass(pool, total)];
  const guard = [cold, guardPass(pool, total)];
  baseline.push(baselinePass(pool, total));
  const best = (passes: Pass[], key: "seconds" | "wallSeconds") =>
    Math.min(...passes.map((p) => p[key]));
  const guardSeconds = best(guard, "seconds");
  const baselineSeconds = best(baseline, "seconds");
  const mbps = (s: number) => round(cold.inBytes / MiB / s, 1);
  emit({
    bench: "guard.stream.ndjson",
    inMiB: round(cold.inBytes / MiB, 1),
    chunkKiB: CHUNK / 1024,
    records: cold.records,
    outMiB: round(cold.outBytes / MiB, 1),
    guardMiBps: mbps(guardSeconds),
    baselineMiBps: mbps(baselineSeconds),
    ratio: round(guardSeconds / baselineSeconds, 3),
    wallRatio: round(best(guard, "wallSeconds") / best(baseline, "wallSeconds"), 3),
    guardPeakRssGrowthMiB: round(cold.peakRssGrowth / MiB, 1),
    baselinePeakRssGrowthMiB: round(Math.max(...baseline.map((p) => p.peakRssGrowth)) / MiB, 1),
  });
}

/** Runs each size in a fresh process and prints its line. */
export function runSizes(sizesMiB: readonly number[]): void {
  const self = fileURLToPath(import.meta.url);
  for (const size of sizesMiB) {
    const out = execFileSync(
      process.execPath,
      ["--expose-gc", "--import", "tsx", self, String(size)],
      {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    process.stdout.write(out);
  }
}

export async function run(): Promise<void> {
  runSizes([100]);
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] !== undefined) {
  measure(Number(process.argv[2]) * MiB);
}
