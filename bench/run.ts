/**
 * `npm run bench [-- name ...]`: every benchmark, one JSON line per figure on
 * stdout. Figures vary with the machine: compare ratios and medians within
 * one run, not absolute numbers across machines.
 *
 * `npm run bench:record` (`-- --record`) also appends the run's lines, the
 * machine line first, to docs/perf/bench.jsonl; `npm run bench:table`
 * rewrites README's Performance table from the last run recorded there.
 */
import { spawn } from "node:child_process";
import { appendFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";

const SELF = import.meta.filename;
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

/**
 * Runs one suite in a child process (the same Node and loader), relaying its
 * output: each suite starts with a fresh heap, so garbage or warm caches left
 * by an earlier suite do not move its figures.
 */
function runChild(suite: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, SELF, "--suite", suite], {
      stdio: ["ignore", "pipe", "inherit"],
      env: process.env,
    });
    // Through this process's stdout, so that --record sees every line.
    child.stdout.on("data", (chunk: Buffer) => process.stdout.write(chunk));
    child.on("exit", (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

async function runSuite(suite: string): Promise<void> {
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

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const own = process.argv.indexOf("--suite");
  if (own >= 0) {
    await runSuite(process.argv[own + 1] ?? "");
    // Suites may leave handles (servers, timers) they do not own the end of.
    process.exit();
  }
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const suites =
    wanted.length === 0 ? SUITES : [...SUITES, ...NAMED_ONLY].filter((s) => wanted.includes(s));
  const recorded: string[] = [];
  if (process.argv.includes("--record")) {
    // Every figure line printed, whichever way a suite prints it (the suites print from children).
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
    const code = await runChild(suite);
    if (code !== 0) {
      console.log(JSON.stringify({ bench: suite, error: `the suite exited with ${code}` }));
      process.exitCode = 1;
    }
  }
  if (recorded.length > 0) {
    await appendFile(RECORD_FILE, `${recorded.join("\n")}\n`);
    process.stderr.write(`recorded ${recorded.length} lines in ${RECORD_FILE}\n`);
  }
}

await main();
