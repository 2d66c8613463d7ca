/**
 * Per Lambda function: the size of the bundle built with the CDK app's own
 * esbuild options, and its module init time (a fresh Node process importing
 * it, median of several runs; the AWS SDK it leaves external is loaded from
 * node_modules as the runtime would load its own copy).
 * Goals: under 300 KB and under 80 ms each.
 */
import { execFileSync } from "node:child_process";
import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { BUNDLE_OPTIONS, FUNCTION_NAMES, LAMBDA_ENTRIES, PROJECT_ROOT } from "../infra/bundling.ts";
import { emit, percentile, round } from "./stats.ts";

const RUNS = 7;

/**
 * One cold import in a fresh process: the AWS SDK clients first (the runtime
 * provides them; their load is part of a real cold start), then the bundle.
 */
function initMillis(file: string): { total: number; own: number } {
  const script = [
    "const t0=performance.now();",
    'await import("@aws-sdk/client-dynamodb");await import("@aws-sdk/client-kms");',
    "const t1=performance.now();",
    `await import(${JSON.stringify(pathToFileURL(file).href)});`,
    "const t2=performance.now();",
    "process.stdout.write(JSON.stringify({total:t2-t0,own:t2-t1}));",
  ].join("");
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    encoding: "utf8",
  });
  return JSON.parse(out) as { total: number; own: number };
}

export async function run(): Promise<void> {
  const outDir = join(PROJECT_ROOT, ".build", "bench-lambda");
  for (const name of FUNCTION_NAMES) {
    const dir = join(outDir, name);
    await mkdir(dir, { recursive: true });
    const outfile = join(dir, "index.mjs");
    await build({
      ...BUNDLE_OPTIONS,
      entryPoints: [LAMBDA_ENTRIES[name]],
      outfile,
      logLevel: "error",
    });
    const bytes = (await stat(outfile)).size;
    const runs = Array.from({ length: RUNS }, () => initMillis(outfile));
    const own = runs.map((r) => r.own).sort((a, b) => a - b);
    const total = runs.map((r) => r.total).sort((a, b) => a - b);
    emit({
      bench: "lambda.bundle",
      function: name,
      kb: round(bytes / 1024, 1),
      initMedianMs: round(percentile(own, 50), 1),
      initWithSdkMedianMs: round(percentile(total, 50), 1),
      runs: RUNS,
      goalKb: 300,
      goalInitMs: 80,
    });
  }
}
