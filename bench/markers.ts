/**
 * Core-marker matching: compile time, firstMatch on short and long values
 * (no match, so the whole value is scanned: the common and the worst case),
 * and native RegExp on the same inputs for comparison. One JSON line per
 * figure. Run alone: npx tsx -e "import('./bench/markers.ts').then(m=>m.run())"
 */
import { compileMarkers, type MarkerMatcher } from "../policies/markers/index.ts";

const PATTERN_SETS: Readonly<Record<string, readonly string[]>> = {
  one: ["CAL-[0-9]{6}"],
  three: ["CAL-[0-9]{6}", "^SECRET-", "[A-Z]{2}\\d{4}-[a-f0-9]{8}"],
  eight: [
    "CAL-[0-9]{6}",
    "^SECRET-",
    "[A-Z]{2}\\d{4}-[a-f0-9]{8}",
    "(?:foo|bar)baz",
    "x{2,5}y",
    "(?:\\d{1,3}\\.){3}\\d{1,3}",
    "[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}",
    "sk_live_[0-9a-zA-Z]{24}",
  ],
};

const BATCHES = 21;
const TARGET_BATCH_NS = 5_000_000n;
const WARM_UP_NS = 300_000_000n;

let sink = 0;

/** Median nanoseconds per call of `fn`, over BATCHES batches of ~5 ms, after ~300 ms of warm-up. */
function measure(fn: () => number): number {
  let perBatch = 1;
  const warmUpEnd = process.hrtime.bigint() + WARM_UP_NS;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) sink += fn();
    const t1 = process.hrtime.bigint();
    if (t1 - t0 < TARGET_BATCH_NS && perBatch < 1 << 24) perBatch *= 2;
    else if (t1 >= warmUpEnd) break;
  }
  const samples: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) sink += fn();
    samples.push(Number(process.hrtime.bigint() - t0) / perBatch);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1] ?? 0;
}

/** ASCII text like the fields of a record, with near misses but no match. */
function sampleValue(chars: number): string {
  const words = ["vin", "WDB1234567", "CAL-12345", "mileage", "48213", "SECRE", "foo", "ba"];
  let out = "";
  for (let i = 0; out.length < chars; i++) out += `${words[i % words.length]} `;
  return flat(out.slice(0, chars));
}

/** A flat string, as JSON.parse hands values to the gateway (not a rope of concatenations). */
function flat(value: string): string {
  return JSON.parse(JSON.stringify(value)) as string;
}

function compiled(patterns: readonly string[]): MarkerMatcher {
  const result = compileMarkers(patterns);
  if (!result.ok) throw new Error(result.issues.map((i) => i.message).join("; "));
  return result.matcher;
}

function print(figure: Record<string, string | number>): void {
  console.log(JSON.stringify(figure));
}

function benchCompile(name: string, patterns: readonly string[]): void {
  const medianNs = measure(() => compiled(patterns).size);
  print({
    bench: "markers.compile",
    set: name,
    patterns: patterns.length,
    medianNs: Math.round(medianNs),
  });
}

function benchMatch(name: string, patterns: readonly string[], valueChars: number): void {
  const matcher = compiled(patterns);
  const regexes = patterns.map((p) => new RegExp(p));
  const value = sampleValue(valueChars);
  const figures = {
    "markers.firstMatch": measure(() => matcher.firstMatch(value)),
    "markers.native": measure(() => regexes.findIndex((r) => r.test(value))),
  };
  for (const [bench, ns] of Object.entries(figures)) {
    const mbPerS = valueChars / ns / 1e-3; // ASCII: one byte per char; chars/ns * 1e3 = MB/s
    print({
      bench,
      set: name,
      patterns: patterns.length,
      valueChars,
      medianNs: Math.round(ns),
      mbPerS: Math.round(mbPerS),
    });
  }
}

/** Inputs that make a backtracking engine quadratic although the pattern is accepted. */
function benchAdversarial(): void {
  const patterns = ["\\d+x", "a+b"];
  const matcher = compiled(patterns);
  const regexes = patterns.map((p) => new RegExp(p));
  for (const valueChars of [1_000, 10_000]) {
    const value = flat("1".repeat(valueChars));
    const figures = {
      "markers.firstMatch.adversarial": measure(() => matcher.firstMatch(value)),
      "markers.native.adversarial": measure(() => regexes.findIndex((r) => r.test(value))),
    };
    for (const [bench, ns] of Object.entries(figures)) {
      print({ bench, patterns: patterns.join(" "), valueChars, medianNs: Math.round(ns) });
    }
  }
}

export async function run(): Promise<void> {
  for (const [name, patterns] of Object.entries(PATTERN_SETS)) benchCompile(name, patterns);
  for (const [name, patterns] of Object.entries(PATTERN_SETS)) {
    for (const valueChars of [16, 64, 4096, 65_536]) benchMatch(name, patterns, valueChars);
  }
  benchAdversarial();
  if (sink === Number.MIN_SAFE_INTEGER) console.log(sink); // keeps results observable
}
