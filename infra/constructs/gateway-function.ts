import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Alias, Architecture, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import {
  BUNDLE_OPTIONS,
  emitsSourceMaps,
  type LambdaBundleOptions,
  nodejsBundling,
  PROJECT_ROOT,
} from "../bundling.ts";

export interface GatewayFunctionProps {
  /** Absolute path of the TypeScript entry file; it must export `handler`. */
  readonly entry: string;
  /**
   * Description of the function.
   * @default - none
   */
  readonly description?: string;
  /**
   * Maximum run time. Functions behind the HTTP API must stay below 29 s.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * Memory in MB (CPU scales with it).
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Reserved (and maximum) concurrent executions.
   * @default - none: the function draws on the account's unreserved pool
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Environment variables (the construct adds NODE_OPTIONS when the bundle has source maps).
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Retention of the function's log group.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the log group when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * X-Ray tracing mode.
   * @default Tracing.ACTIVE
   */
  readonly tracing?: Tracing;
  /**
   * esbuild options of the bundle.
   * @default BUNDLE_OPTIONS from infra/bundling.ts
   */
  readonly bundle?: LambdaBundleOptions;
}

/**
 * A gateway Lambda: Node.js 22 on arm64, bundled locally by esbuild to one
 * minified ESM file (`@aws-sdk/*` left to the runtime), its own log group with
 * retention, and its own role that can only write to that log group (and
 * X-Ray, when tracing). Data access is granted by the caller. Callers
 * invoke its `live` alias, which points at a published version (CodeDeploy
 * shifts it from one version to the next).
 */
export class GatewayFunction extends Construct {
  readonly function: NodejsFunction;
  readonly alias: Alias;
  readonly logGroup: LogGroup;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: GatewayFunctionProps) {
    super(scope, id);
    const bundle = props.bundle ?? BUNDLE_OPTIONS;
    this.logGroup = new LogGroup(this, "Logs", {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    // Own role instead of AWSLambdaBasicExecutionRole: logs go to one known
    // log group, so CreateLogGroup and account-wide log access are not needed.
    this.role = new Role(this, "Role", {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      ...(props.description ? { description: `Runs: ${props.description}` } : {}),
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, "Function", {
      entry: props.entry,
      handler: "handler",
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      role: this.role,
      logGroup: this.logGroup,
      tracing: props.tracing ?? Tracing.ACTIVE,
      ...(props.description ? { description: props.description } : {}),
      ...(props.reservedConcurrentExecutions !== undefined
        ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions }
        : {}),
      environment: {
        ...props.environment,
        ...(emitsSourceMaps(bundle) ? { NODE_OPTIONS: "--enable-source-maps" } : {}),
      },
      bundling: nodejsBundling(bundle),
    });
    // The log group must exist (with its retention) before the function logs.
    this.function.node.addDependency(this.logGroup);
    this.alias = new Alias(this, "Live", {
      aliasName: "live",
      version: this.function.currentVersion,
    });
  }

  /** Adds (or replaces) an environment variable. */
  addEnvironment(key: string, value: string): void {
    this.function.addEnvironment(key, value);
  }
}
