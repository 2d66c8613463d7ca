/**
 * Guard cost against the bare `JSON.stringify(JSON.parse(body))` of the same
 * body, for realistic telemetry bodies of about 8 KB, 80 KB and 800 KB. One JSON
 * line per figure; medians in microseconds. Goal: ratio ≤ 1.0.
 *
 *   npx tsx -e "import('./bench/guard.ts').then(m=>m.run())"
 */
import { compileGuardPlan, type GuardPlan, guardPayload } from "../policies/guard/index.ts";
import { compileMarkers } from "../policies/markers/index.ts";

const MARKERS = ["CAL-[0-9]{6}", "SECRET-[A-Z]{4}", "FWX-[0-9a-f]{8}"];

const CLASSES = {
  vin: "shared",
  mileage: "shared",
  odometer: "shared",
  "speed.avg": "shared",
  "speed.max": "shared",
  "engine.calibration": "core",
  "engine.rpm": "core",
  "driver.name": "personal",
  "driver.licence": "personal",
  location: "shared",
  "trips.km": "shared",
  "trips.start": "shared",
  counter: "shared",
} as const;

const GRANTED = ["vin", "mileage", "speed.avg", "driver.name", "location", "trips.km", "counter"];

/** A deterministic pseudo-random sequence, so every run measures the same bodies. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const DRIVERS = ["Alice Lindqvist", "Bertil Ek", "Chloé Martin", "Dieter Maier", "Eva Nilsen"];

export function telemetryRecord(rand: () => number, i: number): unknown {
  const trips = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => ({
    km: Math.round(rand() * 100000) / 100,
    start: `2026-03-0${1 + Math.floor(rand() * 9)}T0${Math.floor(rand() * 10)}:15:00Z`,
    fuel: Math.round(rand() * 1000) / 10,
  }));
  return {
    vin: `WVWZZZ1JZ3W${String(100000 + i).padStart(6, "0")}`,
    ts: `2026-03-01T12:${String(i % 60).padStart(2, "0")}:56.789Z`,
    mileage: Math.floor(rand() * 300000),
    odometer: Math.round(rand() * 3e7) / 100,
    speed: { avg: Math.round(rand() * 12000) / 100, max: Math.round(rand() * 20000) / 100 },
    engine: { calibration: `CAL-${String(Math.floor(rand() * 1e6)).padStart(6, "0")}`, rpm: 2800 },
    driver: { name: DRIVERS[i % DRIVERS.length], licence: `S${Math.floor(rand() * 1e7)}` },
    location: { lat: 59 + rand(), lon: 18 + rand(), accuracy: Math.round(rand() * 50) },
    trips,
    firmware: "v2.3.1",
    counter: 0, // replaced below by a big integer a double cannot hold
  };
}

/** A body of at least `bytes` characters: `{ "meta": ..., "items": [records] }`, with big integers. */
export function telemetryBody(bytes: number): string {
  const rand = prng(bytes);
  const items: unknown[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const text = JSON.stringify(telemetryRecord(rand, i)).replace(
      '"counter":0',
      `"counter":${9007199254740993n + BigInt(i)}`,
    );
    items.push(text);
    size += text.length + 1;
  }
  const text = `{"meta":{"source":"fleetco","page":1},"items":[${items.join(",")}]}`;
  // As the gateway gets it: decoded from the body's bytes, one flat string.
  return new TextDecoder("utf-8", { fatal: true }).decode(new TextEncoder().encode(text));
}

export function telemetryPlan(): GuardPlan {
  const compiled = compileMarkers(MARKERS);
  if (!compiled.ok) throw new Error("bench markers do not compile");
  return compileGuardPlan({
    classes: CLASSES,
    granted: GRANTED,
    pseudonymize: ["driver.name"],
    recordsAt: "items",
    markers: compiled.matcher,
    onMarker: "redact",
    pseudonymKey: new Uint8Array(32).fill(7),
  });
}

const micros = (fn: () => unknown): number => {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1000;
};

const median = (xs: number[]): number => xs.sort((a, b) => a - b)[xs.length >> 1] as number;

/**
 * Median µs of the guard and of the bare parse+stringify, alternating one run
 * of each so that whatever else the machine does weighs on both alike.
 */
function compare(body: string, plan: GuardPlan, iterations: number): [number, number] {
  const guard = () => {
    const r = guardPayload(plan, body, "json");
    if (!r.ok) throw new Error(`guard refused the bench body: ${r.reason}`);
    return r.body;
  };
  const bare = () => JSON.stringify(JSON.parse(body));
  for (let i = 0; i < Math.max(50, iterations / 4); i++) {
    guard();
    bare();
  }
  const guardRuns: number[] = [];
  const bareRuns: number[] = [];
  for (let i = 0; i < iterations; i++) {
    if (i % 2 === 0) {
      guardRuns.push(micros(guard));
      bareRuns.push(micros(bare));
    } else {
      bareRuns.push(micros(bare));
      guardRuns.push(micros(guard));
    }
  }
  return [median(guardRuns), median(bareRuns)];
}

export async function run(): Promise<void> {
  const plan = telemetryPlan();
  for (const [label, bytes, iterations] of [
    ["8KB", 8 * 1024, 4000],
    ["80KB", 80 * 1024, 1000],
    ["800KB", 800 * 1024, 200],
  ] as const) {
    const body = telemetryBody(bytes);
    const [guardUs, bareUs] = compare(body, plan, iterations);
    const out = guardPayload(plan, body, "json");
    console.log(
      JSON.stringify({
        bench: "guard.json",
        body: label,
        bytes: body.length,
        records: out.ok ? out.records : 0,
        outBytes: out.ok ? out.body.length : 0,
        guardMedianUs: Math.round(guardUs * 10) / 10,
        parseStringifyMedianUs: Math.round(bareUs * 10) / 10,
        ratio: Math.round((guardUs / bareUs) * 1000) / 1000,
      }),
    );
  }
}
