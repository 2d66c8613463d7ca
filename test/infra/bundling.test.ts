import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as esbuild from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUNCTION_ACCESS } from "../../infra/access.ts";
import {
  BUNDLE_OPTIONS,
  ESM_REQUIRE_BANNER,
  FUNCTION_NAMES,
  type FunctionName,
  LAMBDA_ENTRIES,
  type LambdaBundleOptions,
  nodejsBundling,
  PROJECT_ROOT,
} from "../../infra/bundling.ts";
import { GatewayFunction } from "../../infra/constructs/gateway-function.ts";
import { functionId, resources, type Synthesized, synth } from "./helpers.ts";

const fixture = (file: string) => new URL(`./fixtures/${file}`, import.meta.url).pathname;

/** Builds exactly like the bench does: `esbuild.build({ ...BUNDLE_OPTIONS, entryPoints })`. */
async function build(entry: string, options: LambdaBundleOptions = BUNDLE_OPTIONS) {
  const result = await esbuild.build({
    ...options,
    entryPoints: [entry],
    outfile: join(tmpdir(), "gateway-bundle", "index.mjs"),
    write: false,
  });
  const file = result.outputFiles.find((f) => f.path.endsWith(".mjs"));
  if (!file) throw new Error("no index.mjs");
  return { code: file.contents, text: file.text, files: result.outputFiles.length };
}

