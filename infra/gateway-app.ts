import { readFileSync } from "node:fs";
import { App } from "aws-cdk-lib";
import type { NagPack } from "cdk-nag";
import type { FunctionName } from "./bundling.ts";
import { type GatewayConfig, resolveConfig } from "./config.ts";
import { EdgeStack } from "./edge-stack.ts";
import { GatewayStack } from "./gateway-stack.ts";
import { addNagPacks } from "./nag.ts";

/** Feature flags and defaults from cdk.json, so a plain `tsx infra/app.ts` synthesises like `cdk synth`. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(new URL("../cdk.json", import.meta.url), "utf8")) as {
    context?: Record<string, unknown>;
  };
  return { ...cdkJson.context };
}

export interface GatewayAppOptions {
  /**
   * Context values, e.g. `{ stage: "prod" }` (the CLI's own context still wins).
   * @default - cdk.json's context only
   */
  readonly context?: Readonly<Record<string, unknown>>;
  /**
   * Cloud assembly directory.
   * @default - the CLI's CDK_OUTDIR, or a temporary directory
   */
  readonly outdir?: string;
  /**
   * Run CDK's built-in CloudFormation schema validation on synth.
   * @default true
   */
  readonly cloudFormationValidation?: boolean;
  /**
   * Entry files of the functions (tests bundle a frozen copy of the sources).
   * @default LAMBDA_ENTRIES
   */
  readonly entries?: Readonly<Record<FunctionName, string>>;
}

export interface GatewayApp {
  readonly app: App;
  readonly stack: GatewayStack;
  /** The us-east-1 stack of the front door (web ACL, CloudFront certificate), if configured. */
  readonly edge: EdgeStack | undefined;
  readonly config: GatewayConfig;
  readonly nagPacks: readonly NagPack[];
}

/**
 * The CDK app: one `DataSharingGateway-<stage>` stack, configured from the
 * context (`stage`, `config`), with the cdk-nag packs as validation plugins.
 * Throws `ConfigError` on invalid context.
 */
export function createGatewayApp(options: GatewayAppOptions = {}): GatewayApp {
  const app = new App({
    ...(options.outdir ? { outdir: options.outdir } : {}),
    context: { ...cdkJsonContext(), ...options.context },
    builtinCloudFormationValidation: options.cloudFormationValidation ?? true,
  });
  const config = resolveConfig({
    stage: app.node.tryGetContext("stage"),
    config: app.node.tryGetContext("config"),
  });
  const name = `DataSharingGateway-${config.stage}`;
  const env =
    config.account !== undefined && config.region !== undefined
      ? { account: config.account, region: config.region }
      : undefined;
  const edge =
    config.frontDoor === undefined || env === undefined
      ? undefined
      : new EdgeStack(app, `${name}-edge`, {
          env: { account: env.account, region: "us-east-1" },
          crossRegionReferences: true,
          frontDoor: config.frontDoor,
          metricPrefix: `Gateway${config.stage}`,
          terminationProtection: config.terminationProtection,
          description: `Data-sharing gateway (${config.stage}): AWS WAF web ACL and certificate for CloudFront`,
        });
  const stack = new GatewayStack(app, name, {
    config,
    ...(edge ? { edge, crossRegionReferences: true } : {}),
    ...(env ? { env } : {}),
    terminationProtection: config.terminationProtection,
    ...(options.entries ? { entries: options.entries } : {}),
    description: `Data-sharing gateway (${config.stage}): HTTP API, Lambda, DynamoDB, KMS`,
  });
  const nagPacks = addNagPacks(app);
  return { app, stack, edge, config, nagPacks };
}
