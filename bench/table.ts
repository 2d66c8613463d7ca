/**
 * `npm run bench:table`: README's Performance table, rewritten from the last
 * run recorded in docs/perf/bench.jsonl (`npm run bench:record`), between the
 * `perf-table` markers. Every figure next to its goal, ratios against the
 * same run's parse+print, and the anchors: `decide()` (about 1 µs) and
 * cedar-wasm's `statefulIsAuthorized` for the same decision (about 150-200 µs
 * in one process on this machine; not a dependency, quoted for scale).
 * A figure the run did not produce shows as "not in this run".
 *
 *   npm run bench:record && npm run bench:table
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..");
const RECORD = join(ROOT, "docs", "perf", "bench.jsonl");
const README = join(ROOT, "README.md");
const START = "<!-- perf-table:start (npm run bench:table) -->";
const END = "<!-- perf-table:end -->";

type Figure = Record<string, unknown>;
const num = (f: Figure | undefined, k: string): number | undefined =>
  typeof f?.[k] === "number" ? (f[k] as number) : undefined;
const fmt = (n: number | undefined, digits = 1): string =>
  n === undefined ? "?" : n.toFixed(digits).replace(/\.0+$/, "");
const tick = (met: boolean | undefined): string => (met === undefined ? "" : met ? " ✓" : " ✗");

/** The last recorded run: the lines from the last machine line on. */
export function lastRun(jsonl: string): Figure[] {
  const lines = jsonl
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Figure);
  const start = lines.map((l) => l.bench).lastIndexOf("machine");
  return start < 0 ? lines : lines.slice(start);
}

interface Row {
  readonly figure: string;
  /** The result and whether it meets the goal; undefined when the run lacks it. */
  readonly result: (run: Figure[]) => { text: string; met?: boolean } | undefined;
  readonly goal: string;
}

const find = (run: Figure[], bench: string, where: Figure = {}) =>
  run.find((f) => f.bench === bench && Object.entries(where).every(([k, v]) => f[k] === v));
const all = (run: Figure[], bench: string) => run.filter((f) => f.bench === bench);
const range = (xs: (number | undefined)[], digits = 0) => {
  const ns = xs.filter((x): x is number => x !== undefined);
  return ns.length === 0 ? "?" : `${fmt(Math.min(...ns), digits)}–${fmt(Math.max(...ns), digits)}`;
};