/** Scratch space under node_modules, where bundles resolve the repo's dependencies. */
const SCRATCH = join(PROJECT_ROOT, "node_modules", ".cache", "gateway-infra-test");
const scratchDirs: string[] = [];
const scratch = (prefix: string): string => {
  mkdirSync(SCRATCH, { recursive: true });
  const dir = mkdtempSync(join(SCRATCH, prefix));
  scratchDirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

/** Writes a bundle where Node resolves the repo's node_modules, then imports it. */
async function load(code: Uint8Array, name: string): Promise<Record<string, unknown>> {
  const file = join(scratch(`${name}-`), "index.mjs");
  writeFileSync(file, code);
  return import(pathToFileURL(file).href);
}

/** A frozen copy of the function sources, so concurrent edits cannot race the comparison. */
function snapshotEntries(): Record<FunctionName, string> {
  const dir = scratch("src-");
  for (const tree of ["functions", "policies"]) {
    cpSync(join(PROJECT_ROOT, tree), join(dir, tree), { recursive: true });
  }
  return Object.fromEntries(
    FUNCTION_NAMES.map((name) => [name, join(dir, relative(PROJECT_ROOT, LAMBDA_ENTRIES[name]))]),
  ) as Record<FunctionName, string>;
}

let dev: Synthesized;
let apiBundles: Record<FunctionName, Buffer>;
beforeAll(async () => {
  // The real app path, bundling included (what `npm run synth` and `cdk deploy`
  // do), and the bench's path, both on the same frozen copy of the sources.
  const entries = snapshotEntries();
  dev = synth({ stage: "dev" }, { bundle: true, entries });
  const built = await Promise.all(FUNCTION_NAMES.map((name) => build(entries[name])));
  apiBundles = Object.fromEntries(
    FUNCTION_NAMES.map((name, i) => {
      const result = built[i];
      if (result?.files !== 1) throw new Error(`${name}: expected one output file`);
      return [name, Buffer.from(result.code)];
    }),
  ) as Record<FunctionName, Buffer>;
  // Eight functions bundled twice each: minutes on a busy two-core machine.
}, 240_000);

describe("the CDK asset is the esbuild artifact of BUNDLE_OPTIONS", () => {
  const assetDir = (name: FunctionName): string => {
    const code = resources(dev.template)[functionId(dev, name)]?.Properties?.Code as {
      S3Key: string;
    };
    return join(dev.outdir, `asset.${code.S3Key.replace(/\.zip$/, "")}`);
  };

  it.each(FUNCTION_NAMES)("%s: byte-identical to esbuild.build({ ...BUNDLE_OPTIONS })", (name) => {
    const dir = assetDir(name);
    expect(readdirSync(dir)).toEqual(["index.mjs"]); // one ESM file, no source map
    const cdkBundle = readFileSync(join(dir, "index.mjs"));
    expect(apiBundles[name].equals(cdkBundle)).toBe(true);
  });

  it.each(FUNCTION_NAMES)(
    "%s: under 1 MiB, the S3 client only where objects are kept, the Lambda client only where a function is invoked",
    (name) => {
      const bundle = apiBundles[name];
      expect(bundle.length).toBeLessThan(1024 * 1024);
      expect(bundle.includes("s3.amazonaws.com") || bundle.includes("PutObject")).toBe(
        FUNCTION_ACCESS[name].objects !== undefined,
      );
      // The Lambda client's service namespace (@aws-sdk/client-lambda's own schemas).
      expect(bundle.includes("AWSGirApiService")).toBe(
        (FUNCTION_ACCESS[name].invokes ?? []).length > 0,
      );
    },
  );

  it.each(FUNCTION_NAMES)("%s: the artifact loads on Node and exports handler()", async (name) => {
    const module = await load(readFileSync(join(assetDir(name), "index.mjs")), name);
    expect(typeof module.handler).toBe("function");
  });
});

describe("BUNDLE_OPTIONS", () => {
  it("is minified ESM for node22 with the createRequire banner and no source maps", () => {
    expect(BUNDLE_OPTIONS).toMatchObject({
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node22",
      minify: true,
      sourcemap: false,
      external: [],
    });
    expect(BUNDLE_OPTIONS.banner.js).toBe(ESM_REQUIRE_BANNER);
  });

  it("bundles the AWS SDK clients an entry uses, and only those", async () => {
    const { code, text } = await build(fixture("sdk-entry.ts"));
    expect(text).not.toMatch(/from\s*"@aws-sdk\//);
    expect(text).toContain("TrentService");
    expect(text).not.toContain("DynamoDB_20120810");
    const module = await load(code, "sdk");
    await expect((module.handler as () => Promise<string>)()).resolves.toBe("object");
  });

  it("the banner makes bundled CommonJS require() work in the ESM output", async () => {
    const { code, text } = await build(fixture("cjs-entry.ts"));
    expect(text.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    const module = await load(code, "cjs");
    const handler = module.handler as () => Promise<{ statusCode: number; body: string }>;
    await expect(handler()).resolves.toMatchObject({ statusCode: 200, body: expect.any(String) });

    // Without it the same bundle fails: the banner is load-bearing.
    const { banner: _banner, ...noBanner } = BUNDLE_OPTIONS;
    const bare = await build(fixture("cjs-entry.ts"), noBanner as LambdaBundleOptions);
    const broken = await load(bare.code, "cjs-bare");
    await expect((broken.handler as () => Promise<unknown>)()).rejects.toThrow(/Dynamic require/);
  });
});

describe("nodejsBundling (BUNDLE_OPTIONS → NodejsFunction)", () => {
  it("passes every option on, local esbuild only", () => {
    expect(nodejsBundling()).toMatchObject({
      format: "esm",
      target: "node22",
      minify: true,
      sourceMap: false,
      externalModules: [],
      mainFields: ["module", "main"],
      banner: ESM_REQUIRE_BANNER,
      loader: BUNDLE_OPTIONS.loader,
      forceDockerBundling: false,
    });
  });

  it("refuses options it cannot pass to NodejsFunction", () => {
    expect(() =>
      nodejsBundling({ ...BUNDLE_OPTIONS, splitting: true } as LambdaBundleOptions),
    ).toThrow(/splitting/);
    expect(() =>
      nodejsBundling({ ...BUNDLE_OPTIONS, format: "cjs" } as unknown as LambdaBundleOptions),
    ).toThrow(/esm/);
  });

  it("with source maps the function gets --enable-source-maps", () => {
    const app = new App({
      context: { "aws:cdk:bundling-stacks": [] },
      builtinCloudFormationValidation: false,
    });
    const stack = new Stack(app, "SourceMaps");
    new GatewayFunction(stack, "Fn", {
      entry: LAMBDA_ENTRIES.token,
      bundle: { ...BUNDLE_OPTIONS, sourcemap: "linked" },
    });
    Template.fromStack(stack).hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: { NODE_OPTIONS: "--enable-source-maps" } },
    });
    expect(nodejsBundling({ ...BUNDLE_OPTIONS, sourcemap: "linked" })).toMatchObject({
      sourceMap: true,
    });
  });
});
