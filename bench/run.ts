/**
 * `npm run bench [-- name ...]`: every benchmark, one JSON line per figure on
 * stdout. Figures vary with the machine: compare ratios and medians within
 * one run, not absolute numbers across machines.
 *
 * `npm run bench:record` (`-- --record`) also appends the run's lines, the
 * machine line first, to docs/perf/bench.jsonl; `npm run bench:table`
 * rewrites README's Performance table from the last run recorded there.
 */
import { appendFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";

const RECORD_FILE = join(import.meta.dirname, "..", "docs", "perf", "bench.jsonl");

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
  // About 40 s: 300 MiB end to end through a large transfer, next to curl.
  "transfer",
] as const;

/** Suites too long for the default run, run only when named. */
const NAMED_ONLY = ["guard-stream-1gib", "finance", "cost"] as const;

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const suites =
    wanted.length === 0 ? SUITES : [...SUITES, ...NAMED_ONLY].filter((s) => wanted.includes(s));
  const recorded: string[] = [];
  if (process.argv.includes("--record")) {
    // Every figure line printed, whichever way a suite prints it (some relay a child's output).
    const write = process.stdout.write.bind(process.stdout);
    let partial = "";
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      const lines = (partial + chunk.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (line.startsWith('{"bench":')) recorded.push(line);
      return write(chunk, ...rest);
    }) as typeof process.stdout.write;
  }
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
  if (recorded.length > 0) {
    await appendFile(RECORD_FILE, `${recorded.join("\n")}\n`);
    process.stderr.write(`recorded ${recorded.length} lines in ${RECORD_FILE}\n`);
  }
}

await main();
