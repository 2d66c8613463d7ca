/**
 * The one place that says how the Lambda code is built. The CDK construct
 * (`GatewayFunction`) and the tests/bench use the same objects, so what is
 * tested is the artifact Lambda runs:
 *
 *   await esbuild.build({ ...BUNDLE_OPTIONS, entryPoints: [LAMBDA_ENTRIES.exchange],
 *                         outfile: "out/index.mjs" });
 *
 * `nodejsBundling()` translates the options into NodejsFunction's bundling props
 * and refuses any option it cannot pass on, so the two paths cannot drift
 * (test/infra/bundling.test.ts compares the bytes).
 */
import { fileURLToPath } from "node:url";
import type { BundlingOptions } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogLevel, OutputFormat, SourceMapMode } from "aws-cdk-lib/aws-lambda-nodejs";
import type { BuildOptions } from "esbuild";

/**
 * The Lambda functions, one per surface (meta: the public routes and every
 * unmatched one; transfers: the large transfers' routes, apart from the
 * exchange so that neither carries the other's clients), plus the
 * background ones: events (the outbox) and transferWorker (large transfers,
 * run outside the request).
 */
export const FUNCTION_NAMES = [
  "token",
  "exchange",
  "transfers",
  "catalog",
  "admin",
  "metrics",
  "events",
  "meta",
  "transferWorker",
] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

const entry = (file: string): string =>
  fileURLToPath(new URL(`../functions/lambda/${file}`, import.meta.url));

/** Absolute paths of the entry files; each exports `handler`. */
export const LAMBDA_ENTRIES: Readonly<Record<FunctionName, string>> = {
  token: entry("token.ts"),
  exchange: entry("exchange.ts"),
  transfers: entry("transfers.ts"),
  catalog: entry("catalog.ts"),
  admin: entry("admin.ts"),
  metrics: entry("metrics.ts"),
  events: entry("events.ts"),
  meta: entry("meta.ts"),
  transferWorker: entry("transfer-worker.ts"),
};

/** Directory holding package-lock.json (NodejsFunction's project root). */
export const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * ESM output has no `require`; CommonJS dependencies bundled into it call
 * `require("node:…")` through esbuild's shim, which needs a real one.
 * The alias is unusual so it cannot collide with bundled identifiers.
 */
export const ESM_REQUIRE_BANNER =
  'import { createRequire as __gatewayCreateRequire } from "node:module";' +
  "const require = __gatewayCreateRequire(import.meta.url);";

/** The esbuild options both the CDK app and the tests/bench build with. */
export interface LambdaBundleOptions extends BuildOptions {
  readonly bundle: true;
  readonly platform: "node";
  readonly format: "esm";
  readonly target: string;
  readonly minify: boolean;
  /**
   * `false`, or `"linked"` (a separate `.map` file next to `index.mjs` plus the
   * comment Node needs); with maps the functions get `--enable-source-maps`.
   */
  readonly sourcemap: false | "linked";
  readonly external: string[];
  readonly mainFields: string[];
  readonly banner: { js: string };
  readonly logLevel: "warning" | "error" | "silent";
  /** Files imported as text: the console's static files (functions/console/assets-bundled.ts). */
  readonly loader: Readonly<Record<string, "text">>;
}

export const BUNDLE_OPTIONS: LambdaBundleOptions = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  minify: true,
  // Off: smaller artifact, faster cold start, no --enable-source-maps cost.
  // Errors are diagnosed from the structured logs' `code`, not stack traces.
  sourcemap: false,
  // The AWS SDK clients are bundled (minified, tree-shaken, their ESM builds)
  // rather than taken from the runtime's copy: measured with
  // `npm run bench -- lambda`, module init is 2-3x faster that way (one
  // file to read and compile instead of hundreds of CommonJS modules), and
  // every bundle stays under 1 MB. Only functions that keep objects carry
  // the S3 client (functions/lambda/objects.ts).
  external: [],
  // Prefer the ESM builds of dependencies.
  mainFields: ["module", "main"],
  banner: { js: ESM_REQUIRE_BANNER },
  logLevel: "warning",
  // The console's stylesheet and script, and uPlot's, ride in index.mjs as text.
  loader: { ".asset.css": "text", ".asset.js": "text", ".min.css": "text", ".iife.min.js": "text" },
};

const LOG_LEVELS: Record<LambdaBundleOptions["logLevel"], LogLevel> = {
  warning: LogLevel.WARNING,
  error: LogLevel.ERROR,
  silent: LogLevel.SILENT,
};

/** The keys `nodejsBundling` knows how to pass to NodejsFunction. */
const MAPPED_KEYS = new Set([
  "bundle",
  "platform",
  "format",
  "target",
  "minify",
  "sourcemap",
  "external",
  "mainFields",
  "banner",
  "logLevel",
  "loader",
]);

/**
 * NodejsFunction bundling props equivalent to `options`: local esbuild only
 * (no Docker). Throws on an option it cannot express.
 */
export function nodejsBundling(options: LambdaBundleOptions = BUNDLE_OPTIONS): BundlingOptions {
  const unmapped = Object.keys(options).filter((key) => !MAPPED_KEYS.has(key));
  if (unmapped.length > 0) {
    throw new Error(`nodejsBundling: cannot pass esbuild option(s) ${unmapped.join(", ")}`);
  }
  if (options.bundle !== true || options.platform !== "node" || options.format !== "esm") {
    throw new Error("nodejsBundling: Lambda bundles must be bundle=true, platform=node, esm");
  }
  const bannerKeys = Object.keys(options.banner);
  if (bannerKeys.length !== 1 || bannerKeys[0] !== "js") {
    throw new Error("nodejsBundling: only a `js` banner is supported");
  }
  return {
    format: OutputFormat.ESM,
    target: options.target,
    minify: options.minify,
    sourceMap: options.sourcemap !== false,
    ...(options.sourcemap === "linked" ? { sourceMapMode: SourceMapMode.DEFAULT } : {}),
    externalModules: [...options.external],
    mainFields: [...options.mainFields],
    banner: options.banner.js,
    logLevel: LOG_LEVELS[options.logLevel],
    loader: { ...options.loader },
    forceDockerBundling: false,
  };
}

/** Whether the bundle carries source maps (then NODE_OPTIONS enables them). */
export const emitsSourceMaps = (options: LambdaBundleOptions = BUNDLE_OPTIONS): boolean =>
  options.sourcemap !== false;