const ROWS: readonly Row[] = [
  {
    figure: "`decide()` for a typical agreement (anchor: about 1 µs)",
    result: (run) => {
      const f = find(run, "decide");
      const us = num(f, "medianUs");
      return us === undefined ? undefined : { text: `${fmt(us, 2)} µs`, met: us < 20 };
    },
    goal: "< 20 µs",
  },
  {
    figure: "payload guard vs bare parse+print, 8 / 80 / 800 KB JSON",
    result: (run) => {
      const gs = all(run, "guard.json");
      if (gs.length === 0) return undefined;
      const ratios = gs.map((g) => num(g, "ratio"));
      return {
        text: `ratio ${ratios.map((r) => fmt(r, 2)).join(" / ")}`,
        met: ratios.every((r) => r !== undefined && r <= 1),
      };
    },
    goal: "≤ 1.0",
  },
  {
    figure:
      "streaming guard on NDJSON vs streaming split + parse + print (CPU time); peak RSS growth",
    result: (run) => {
      const gs = all(run, "guard.stream.ndjson");
      if (gs.length === 0) return undefined;
      return {
        text: gs
          .map(
            (g) =>
              `${fmt(num(g, "inMiB"), 0)} MiB: ${fmt(num(g, "guardMiBps"))} MiB/s, ratio ${fmt(num(g, "ratio"), 2)}, RSS +${fmt(num(g, "guardPeakRssGrowthMiB"))} MiB`,
          )
          .join("; "),
        met: gs.every(
          (g) => (num(g, "ratio") ?? 2) <= 1 && (num(g, "guardPeakRssGrowthMiB") ?? 999) < 128,
        ),
      };
    },
    goal: "ratio ≤ 1.0, RSS < 128 MiB",
  },
  {
    figure: "access token verification: first use / cached",
    result: (run) => {
      const first = num(find(run, "tokens", { figure: "verify first-seen" }), "medianUs");
      const cached = num(find(run, "tokens", { figure: "verify cached" }), "medianUs");
      return first === undefined ? undefined : { text: `${fmt(first)} µs / ${fmt(cached, 2)} µs` };
    },
    goal: "",
  },
  {
    figure:
      "policy work of one exchange, 8 KB body, repeat token (token check, state, decision, guard, metering transaction); anchor: cedar-wasm `statefulIsAuthorized` alone takes about 150–200 µs for the decision",
    result: (run) => {
      const f = find(run, "exchange.policyWork", { token: "repeat" });
      const base = num(find(run, "exchange.baseline.parseAndPrint8KB"), "medianUs");
      const ratio = num(f, "ratioToParsePrint");
      if (f === undefined || ratio === undefined) return undefined;
      return {
        text: `${fmt(num(f, "medianUs"))} µs = ${fmt(ratio, 2)} × parse+print (${fmt(base)} µs)`,
        met: ratio <= 1.33,
      };
    },
    goal: "≤ 1.33 × parse+print",
  },
  {
    figure: "the same, tail: p99 / median",
    result: (run) => {
      const f = find(run, "exchange.policyWork", { token: "repeat" });
      const p99 = num(f, "p99Us");
      const median = num(f, "medianUs");
      if (p99 === undefined || median === undefined) return undefined;
      const gc =
        num(f, "gcDuringSamples") === undefined
          ? ""
          : `; ${num(f, "gcDuringSamples")} collections in the samples, ${fmt(num(f, "gcMs"))} ms`;
      return {
        text: `p99 ${fmt(p99)} µs = ${fmt(p99 / median, 1)} × median${gc}`,
        met: p99 <= 3 * median,
      };
    },
    goal: "p99 ≤ 3 × median",
  },
  {
    figure: "the same, token seen for the first time",
    result: (run) => {
      const f = find(run, "exchange.policyWork", { token: "first" });
      const ratio = num(f, "ratioToParsePrint");
      return ratio === undefined
        ? undefined
        : {
            text: `${fmt(num(f, "medianUs"))} µs = ${fmt(ratio, 2)} × parse+print`,
            met: ratio <= 4,
          };
    },
    goal: "≤ 4 × parse+print",
  },
  {
    figure: "DPoP added to the repeat-token policy work (interleaved A/B)",
    result: (run) => {
      const f = find(run, "exchange.dpopAdded");
      const added = num(f, "addedRatioToParsePrint");
      return added === undefined
        ? undefined
        : {
            text: `+${fmt(num(f, "addedMedianUs"))} µs = ${fmt(added, 2)} × parse+print; floor (one P-256 verify) ${fmt(num(f, "ecdsaP256VerifyMedianUs"))} µs`,
            met: added <= 2,
          };
    },
    goal: "≤ 2 × parse+print",
  },
  {
    figure: "DynamoDB round trips per exchange (in-process bench)",
    result: (run) => {
      const f = find(run, "exchange.dynamoCallsPerExchange");
      const reads = num(f, "readRoundTrips");
      const writes = num(f, "writeRoundTrips");
      return reads === undefined || writes === undefined
        ? undefined
        : {
            text: `${fmt(reads, 2)} read + ${fmt(writes, 2)} write`,
            met: reads <= 1 && writes <= 2,
          };
    },
    goal: "1 read, ≤ 2 writes",
  },
  {
    figure:
      "end to end through the local server vs the upstream directly, concurrency 1: added p50 / p99",
    result: (run) => {
      const f = find(run, "e2e.added", { concurrency: 1 });
      const p50 = num(f, "p50Ms");
      const p99 = num(f, "p99Ms");
      return p50 === undefined || p99 === undefined
        ? undefined
        : { text: `${fmt(p50)} ms / ${fmt(p99)} ms`, met: p50 < 3 && p99 < 10 };
    },
    goal: "3 ms / 10 ms",
  },
  {
    figure: "client-secret check, 64 in flight: scrypt (before) vs HMAC-SHA-256 + pepper",
    result: (run) => {
      const [before, after] = all(run, "issuance.secretCheck");
      if (before === undefined || after === undefined) return undefined;
      const b = num(before, "perSecond") ?? 0;
      const a = num(after, "perSecond") ?? 0;
      return {
        text: `${fmt(b)} vs ${fmt(a, 0)} checks/s (× ${fmt(a / Math.max(b, 1e-9), 0)})`,
        met: a >= 10 * b,
      };
    },
    goal: "≥ 10 ×",
  },
  {
    figure:
      "token issuance, 64 Lambda-like containers (one request at a time each, so no grouping), DynamoDB Local, 16 audit chains: bounded by DynamoDB Local, which runs transactions one at a time",
    result: (run) => {
      const f = all(run, "issuance.tokens").find((t) => String(t.layout).startsWith("16"));
      const perSecond = num(f, "perSecond");
      if (perSecond === undefined) return undefined;
      const calls = f?.storeCallsPerToken as Record<string, number> | undefined;
      const perToken = calls
        ? `; per token ${Object.entries(calls)
            .map(([k, v]) => `${fmt(v, 1)} ${k}`)
            .join(", ")}`
        : "";
      return {
        text: `${fmt(perSecond)} tokens/s, p50 ${fmt(num(f, "p50Ms"), 0)} ms${perToken}`,
      };
    },
    goal: "none (the next row is the goal's)",
  },
  {
    figure:
      "token issuance locally: one gateway process, 64 in flight, DynamoDB Local (issue baseline: about 38 tokens/s)",
    result: (run) => {
      const f = all(run, "issuance.local").find((t) => String(t.layout).startsWith("group"));
      const perSecond = num(f, "perSecond");
      if (perSecond === undefined) return undefined;
      return {
        text: `${fmt(perSecond)} tokens/s, p50 ${fmt(num(f, "p50Ms"), 0)} ms, ${fmt(num(f, "storeCallsTotalPerToken"), 2)} store calls per token`,
        met: perSecond >= 380,
      };
    },
    goal: "≥ 380 tokens/s (10 ×)",
  },
  {
    figure: "Lambda bundles (esbuild, the CDK app's options, AWS SDK bundled)",
    result: (run) => {
      const fs = all(run, "lambda.bundle");
      if (fs.length === 0) return undefined;
      const kbs = fs.map((f) => num(f, "kb"));
      return {
        text: `${range(kbs)} KB`,
        met: kbs.every((k) => k !== undefined && k < 1024),
      };
    },
    goal: "< 1 MB",
  },
  {
    figure: "Lambda module init: SDK bundled vs the runtime's copy (both measured in the run)",
    result: (run) => {
      const fs = all(run, "lambda.bundle");
      if (fs.length === 0 || !fs.every((f) => f.bundledSdk)) return undefined;
      const inits = fs.map((f) => num(f.bundledSdk as Figure, "initMs"));
      const runtime = fs.map((f) => num(f.runtimeSdk as Figure, "initMs"));
      return {
        text: `${range(inits)} ms vs ${range(runtime)} ms; with tracing on ${range(fs.map((f) => num(f, "initTracingOnMedianMs")))} ms`,
        met: inits.every((i) => i !== undefined && i < 80),
      };
    },
    goal: "< 80 ms",
  },
];

