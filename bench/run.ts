/**
 * `npm run bench [-- name ...]`: every benchmark, one JSON line per figure on
 * stdout. Figures vary with the machine: compare ratios and medians within
 * one run, not absolute numbers across machines.
 */
import { cpus, totalmem } from "node:os";

const SUITES = [
  "decide",
  "markers",
  "guard",
  "guard-stream",
  "tokens",
  "issuance",
  "exchange",
  "metering",
  "e2e",
  "lambda",
] as const;

/** Suites too long for the default run, run only when named. */
const NAMED_ONLY = ["guard-stream-1gib", "finance", "cost"] as const;

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const suites =
    wanted.length === 0 ? SUITES : [...SUITES, ...NAMED_ONLY].filter((s) => wanted.includes(s));
  console.log(
    JSON.stringify({
      bench: "machine",
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "unknown",
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      at: new Date().toISOString(),
    }),
  );
  for (const suite of suites) {
    const mod = (await import(`./${suite}.ts`)) as { run(): Promise<void> };
    try {
      await mod.run();
    } catch (err) {
      console.log(
        JSON.stringify({ bench: suite, error: err instanceof Error ? err.message : String(err) }),
      );
      process.exitCode = 1;
    }
  }
}

await main();
