import { Aws, CfnOutput, Duration, Fn, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { Construct } from "constructs";
import { REPLAY_PREFIX } from "../functions/exchange/replays.ts";
import { TABLE_ENV, TABLES, type TableName } from "../functions/store/schema.ts";
import {
  FUNCTION_ACCESS,
  type FunctionAccess,
  type InvokableFunction,
  type SigningKeyAction,
  type SigningKeyName,
} from "./access.ts";
import { FUNCTION_NAMES, type FunctionName, LAMBDA_ENTRIES } from "./bundling.ts";
import type { GatewayConfig } from "./config.ts";
import { CanaryReleases } from "./constructs/canary.ts";
import { FrontDoor } from "./constructs/front-door.ts";
import {
  API_GATEWAY_TIMEOUT,
  type ApiFunctionName,
  BACKGROUND_FUNCTIONS,
  GatewayApi,
} from "./constructs/gateway-api.ts";
import { GatewayFunction } from "./constructs/gateway-function.ts";
import { Keys } from "./constructs/keys.ts";
import { Monitoring } from "./constructs/monitoring.ts";
import { Objects } from "./constructs/objects.ts";
import { Operations } from "./constructs/operations.ts";
import { OutboxEvents } from "./constructs/outbox-events.ts";
import { PeopleSignIn } from "./constructs/people-sign-in.ts";
import { Tables } from "./constructs/tables.ts";
import { TransferJobs } from "./constructs/transfer-jobs.ts";
import type { EdgeStack } from "./edge-stack.ts";
import { acknowledgeNagFindings } from "./nag.ts";

interface FunctionSettings {
  readonly description: string;
  readonly timeout: Duration;
  readonly memorySize: number;
}

/** The functions behind the API (the events function and the transfer worker are not). */
const API_FUNCTIONS = FUNCTION_NAMES.filter(
  (name): name is ApiFunctionName =>
    !(BACKGROUND_FUNCTIONS as readonly FunctionName[]).includes(name),
);

/**
 * Timeouts of the API's functions stay below API Gateway's 29 s so the
 * function, not the API, answers. The transfer worker runs outside any
 * request: Lambda's longest run, and 1769 MB, the size at which Lambda
 * gives a function one whole vCPU (the guard is single-threaded CPU work;
 * streaming keeps its memory flat, so more would buy nothing).
 */
export const FUNCTION_SETTINGS: Readonly<Record<FunctionName, FunctionSettings>> = {
  token: {
    description: "OAuth token endpoint, JWKS, authorization server metadata, health",
    timeout: Duration.seconds(10),
    memorySize: 512,
  },
  exchange: {
    description: "Partner data exchange, agreements, usage, attestations",
    timeout: Duration.seconds(25),
    memorySize: 1024,
  },
  transfers: {
    description: "Large transfers: starts jobs on the worker, presigns body and upload URLs",
    timeout: Duration.seconds(10),
    memorySize: 512,
  },
  catalog: {
    description: "Partner self-service: catalog, offers, agreement requests",
    timeout: Duration.seconds(10),
    memorySize: 512,
  },
  admin: {
    description: "Operator API, OpenAPI document, docs, unknown routes",
    timeout: Duration.seconds(10),
    memorySize: 512,
  },
  metrics: {
    description: "Finance flow metrics and attribution",
    timeout: Duration.seconds(10),
    memorySize: 1024,
  },
  events: {
    description: "Outbox event deliveries to counterparties",
    timeout: Duration.seconds(25),
    memorySize: 512,
  },
  meta: {
    description: "JWKS, authorization server metadata, health, OpenAPI, docs, unknown routes",
    timeout: Duration.seconds(5),
    memorySize: 256,
  },
  transferWorker: {
    description: "Large transfers: streams a body through the guard into the objects bucket",
    timeout: Duration.minutes(15),
    memorySize: 1769,
  },
};

/** Every object of a transfer is under it (functions/transfers/keys.ts: `transfers/<id>/…`). */
export const TRANSFER_OBJECTS_PREFIX = "transfers/";

/** The environment variable naming each function another one invokes (its live alias's ARN). */
export const INVOKE_ENV: Readonly<Record<InvokableFunction, string>> = {
  transferWorker: "TRANSFER_WORKER_FUNCTION",
};

/** The environment variable naming each KMS key (functions/lambda/env.ts reads them). */
export const KEY_ENV: Readonly<Record<SigningKeyName | "pseudonym" | "clientSecret", string>> = {
  accessToken: "ACCESS_TOKEN_KEY_ID",
  backendToken: "BACKEND_TOKEN_KEY_ID",
  event: "EVENT_KEY_ID",
  pseudonym: "PSEUDONYM_KEY_ID",
  clientSecret: "CLIENT_SECRET_KEY_ID",
};

export interface GatewayStackProps extends StackProps {
  readonly config: GatewayConfig;
  /**
   * Entry files of the functions.
   * @default LAMBDA_ENTRIES (functions/lambda/*.ts)
   */
  readonly entries?: Readonly<Record<FunctionName, string>>;
  /** The front door's us-east-1 parts (required when the config has a frontDoor). */
  readonly edge?: EdgeStack;
}

/** The whole gateway for one stage. */
export class GatewayStack extends Stack {
  readonly tables: Tables;
  readonly keys: Keys;
  readonly objects: Objects;
  readonly functions: Readonly<Record<FunctionName, GatewayFunction>>;
  readonly api: GatewayApi;
  readonly monitoring: Monitoring;
  /** Cognito, where people sign in (absent when `oidc` names another provider). */
  readonly peopleSignIn: PeopleSignIn | undefined;
  readonly frontDoor: FrontDoor | undefined;
  readonly operations: Operations;
  readonly releases: CanaryReleases;
  readonly transferJobs: TransferJobs;

  constructor(scope: Construct, id: string, props: GatewayStackProps) {
    super(scope, id, props);
    const { config } = props;
    const logRemovalPolicy =
      config.logRemovalPolicy === "retain" ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.tables = new Tables(this, "Tables");
    this.keys = new Keys(this, "Keys");
    // Replay bodies expire with their claims (24 h); lifecycle runs daily, so 2 days.
    // A transfer's objects: its body is served 24 h after ready (the gateway
    // refuses URLs after that and deletes it on revocation); S3 deletes what
    // is left a day after it was written (the body is written when the
    // transfer becomes ready), staging objects and uploads included.
    this.objects = new Objects(this, "Objects", {
      expiringPrefixes: { [REPLAY_PREFIX]: 2, [TRANSFER_OBJECTS_PREFIX]: 1 },
    });

    const environment: Record<string, string> = {
      ...Object.fromEntries(TABLES.map((t) => [TABLE_ENV[t], this.tables.byName[t].tableName])),
      STAGE: config.stage,
      TOKEN_TTL_SECONDS: String(config.tokenTtlSeconds),
      LOCAL_BACKENDS: "0",
    };
    const functions = {} as Record<FunctionName, GatewayFunction>;
    for (const name of FUNCTION_NAMES) {
      const settings = FUNCTION_SETTINGS[name];
      const behindApi = (API_FUNCTIONS as readonly FunctionName[]).includes(name);
      if (behindApi && settings.timeout.toSeconds() >= API_GATEWAY_TIMEOUT.toSeconds()) {
        throw new Error(`${name}: the timeout must stay below API Gateway's 29 s`);
      }
      const reserved = config.reservedConcurrency[name];
      const access = FUNCTION_ACCESS[name];
      const fn = new GatewayFunction(this, `${name}Function`, {
        entry: (props.entries ?? LAMBDA_ENTRIES)[name],
        ...settings,
        environment: {
          ...environment,
          ...this.keyEnvironment(access),
          // Powertools: the service on every log line, trace and metric; the figures' namespace.
          POWERTOOLS_SERVICE_NAME: `gateway-${name}`,
          POWERTOOLS_METRICS_NAMESPACE: `DataSharingGateway/${config.stage}`,
          ...(access.objects === undefined
            ? {}
            : { OBJECTS_BUCKET: this.objects.bucket.bucketName }),
        },
        logRetention: config.logRetentionDays,
        logRemovalPolicy,
        ...(reserved !== undefined ? { reservedConcurrentExecutions: reserved } : {}),
      });
      this.grantAccess(fn, access);
      functions[name] = fn;
    }
    this.functions = functions;

    this.transferJobs = new TransferJobs(this, "TransferJobs", {
      worker: functions.transferWorker.alias,
      retryAttempts: config.transfers.workerRetryAttempts,
      maxEventAge: Duration.hours(config.transfers.jobMaxAgeHours),
      removalPolicy: logRemovalPolicy,
    });
    for (const name of FUNCTION_NAMES)
      this.grantInvocations(functions[name], FUNCTION_ACCESS[name]);

    const outboxEvents = new OutboxEvents(this, "OutboxEvents", {
      handler: functions.events.alias,
      outbox: this.tables.byName.outbox,
      removalPolicy: logRemovalPolicy,
    });

    this.api = new GatewayApi(this, "Api", {
      // Through the aliases: CodeDeploy moves them from version to version.
      functions: Object.fromEntries(
        API_FUNCTIONS.map((name): [string, IFunction] => [name, functions[name].alias]),
      ) as Record<ApiFunctionName, IFunction>,
      rateLimit: config.throttling.rateLimit,
      burstLimit: config.throttling.burstLimit,
      routeThrottles: config.throttling.routes,
      logRetention: config.logRetentionDays,
      logRemovalPolicy,
    });
    this.frontDoor = this.createFrontDoor(props, logRemovalPolicy);
    const issuer = this.frontDoor?.url ?? config.issuer ?? this.api.endpoint;
    for (const fn of Object.values(functions)) fn.addEnvironment("ISSUER", issuer);
    if (this.frontDoor !== undefined) {
      for (const name of API_FUNCTIONS) {
        functions[name].addEnvironment("ORIGIN_VERIFY", this.frontDoor.originSecretValue);
        const mtls = config.frontDoor?.mtls?.domainName;
        if (mtls !== undefined) functions[name].addEnvironment("MTLS_DOMAIN", mtls);
      }
    }

    // People sign in at Cognito (or the configured provider); the admin function
    // serves the console and, with metrics, accepts people's access tokens.
    this.peopleSignIn =
      config.oidc === undefined
        ? new PeopleSignIn(this, "PeopleSignIn", {
            callbackUrl: `${issuer}/console/callback`,
            domainPrefix:
              config.signInDomainPrefix ?? Fn.join("-", ["dsg", config.stage, Aws.ACCOUNT_ID]),
            removalPolicy: config.stage === "prod" ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
          })
        : undefined;
    const oidc: Record<string, string> =
      this.peopleSignIn?.environment() ??
      Object.fromEntries(
        Object.entries(config.oidc ?? {}).filter(
          (e): e is [string, string] => typeof e[1] === "string",
        ),
      );
    for (const name of ["admin", "metrics"] as const) {
      for (const [key, value] of Object.entries(oidc)) functions[name].addEnvironment(key, value);
    }

    this.monitoring = new Monitoring(this, "Monitoring", {
      namespace: `DataSharingGateway/${config.stage}`,
      api: this.api.api,
      functions,
      deadLetterQueue: outboxEvents.deadLetterQueue,
      transferFailedJobs: this.transferJobs.failedJobs,
      thresholds: config.alarms,
    });
    this.operations = new Operations(this, "Operations", {
      namespace: `DataSharingGateway/${config.stage}`,
      topic: this.monitoring.topic,
      action: this.monitoring.action,
      tables: this.tables.byName,
      keys: this.keys.all,
      api: this.api.api,
      accessLogs: this.api.accessLogs,
      functionLogs: Object.values(functions).map((f) => f.logGroup),
      thresholds: config.alarms,
      kmsSignsPerSecond: config.kmsSignsPerSecond,
      subscriptions: config.alarmSubscriptions,
    });
    const shared = ["Api5xxRate", "MeteringUnavailable"].map((id) => {
      const alarm = this.monitoring.alarms.find((a) => a.node.id === id);
      if (alarm === undefined) throw new Error(`no ${id} alarm`);
      return alarm;
    });
    this.releases = new CanaryReleases(this, "Releases", {
      functions,
      canaryPercent: config.deployment.canaryPercent,
      canaryMinutes: config.deployment.canaryMinutes,
      sharedAlarms: shared,
      alarmAction: this.monitoring.action,
    });

    acknowledgeNagFindings({
      functions,
      api: this.api,
      outboxEvents,
      objects: this.objects,
      frontDoor: this.frontDoor,
      releases: this.releases,
      operations: this.operations,
      transferJobs: this.transferJobs,
    });
    this.outputs(issuer, outboxEvents);
  }

  private createFrontDoor(props: GatewayStackProps, removal: RemovalPolicy): FrontDoor | undefined {
    const config = props.config.frontDoor;
    if (config === undefined) return undefined;
    if (props.edge === undefined) throw new Error("a frontDoor needs the EdgeStack");
    return new FrontDoor(this, "FrontDoor", {
      config,
      api: this.api.api,
      stage: this.api.stage,
      webAclArn: props.edge.webAcl.attrArn,
      edgeCertificate: props.edge.certificate,
      removalPolicy: removal,
    });
  }

  /** The ids of exactly the keys the function may use. */
  private keyEnvironment(access: FunctionAccess): Record<string, string> {
    const env: Record<string, string> = {};
    for (const name of Object.keys(access.signingKeys ?? {}) as SigningKeyName[])
      env[KEY_ENV[name]] = this.keys.signing[name].keyArn;
    if (access.pseudonymKey?.length) env[KEY_ENV.pseudonym] = this.keys.pseudonym.keyArn;
    if (access.clientSecretKey?.length) env[KEY_ENV.clientSecret] = this.keys.clientSecret.keyArn;
    return env;
  }

  /** Exactly the DynamoDB and KMS actions of `access`, nothing broader. */
  private grantAccess(fn: GatewayFunction, access: FunctionAccess): void {
    for (const [name, grant] of Object.entries(access.tables) as [
      TableName,
      NonNullable<FunctionAccess["tables"][TableName]>,
    ][]) {
      const tableArn = this.tables.byName[name].tableArn;
      if (grant.table?.length) {
        fn.role.addToPrincipalPolicy(
          new PolicyStatement({
            actions: grant.table.map((a) => `dynamodb:${a}`),
            resources: [tableArn],
          }),
        );
      }
      for (const scoped of grant.scoped ?? []) {
        fn.role.addToPrincipalPolicy(
          new PolicyStatement({
            actions: scoped.actions.map((a) => `dynamodb:${a}`),
            resources: [tableArn],
            conditions: {
              "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [...scoped.leadingKeys] },
            },
          }),
        );
      }
      if (grant.indexes?.length) {
        fn.role.addToPrincipalPolicy(
          new PolicyStatement({
            actions: grant.indexes.map((a) => `dynamodb:${a}`),
            resources: this.tables.indexArns(name),
          }),
        );
      }
    }
    for (const [key, actions] of Object.entries(access.signingKeys ?? {}) as [
      SigningKeyName,
      readonly SigningKeyAction[],
    ][]) {
      this.keys.grantSigning(key, fn.role, actions);
    }
    if (access.pseudonymKey?.length) this.keys.grantPseudonym(fn.role, access.pseudonymKey);
    if (access.clientSecretKey?.length)
      this.keys.grantClientSecret(fn.role, access.clientSecretKey);
    for (const objects of access.objects ?? []) this.objects.grant(fn.role, objects);
    if (access.listObjects?.length) this.objects.grantList(fn.role, access.listObjects);
  }

  /** lambda:InvokeFunction on exactly the functions `access` names, and their ARNs in its environment. */
  private grantInvocations(fn: GatewayFunction, access: FunctionAccess): void {
    for (const target of access.invokes ?? []) {
      this.transferJobs.grantDispatch(fn.role);
      fn.addEnvironment(INVOKE_ENV[target], this.transferJobs.worker.functionArn);
    }
  }

  private outputs(issuer: string, outboxEvents: OutboxEvents): void {
    new CfnOutput(this, "ApiUrl", { value: this.api.endpoint, description: "Base URL" });
    new CfnOutput(this, "Issuer", { value: issuer, description: "iss of issued tokens" });
    for (const name of TABLES) {
      const label = `${name.charAt(0).toUpperCase()}${name.slice(1)}TableName`;
      new CfnOutput(this, label, {
        value: this.tables.byName[name].tableName,
        description: `Environment variable ${TABLE_ENV[name]}`,
      });
    }
    new CfnOutput(this, "ConsoleUrl", {
      value: `${issuer}/console`,
      description: "The operators' and finance's console",
    });
    if (this.peopleSignIn !== undefined) {
      new CfnOutput(this, "PeopleUserPoolId", {
        value: this.peopleSignIn.userPool.userPoolId,
        description: "Add people here and put them in the operators or finance group",
      });
      new CfnOutput(this, "PeopleSignInDomain", {
        value: this.peopleSignIn.domain.baseUrl(),
        description: "The hosted sign-in domain",
      });
    }
    new CfnOutput(this, "ObjectsBucketName", {
      value: this.objects.bucket.bucketName,
      description: "Environment variable OBJECTS_BUCKET",
    });
    new CfnOutput(this, "AccessTokenKeyArn", { value: this.keys.signing.accessToken.keyArn });
    new CfnOutput(this, "BackendTokenKeyArn", { value: this.keys.signing.backendToken.keyArn });
    new CfnOutput(this, "EventKeyArn", { value: this.keys.signing.event.keyArn });
    new CfnOutput(this, "PseudonymKeyArn", { value: this.keys.pseudonym.keyArn });
    new CfnOutput(this, "AlarmTopicArn", { value: this.monitoring.topic.topicArn });
    new CfnOutput(this, "DashboardName", { value: this.monitoring.dashboard.dashboardName });
    if (this.frontDoor !== undefined) {
      new CfnOutput(this, "DistributionDomainName", {
        value: this.frontDoor.distribution.distributionDomainName,
        description: "CloudFront's own name (the issuer's records point at it)",
      });
      new CfnOutput(this, "TruststoreBucketName", {
        value: this.frontDoor.truststoreBucket.bucketName,
        description: "Upload the partners' CA bundle here for the mTLS name",
      });
    }
    new CfnOutput(this, "OutboxFailedBatchesQueueUrl", {
      value: outboxEvents.deadLetterQueue.queueUrl,
    });
    new CfnOutput(this, "TransferFailedJobsQueueUrl", {
      value: this.transferJobs.failedJobs.queueUrl,
      description: "Transfer jobs Lambda gave up on (payload and last error)",
    });
  }
}