export function table(run: Figure[]): string {
  const machine = find(run, "machine");
  const lines = [
    START,
    "",
    `From the run recorded at ${String(machine?.at ?? "?")} (${String(machine?.cpus ?? "?")} × ${String(machine?.cpuModel ?? "?")}, Node ${String(machine?.node ?? "?")}) in [docs/perf/bench.jsonl](docs/perf/bench.jsonl).`,
    "",
    "| figure | result | goal |",
    "|---|---|---|",
    ...ROWS.map((row) => {
      const r = row.result(run);
      return `| ${row.figure} | ${r === undefined ? "not in this run" : r.text} | ${row.goal}${tick(r?.met)} |`;
    }),
    "",
    END,
  ];
  return lines.join("\n");
}

async function main(): Promise<void> {
  const run = lastRun(await readFile(RECORD, "utf8"));
  const readme = await readFile(README, "utf8");
  const from = readme.indexOf(START);
  const to = readme.indexOf(END);
  if (from < 0 || to < from) throw new Error(`README.md has no ${START} … ${END} block`);
  const next = readme.slice(0, from) + table(run) + readme.slice(to + END.length);
  await writeFile(README, next);
  process.stdout.write(`${table(run)}\n`);
}

if (process.argv[1] === import.meta.filename) await main();
