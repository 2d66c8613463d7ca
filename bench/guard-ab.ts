/**
 * A/B of two guard implementations in one process, for a change to the guard:
 * this tree's `policies/` (B) against another copy's (A, `GUARD_BASE`, e.g.
 * `git archive main policies | tar -x -C /tmp/guard-base`). Runs A, B and the
 * bare `JSON.stringify(JSON.parse(body))` interleaved, so machine noise hits
 * all three alike; prints each one's median µs and ratio to parse+print, and
 * bytes allocated per call (heap growth over a few calls with no GC between,
 * which needs `--expose-gc`; checked by a GC observer, else reported null).
 *
 *   node --expose-gc --min-semi-space-size=64 --max-semi-space-size=64 --import tsx bench/guard-ab.ts
 *
 * AB_SCALE multiplies the number of runs (default 1); AB_ONLY=<text> runs
 * only the bodies whose label holds it ("exchange", "8KB").
 *
 * Bodies: the guard suite's telemetry at 8, 80 and 800 KB (bench/guard.ts),
 * and the exchange's 8 KB body under the demo agreement's plan
 * (bench/fixtures.ts), which is what an exchange guards.
 */
import { PerformanceObserver } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { getHeapStatistics } from "node:v8";
import { DEMO_DATASET, DEMO_READ_AGREEMENT } from "../policies/demo/ecosystem.ts";
import { telemetryBody as exchangeBody } from "./fixtures.ts";
import { telemetryBody, telemetryPlan } from "./guard.ts";

type GuardModule = typeof import("../policies/guard/index.ts");
type MarkersModule = typeof import("../policies/markers/index.ts");

interface Impl {
  readonly name: string;
  readonly guard: GuardModule;
  readonly markers: MarkersModule;
}

async function load(name: string, root: string): Promise<Impl> {
  const at = (p: string) => pathToFileURL(`${root}/policies/${p}`).href;
  return {
    name,
    guard: (await import(at("guard/index.ts"))) as GuardModule,
    markers: (await import(at("markers/index.ts"))) as MarkersModule,
  };
}

/** The guard suite's plan (bench/guard.ts), compiled by `impl`. */
function suitePlan(impl: Impl) {
  // telemetryPlan compiles with this tree's modules; recompile its input with impl's.
  const reference = telemetryPlan();
  const compiled = impl.markers.compileMarkers([
    "CAL-[0-9]{6}",
    "SECRET-[A-Z]{4}",
    "FWX-[0-9a-f]{8}",
  ]);
  if (!compiled.ok) throw new Error("markers do not compile");
  const f = reference.fields;
  return impl.guard.compileGuardPlan({
    classes: f.classes,
    granted: f.granted,
    pseudonymize: f.pseudonymize ?? [],
    recordsAt: "items",
    markers: compiled.matcher,
    onMarker: "redact",
    pseudonymKey: new Uint8Array(32).fill(7),
  });
}

/** The demo read agreement's plan, as functions/exchange/plans.ts compiles it. */
function exchangePlan(impl: Impl) {
  const compiled = impl.markers.compileMarkers(DEMO_DATASET.coreMarkers);
  if (!compiled.ok) throw new Error("markers do not compile");
  return impl.guard.compileGuardPlan({
    classes: DEMO_DATASET.fields,
    granted: DEMO_READ_AGREEMENT.fields,
    pseudonymize: DEMO_READ_AGREEMENT.pseudonymize,
    recordsAt: DEMO_DATASET.recordsAt,
    markers: compiled.matcher,
    onMarker: DEMO_DATASET.onMarker,
    pseudonymKey: new Uint8Array(32).fill(7),
  });
}

const micros = (fn: () => unknown): number => {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1000;
};

const median = (xs: number[]): number => xs.sort((a, b) => a - b)[xs.length >> 1] as number;
const p99 = (xs: number[]): number =>
  xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.99) - 1)] as number;

let gcs = 0;
new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
}).observe({ entryTypes: ["gc"] });

const gc = (globalThis as { gc?: () => void }).gc;

/** Bytes allocated per call of `fn`: heap growth over `calls` calls with no GC between (median of tries). */
async function allocated(fn: () => unknown, calls: number): Promise<number | null> {
  if (gc === undefined) return null;
  const per: number[] = [];
  for (let attempt = 0; attempt < 15 && per.length < 5; attempt++) {
    gc();
    await new Promise((r) => setTimeout(r, 5)); // let the observer count the forced GC
    const before = gcs;
    const used = getHeapStatistics().used_heap_size;
    for (let i = 0; i < calls; i++) fn();
    const grown = getHeapStatistics().used_heap_size - used;
    await new Promise((r) => setTimeout(r, 5));
    if (gcs === before) per.push(grown / calls);
  }
  return per.length === 0 ? null : Math.round(median(per));
}

async function main(): Promise<void> {
  const base = process.env.GUARD_BASE;
  const scale = Number(process.env.AB_SCALE ?? 1);
  const impls: Impl[] = [];
  if (base !== undefined) impls.push(await load("A", base));
  impls.push(await load("B", `${import.meta.dirname}/..`));
  const cases = [
    { label: "suite 8KB", body: telemetryBody(8 * 1024), plan: suitePlan, n: 3000 * scale },
    { label: "suite 80KB", body: telemetryBody(80 * 1024), plan: suitePlan, n: 400 * scale },
    { label: "suite 800KB", body: telemetryBody(800 * 1024), plan: suitePlan, n: 40 * scale },
    { label: "exchange 8KB", body: exchangeBody(8 * 1024), plan: exchangePlan, n: 3000 * scale },
  ];
  const only = process.env.AB_ONLY;
  for (const c of cases.filter((x) => only === undefined || x.label.includes(only))) {
    const runs = impls.map((impl) => {
      const plan = c.plan(impl);
      return () => {
        const r = impl.guard.guardPayload(plan, c.body, "json");
        if (!r.ok) throw new Error(`${impl.name} refused the body: ${JSON.stringify(r)}`);
        return r.body;
      };
    });
    const outs = runs.map((run) => run());
    if (outs.some((o) => o !== outs[0])) throw new Error(`${c.label}: A and B cut differently`);
    const bare = () => JSON.stringify(JSON.parse(c.body));
    const all = [...runs, bare];
    for (let i = 0; i < Math.max(100, c.n / 2); i++) for (const fn of all) fn();
    const times = all.map(() => [] as number[]);
    for (let i = 0; i < c.n; i++) {
      // Rotate the order so that none always runs right after another's garbage.
      for (let k = 0; k < all.length; k++) {
        const j = (i + k) % all.length;
        times[j]?.push(micros(all[j] as () => unknown));
      }
    }
    const bareMedian = median(times[all.length - 1] as number[]);
    const calls = Math.max(2, Math.floor(1e6 / c.body.length));
    const figures: Record<string, unknown> = {
      bench: "guard.ab",
      body: c.label,
      bytes: c.body.length,
      bareMedianUs: Math.round(bareMedian * 10) / 10,
    };
    for (const [k, impl] of impls.entries()) {
      const ts = times[k] as number[];
      figures[`${impl.name}MedianUs`] = Math.round(median(ts) * 10) / 10;
      figures[`${impl.name}Ratio`] = Math.round((median(ts) / bareMedian) * 1000) / 1000;
      figures[`${impl.name}P99OverMedian`] = Math.round((p99(ts) / median(ts)) * 100) / 100;
      figures[`${impl.name}BytesPerCall`] = await allocated(runs[k] as () => unknown, calls);
    }
    figures.bareBytesPerCall = await allocated(bare, calls);
    console.log(JSON.stringify(figures));
  }
}

await main();
