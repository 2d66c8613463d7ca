/**
 * Per Lambda function: the bundle built with the CDK app's own esbuild
 * options, its size and its module init (a fresh Node process importing it,
 * median of RUNS runs), two ways in the same run:
 * - `runtime`: the AWS SDK left external (`@aws-sdk/*`), loaded as the
 *   runtime would load its own copy (here from node_modules: the same
 *   packages, CommonJS, one file per module), then the bundle;
 * - `bundled`: the SDK clients the function uses bundled in (minified,
 *   tree-shaken, their ESM builds), one file.
 * And the chosen way with tracing on (AWS_EXECUTION_ENV set, as in Lambda):
 * then Powertools Tracer and the X-Ray SDK are loaded at init too.
 * Goals: under 1 MB each (the 300 KB goal gives way to init time) and init
 * under 80 ms.
 */
import { execFileSync } from "node:child_process";
import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { BUNDLE_OPTIONS, FUNCTION_NAMES, LAMBDA_ENTRIES, PROJECT_ROOT } from "../infra/bundling.ts";
import { emit, percentile, round } from "./stats.ts";

const RUNS = Number(process.env.LAMBDA_RUNS ?? 7);

/** The SDK clients the functions construct (functions/lambda/runtime.ts). */
const SDK_CLIENTS = ["@aws-sdk/client-dynamodb", "@aws-sdk/client-kms", "@aws-sdk/client-s3"];

/** One cold import in a fresh process: the SDK clients first when `preload`, then the bundle. */
function initMillis(
  file: string,
  preload: readonly string[],
  env: Record<string, string> = {},
): { total: number; own: number } {
  const script = [
    "const t0=performance.now();",
    ...preload.map((m) => `await import(${JSON.stringify(m)});`),
    "const t1=performance.now();",
    `await import(${JSON.stringify(pathToFileURL(file).href)});`,
    "const t2=performance.now();",
    "process.stdout.write(JSON.stringify({total:t2-t0,own:t2-t1}));",
  ].join("");
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...env },
    encoding: "utf8",
  });
  return JSON.parse(out) as { total: number; own: number };
}

const median = (xs: number[]) =>
  round(
    percentile(
      [...xs].sort((a, b) => a - b),
      50,
    ),
    1,
  );

export async function run(): Promise<void> {
  const outDir = join(PROJECT_ROOT, ".build", "bench-lambda");
  const externalSdk = BUNDLE_OPTIONS.external.includes("@aws-sdk/*");
  for (const name of FUNCTION_NAMES) {
    const files: Record<"runtime" | "bundled", string> = {
      runtime: join(outDir, "runtime", name, "index.mjs"),
      bundled: join(outDir, "bundled", name, "index.mjs"),
    };
    for (const [way, outfile] of Object.entries(files)) {
      await mkdir(join(outfile, ".."), { recursive: true });
      await build({
        ...BUNDLE_OPTIONS,
        external: way === "runtime" ? ["@aws-sdk/*"] : [],
        entryPoints: [LAMBDA_ENTRIES[name]],
        outfile,
        logLevel: "error",
      });
    }
    const runtime = Array.from({ length: RUNS }, () => initMillis(files.runtime, SDK_CLIENTS));
    const bundled = Array.from({ length: RUNS }, () => initMillis(files.bundled, []));
    const chosen = externalSdk ? files.runtime : files.bundled;
    const traced = Array.from({ length: RUNS }, () =>
      initMillis(chosen, externalSdk ? SDK_CLIENTS : [], {
        AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x",
      }),
    );
    const runtimeMs = median(runtime.map((r) => r.total));
    const bundledMs = median(bundled.map((r) => r.total));
    emit({
      bench: "lambda.bundle",
      function: name,
      sdk: externalSdk ? "runtime" : "bundled",
      kb: round((await stat(chosen)).size / 1024, 1),
      initMedianMs: externalSdk ? runtimeMs : bundledMs,
      initOwnCodeMedianMs: median(runtime.map((r) => r.own)),
      runtimeSdk: { kb: round((await stat(files.runtime)).size / 1024, 1), initMs: runtimeMs },
      bundledSdk: { kb: round((await stat(files.bundled)).size / 1024, 1), initMs: bundledMs },
      bundledFasterByMs: round(runtimeMs - bundledMs, 1),
      initTracingOnMedianMs: median(traced.map((r) => r.total)),
      runs: RUNS,
      goalKb: 1024,
      goalInitMs: 80,
    });
  }
}
