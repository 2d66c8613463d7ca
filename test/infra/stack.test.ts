import { Match } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { TABLE_SPECS, TABLES } from "../../functions/store/schema.ts";
import { FUNCTION_NAMES, type FunctionName } from "../../infra/bundling.ts";
import {
  describeRef,
  functionId,
  logicalId,
  type Resource,
  resources,
  type Synthesized,
  synth,
} from "./helpers.ts";

let dev: Synthesized;
let prod: Synthesized;
beforeAll(() => {
  dev = synth({ stage: "dev" });
  prod = synth({ stage: "prod" });
});

const props = (r: Resource | undefined) => r?.Properties ?? {};

describe("stateful resources", () => {
  it("pins the logical ids of the tables and keys", () => {
    for (const s of [dev, prod]) {
      expect(Object.keys(resources(s.template, "AWS::DynamoDB::Table")).sort()).toEqual([
        "AuditTable",
        "CredentialsTable",
        "MeterTable",
        "OutboxTable",
        "RegistryTable",
      ]);
      const keys = Object.keys(resources(s.template, "AWS::KMS::Key"));
      expect(keys).toEqual(
        expect.arrayContaining([
          "TokenSigningKey",
          "BackendTokenSigningKey",
          "EventSigningKey",
          "PseudonymKey",
          "ClientSecretKey",
        ]),
      );
    }
  });

  it.each(TABLES)(
    "%s table: on-demand, PITR, deletion protection, KMS, retained, no name",
    (name) => {
      for (const s of [dev, prod]) {
        const id = `${name.charAt(0).toUpperCase()}${name.slice(1)}Table`;
        const table = resources(s.template, "AWS::DynamoDB::Table")[id];
        expect(table?.DeletionPolicy).toBe("Retain");
        expect(table?.UpdateReplacePolicy).toBe("Retain");
        const p = props(table);
        expect(p).toMatchObject({
          BillingMode: "PAY_PER_REQUEST",
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          DeletionProtectionEnabled: true,
          SSESpecification: { SSEEnabled: true },
          KeySchema: [
            { AttributeName: "pk", KeyType: "HASH" },
            { AttributeName: "sk", KeyType: "RANGE" },
          ],
        });
        expect(p.TableName).toBeUndefined();
        const spec = TABLE_SPECS[name];
        expect(p.TimeToLiveSpecification).toEqual(
          spec.ttlAttribute ? { AttributeName: spec.ttlAttribute, Enabled: true } : undefined,
        );
        expect(p.StreamSpecification).toEqual(
          spec.stream ? { StreamViewType: "NEW_IMAGE" } : undefined,
        );
        const gsis = (p.GlobalSecondaryIndexes ?? []) as {
          IndexName: string;
          KeySchema: unknown;
        }[];
        expect(gsis.map((g) => g.IndexName)).toEqual(spec.indexes.map((i) => i.name));
      }
    },
  );

  it("TTL exactly where the schema sets ttlAttribute (meter and outbox among them), a stream on the outbox only", () => {
    const tables = resources(dev.template, "AWS::DynamoDB::Table");
    const ttl = Object.entries(tables).filter(([, t]) => props(t).TimeToLiveSpecification);
    const expected = TABLES.filter((t) => TABLE_SPECS[t].ttlAttribute).map(
      (t) => `${t.charAt(0).toUpperCase()}${t.slice(1)}Table`,
    );
    expect(ttl.map(([id]) => id).sort()).toEqual(expected.sort());
    expect(expected).toEqual(expect.arrayContaining(["MeterTable", "OutboxTable"]));
    const streams = Object.entries(tables).filter(([, t]) => props(t).StreamSpecification);
    expect(streams.map(([id]) => id)).toEqual(["OutboxTable"]);
  });

  it("signing keys are ECC_NIST_P256/SIGN_VERIFY, pseudonym key HMAC_256/GENERATE_VERIFY_MAC, all retained", () => {
    dev.template.hasResource("AWS::KMS::Key", {
      Properties: Match.objectLike({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" }),
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
    });
    const keys = resources(dev.template, "AWS::KMS::Key");
    for (const id of ["TokenSigningKey", "BackendTokenSigningKey", "EventSigningKey"])
      expect(props(keys[id])).toMatchObject({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" });
    for (const id of ["PseudonymKey", "ClientSecretKey"])
      expect(props(keys[id])).toMatchObject({
        KeySpec: "HMAC_256",
        KeyUsage: "GENERATE_VERIFY_MAC",
      });
    for (const id of [
      "TokenSigningKey",
      "BackendTokenSigningKey",
      "EventSigningKey",
      "PseudonymKey",
      "ClientSecretKey",
    ]) {
      expect(keys[id]?.DeletionPolicy).toBe("Retain");
      expect(keys[id]?.UpdateReplacePolicy).toBe("Retain");
    }
  });
});

describe("the objects bucket", () => {
  it("is private, TLS only, encrypted, retained, and replay bodies expire", () => {
    const bucket = props(resources(dev.template).ObjectsBucket);
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(JSON.stringify(bucket.BucketEncryption)).toContain("AES256");
    expect(resources(dev.template).ObjectsBucket?.DeletionPolicy).toBe("Retain");
    const rules = (bucket.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
    expect(rules).toContainEqual(
      expect.objectContaining({ Prefix: "replays/", ExpirationInDays: 2, Status: "Enabled" }),
    );
    const policy = Object.values(resources(dev.template)).find(
      (r) => r.Type === "AWS::S3::BucketPolicy",
    );
    expect(JSON.stringify(policy)).toContain('"aws:SecureTransport":"false"');
  });
});

describe("functions", () => {
  const expectedTimeout: Record<FunctionName, number> = {
    token: 10,
    exchange: 25,
    transfers: 10,
    catalog: 10,
    admin: 10,
    metrics: 10,
    events: 25,
    meta: 5,
    // Outside any request: Lambda's longest run.
    transferWorker: 900,
  };

  it.each(FUNCTION_NAMES)(
    "%s: nodejs22.x, arm64, ESM handler, X-Ray, its timeout (below 29 s behind the API)",
    (name) => {
      const fn = props(resources(dev.template)[functionId(dev, name)]);
      expect(fn).toMatchObject({
        Runtime: "nodejs22.x",
        Architectures: ["arm64"],
        Handler: "index.handler",
        TracingConfig: { Mode: "Active" },
        Timeout: expectedTimeout[name],
      });
      if (name !== "transferWorker") expect(fn.Timeout as number).toBeLessThan(29);
      expect(fn.MemorySize).toEqual(expect.any(Number));
      expect(fn.FunctionName).toBeUndefined();
      // Text log format: the functions' raw JSON stdout lines reach CloudWatch
      // unwrapped, so the `{ $.code = ... }` metric filters can match them.
      expect((fn.LoggingConfig as { LogFormat?: string }).LogFormat).toBeUndefined();
      expect((fn.LoggingConfig as { LogGroup: unknown }).LogGroup).toEqual({
        Ref: logicalId(dev.stack.functions[name].logGroup),
      });
    },
  );

  // Each function is told only the keys it may use (infra/access.ts).
  const KEY_ENV: Record<FunctionName, Record<string, string>> = {
    token: { ACCESS_TOKEN_KEY_ID: "TokenSigningKey", CLIENT_SECRET_KEY_ID: "ClientSecretKey" },
    exchange: {
      ACCESS_TOKEN_KEY_ID: "TokenSigningKey",
      BACKEND_TOKEN_KEY_ID: "BackendTokenSigningKey",
      PSEUDONYM_KEY_ID: "PseudonymKey",
    },
    // Verifies access tokens; signs nothing (the worker calls the backends).
    transfers: { ACCESS_TOKEN_KEY_ID: "TokenSigningKey" },
    catalog: { ACCESS_TOKEN_KEY_ID: "TokenSigningKey" },
    admin: { ACCESS_TOKEN_KEY_ID: "TokenSigningKey", CLIENT_SECRET_KEY_ID: "ClientSecretKey" },
    metrics: { ACCESS_TOKEN_KEY_ID: "TokenSigningKey" },
    events: { EVENT_KEY_ID: "EventSigningKey" },
    meta: {
      ACCESS_TOKEN_KEY_ID: "TokenSigningKey",
      BACKEND_TOKEN_KEY_ID: "BackendTokenSigningKey",
      EVENT_KEY_ID: "EventSigningKey",
    },
    // Calls the provider's backend as a read does: signs the gateway JWT, derives pseudonyms.
    transferWorker: {
      BACKEND_TOKEN_KEY_ID: "BackendTokenSigningKey",
      PSEUDONYM_KEY_ID: "PseudonymKey",
    },
  };

  const OBJECT_KEEPERS: readonly FunctionName[] = [
    "exchange",
    "transfers",
    "transferWorker",
    "events",
  ];

  it.each(FUNCTION_NAMES)("%s gets the tables and only its own keys", (name) => {
    const env = (
      props(resources(dev.template)[functionId(dev, name)]).Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    const common = [
      "AUDIT_TABLE",
      "CREDENTIALS_TABLE",
      "ISSUER",
      "LOCAL_BACKENDS",
      "METER_TABLE",
      "OUTBOX_TABLE",
      "REGISTRY_TABLE",
      "STAGE",
      "TOKEN_TTL_SECONDS",
      // People's sign-in: the console (admin) and people's Bearer tokens (admin, metrics).
      ...(name === "admin" || name === "metrics"
        ? [
            "OIDC_AUDIENCE",
            "OIDC_AUDIENCE_CLAIM",
            "OIDC_CLIENT_ID",
            "OIDC_ISSUER",
            "OIDC_ROLES_CLAIM",
            "OIDC_ROLE_MAP",
            "OIDC_SCOPES",
            "OIDC_USERNAME_CLAIM",
          ]
        : []),
      // Only the exchange (replays), transfers (their URLs), the worker and events
      // (revoked transfers' objects) use the objects bucket.
      ...(OBJECT_KEEPERS.includes(name) ? ["OBJECTS_BUCKET"] : []),
      // Only the transfers function starts transfer jobs.
      ...(name === "transfers" ? ["TRANSFER_WORKER_FUNCTION"] : []),
    ];
    const keys = Object.fromEntries(
      Object.entries(KEY_ENV[name]).map(([k, id]) => [k, { "Fn::GetAtt": [id, "Arn"] }]),
    );
    expect(
      Object.keys(env)
        .filter((k) => !common.includes(k) && !k.startsWith("POWERTOOLS_"))
        .sort(),
    ).toEqual(Object.keys(keys).sort());
    expect(env).toMatchObject({
      REGISTRY_TABLE: { Ref: "RegistryTable" },
      CREDENTIALS_TABLE: { Ref: "CredentialsTable" },
      METER_TABLE: { Ref: "MeterTable" },
      AUDIT_TABLE: { Ref: "AuditTable" },
      OUTBOX_TABLE: { Ref: "OutboxTable" },
      STAGE: "dev",
      TOKEN_TTL_SECONDS: "900",
      LOCAL_BACKENDS: "0",
      ...keys,
      ...(OBJECT_KEEPERS.includes(name) ? { OBJECTS_BUCKET: { Ref: "ObjectsBucket" } } : {}),
      ...(name === "transfers"
        ? { TRANSFER_WORKER_FUNCTION: { Ref: logicalId(dev.stack.functions.transferWorker.alias) } }
        : {}),
    });
    // No source maps in the bundle, so no --enable-source-maps.
    expect(env.NODE_OPTIONS).toBeUndefined();
  });

  it("ISSUER defaults to the API endpoint and follows the config override", () => {
    const api = logicalId(dev.stack.api.api);
    for (const name of FUNCTION_NAMES) {
      const devEnv = props(resources(dev.template)[functionId(dev, name)]).Environment as {
        Variables: Record<string, unknown>;
      };
      expect(devEnv.Variables.ISSUER).toEqual({ "Fn::GetAtt": [api, "ApiEndpoint"] });
      const prodEnv = props(resources(prod.template)[functionId(prod, name)]).Environment as {
        Variables: Record<string, unknown>;
      };
      expect(prodEnv.Variables.ISSUER).toBe("https://gateway.example.com");
      expect(prodEnv.Variables.STAGE).toBe("prod");
    }
  });

  it("reserved concurrency comes from the stage config", () => {
    for (const name of FUNCTION_NAMES) {
      expect(
        props(resources(dev.template)[functionId(dev, name)]).ReservedConcurrentExecutions,
      ).toBeUndefined();
      expect(
        props(resources(prod.template)[functionId(prod, name)]).ReservedConcurrentExecutions,
      ).toBe(prod.config.reservedConcurrency[name]);
    }
  });

  it("every log group has the stage's retention (dev 14 days, destroyed; prod 365, retained)", () => {
    for (const [s, days, policy] of [
      [dev, 14, "Delete"],
      [prod, 365, "Retain"],
    ] as const) {
      const groups = Object.values(resources(s.template, "AWS::Logs::LogGroup"));
      expect(groups).toHaveLength(FUNCTION_NAMES.length + 1); // + API access logs
      for (const g of groups) {
        expect(props(g).RetentionInDays).toBe(days);
        expect(g.DeletionPolicy).toBe(policy);
      }
    }
  });

  it("the outbox stream feeds the events function with retries, bisection and an SQS DLQ", () => {
    const queue = logicalId(
      dev.stack.node.findChild("OutboxEvents").node.findChild("FailedBatches"),
    );
    const eventsAlias = logicalId(dev.stack.functions.events.alias);
    dev.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: { "Fn::GetAtt": ["OutboxTable", "StreamArn"] },
      // The live alias (function:live): CodeDeploy releases the events function too.
      FunctionName: {
        "Fn::Join": [
          "",
          [{ "Fn::Select": [6, { "Fn::Split": [":", { Ref: eventsAlias }] }] }, ":live"],
        ],
      },
      StartingPosition: "LATEST",
      BatchSize: 10,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      MaximumRecordAgeInSeconds: 21_600,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": [queue, "Arn"] } } },
      FilterCriteria: { Filters: [{ Pattern: '{"eventName":["INSERT"]}' }] },
    });
    dev.template.resourceCountIs("AWS::Lambda::EventSourceMapping", 1);
    // A retry tick attempts deliveries whose backoff has expired.
    dev.template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 minute)",
      State: "ENABLED",
      Targets: [
        Match.objectLike({
          Arn: { Ref: eventsAlias },
          RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
        }),
      ],
    });
    dev.template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: { Ref: functionId(dev, "events") },
      // The alias's name, as CloudFormation reads it from the alias's ARN.
      Qualifier: { "Fn::Select": [7, { "Fn::Split": [":", { Ref: eventsAlias }] }] },
      MaximumRetryAttempts: 0,
    });
    dev.template.hasResourceProperties("AWS::SQS::Queue", { SqsManagedSseEnabled: true });
    dev.template.hasResourceProperties("AWS::SQS::QueuePolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Deny",
            Action: "sqs:*",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
        ]),
      },
    });
  });
});

describe("HTTP API", () => {
  const EXPECTED_ROUTES: Record<string, FunctionName> = {
    "POST /oauth/token": "token",
    "GET /.well-known/jwks.json": "meta",
    "GET /.well-known/oauth-authorization-server": "meta",
    "GET /health": "meta",
    "ANY /v1/exchange/{proxy+}": "exchange",
    "GET /v1/agreements": "exchange",
    "GET /v1/usage": "exchange",
    "POST /v1/attestations": "exchange",
    "ANY /v1/transfers": "transfers",
    "ANY /v1/transfers/{proxy+}": "transfers",
    "ANY /v1/uploads": "transfers",
    "GET /v1/catalog": "catalog",
    "ANY /v1/datasets/{proxy+}": "catalog",
    "ANY /v1/agreement-requests": "catalog",
    "ANY /v1/agreement-requests/{proxy+}": "catalog",
    "ANY /admin/{proxy+}": "admin",
    "GET /openapi.json": "meta",
    "GET /docs": "meta",
    $default: "meta",
    "GET /metrics/{proxy+}": "metrics",
    "POST /metrics/periods/{proxy+}": "metrics",
    "GET /console": "admin",
    "ANY /console/{proxy+}": "admin",
  };

  it("routes each contract path to its function (payload 2.0, no authorizer)", () => {
    const all = resources(dev.template);
    // Integrations invoke each function's live alias.
    const fnById = Object.fromEntries(
      FUNCTION_NAMES.map((n) => [logicalId(dev.stack.functions[n].alias), n]),
    );
    const actual: Record<string, string> = {};
    for (const route of Object.values(resources(dev.template, "AWS::ApiGatewayV2::Route"))) {
      const p = props(route);
      expect(p.AuthorizationType).toBe("NONE");
      const target = describeRef(p.Target); // "integrations/<IntegrationId>"
      const integration = props(all[target.replace("integrations/", "")]);
      expect(integration).toMatchObject({
        IntegrationType: "AWS_PROXY",
        PayloadFormatVersion: "2.0",
      });
      const fnId = describeRef(integration.IntegrationUri);
      actual[p.RouteKey as string] = fnById[fnId] ?? fnId;
    }
    expect(actual).toEqual(EXPECTED_ROUTES);
  });

  it("lets API Gateway invoke only the seven API functions, EventBridge only the events one", () => {
    const permissions = Object.values(resources(dev.template, "AWS::Lambda::Permission"));
    const invokedBy = (principal: string) =>
      new Set(
        permissions
          .filter((p) => props(p).Principal === principal)
          .map((p) => describeRef(props(p).FunctionName)),
      );
    const aliasOf = (n: FunctionName) => logicalId(dev.stack.functions[n].alias);
    expect([...invokedBy("apigateway.amazonaws.com")].sort()).toEqual(
      (["token", "exchange", "transfers", "catalog", "admin", "metrics", "meta"] as const)
        .map(aliasOf)
        .sort(),
    );
    expect([...invokedBy("events.amazonaws.com")]).toEqual([aliasOf("events")]);
    expect(permissions.every((p) => props(p).SourceArn !== undefined)).toBe(true);
  });

  it("has one auto-deployed $default stage with the stage's throttling", () => {
    for (const s of [dev, prod]) {
      s.template.resourceCountIs("AWS::ApiGatewayV2::Stage", 1);
      s.template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
        StageName: "$default",
        AutoDeploy: true,
        DefaultRouteSettings: {
          ThrottlingRateLimit: s.config.throttling.rateLimit,
          ThrottlingBurstLimit: s.config.throttling.burstLimit,
        },
        RouteSettings: Object.fromEntries(
          Object.entries(s.config.throttling.routes).map(([route, t]) => [
            route,
            { ThrottlingRateLimit: t.rateLimit, ThrottlingBurstLimit: t.burstLimit },
          ]),
        ),
      });
    }
    expect(prod.config.throttling).toMatchObject({ rateLimit: 500, burstLimit: 1_000 });
  });

  it("writes JSON access logs with requestId, ip, route, status and latency", () => {
    const stage = Object.values(resources(dev.template, "AWS::ApiGatewayV2::Stage"))[0];
    const settings = props(stage).AccessLogSettings as { DestinationArn: unknown; Format: string };
    expect(settings.DestinationArn).toEqual({
      "Fn::GetAtt": [logicalId(dev.stack.api.accessLogs), "Arn"],
    });
    expect(JSON.parse(settings.Format)).toMatchObject({
      requestId: "$context.requestId",
      ip: "$context.identity.sourceIp",
      route: "$context.routeKey",
      status: "$context.status",
      latency: "$context.responseLatency",
    });
  });
});

describe("observability", () => {
  const alarms = (s: Synthesized) => Object.values(resources(s.template, "AWS::CloudWatch::Alarm"));
  const topicRef = () => ({ Ref: logicalId(dev.stack.monitoring.topic) });

  it("publishes every alarm to an encrypted, TLS-only SNS topic", () => {
    dev.template.resourceCountIs("AWS::SNS::Topic", 1);
    const topic = Object.values(resources(dev.template, "AWS::SNS::Topic"))[0];
    expect(props(topic).KmsMasterKeyId).toBeDefined();
    dev.template.hasResourceProperties("AWS::SNS::TopicPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Deny",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
        ]),
      },
    });
    for (const alarm of alarms(dev)) {
      expect(props(alarm).AlarmActions).toEqual([topicRef()]);
      // Canary rollback alarms notify when they fire; the others also when they recover.
      if (!String(props(alarm).AlarmDescription).includes("rolls a release back"))
        expect(props(alarm).OKActions).toEqual([topicRef()]);
    }
  });

  it("alarms on Lambda errors and throttles for every function", () => {
    for (const name of FUNCTION_NAMES) {
      for (const metric of ["Errors", "Throttles"]) {
        dev.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
          Namespace: "AWS/Lambda",
          MetricName: metric,
          Dimensions: [{ Name: "FunctionName", Value: { Ref: functionId(dev, name) } }],
        });
      }
    }
  });

  it("alarms on the API's 5xx rate and p99 latency, and the exchange p99 duration", () => {
    const api = logicalId(dev.stack.api.api);
    dev.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Threshold: dev.config.alarms.api5xxRatePercent,
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: Match.stringLikeRegexp("100 \\* errors / requests") }),
        Match.objectLike({
          Id: "errors",
          MetricStat: Match.objectLike({
            Metric: {
              Namespace: "AWS/ApiGateway",
              MetricName: "5xx",
              Dimensions: [{ Name: "ApiId", Value: { Ref: api } }],
            },
          }),
        }),
      ]),
    });
    dev.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "AWS/ApiGateway",
      MetricName: "Latency",
      ExtendedStatistic: "p99",
      Threshold: dev.config.alarms.apiP99LatencyMs,
    });
    dev.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "AWS/Lambda",
      MetricName: "Duration",
      ExtendedStatistic: "p99",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: functionId(dev, "exchange") } }],
      Threshold: dev.config.alarms.exchangeP99LatencyMs,
    });
  });

  it.each([
    ["MeteringUnavailable", '{ $.code = "metering_unavailable" }'],
    ["LeakBlocked", '{ $.code = "leak_blocked" }'],
    [
      "TransferFailed",
      '{ ($.code = "transfer_failed") || (($.code = "transfer_ended") && ($.state = "failed")) }',
    ],
    ["TransferBlocked", '{ ($.code = "transfer_ended") && ($.state = "blocked") }'],
  ])("counts %s log lines on every function's log group and alarms on them", (metric, pattern) => {
    const filters = Object.values(resources(dev.template, "AWS::Logs::MetricFilter")).filter(
      (f) => props(f).FilterPattern === pattern,
    );
    expect(filters.map((f) => describeRef(props(f).LogGroupName)).sort()).toEqual(
      FUNCTION_NAMES.map((n) => logicalId(dev.stack.functions[n].logGroup)).sort(),
    );
    for (const f of filters) {
      expect(props(f).MetricTransformations).toEqual([
        { MetricName: metric, MetricNamespace: "DataSharingGateway/dev", MetricValue: "1" },
      ]);
    }
    dev.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "DataSharingGateway/dev",
      MetricName: metric,
      Statistic: "Sum",
      TreatMissingData: "notBreaching",
    });
  });

  it("alarms on outbox delivery failures and stream lag", () => {
    dev.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
    });
    dev.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "AWS/Lambda",
      MetricName: "IteratorAge",
      Threshold: dev.config.alarms.eventsIteratorAgeSeconds * 1000,
    });
    // Monitoring: API 5xx and p99, errors and throttles per function, exchange p99,
    // metering_unavailable, leak_blocked, failed batches, stream lag; transfers
    // failed and blocked, transfer jobs given up on, worker runs near the timeout.
    const monitoring = 2 + 2 * FUNCTION_NAMES.length + 1 + 2 + 2 + 4;
    // Operations: throttles and system errors per table, KMS usage and throttling,
    // failed deliveries, 4xx, 429, undelivered notifications; canary: one per function.
    const operations = 2 * TABLES.length + 2 + 1 + 2 + 1;
    expect(alarms(dev)).toHaveLength(monitoring + operations + FUNCTION_NAMES.length);
  });

  it("has a dashboard with the key widgets", () => {
    const dashboards = Object.values(resources(dev.template, "AWS::CloudWatch::Dashboard"));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(props(dashboards[0]).DashboardBody);
    for (const needle of [
      "Alarms",
      "API requests and 5xx",
      "API p99 latency",
      "Exchange p99 duration",
      "Invocations",
      "Throttles",
      "MeteringUnavailable",
      "LeakBlocked",
      "IteratorAge",
      "Transfers failed / blocked",
      "Transfer jobs given up on",
      "Longest transfer run",
    ]) {
      expect(body).toContain(needle);
    }
  });

  it("uses the prod thresholds in prod", () => {
    prod.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "Latency",
      Threshold: prod.config.alarms.apiP99LatencyMs,
    });
    expect(prod.config.alarms.api5xxRatePercent).toBeLessThan(dev.config.alarms.api5xxRatePercent);
  });
});

describe("outputs", () => {
  it("exports what operators and the bootstrap command need", () => {
    const outputs = Object.keys(dev.template.toJSON().Outputs as Record<string, unknown>);
    expect(outputs).toEqual(
      expect.arrayContaining([
        "ApiUrl",
        "Issuer",
        "RegistryTableName",
        "CredentialsTableName",
        "MeterTableName",
        "AuditTableName",
        "OutboxTableName",
        "AccessTokenKeyArn",
        "BackendTokenKeyArn",
        "EventKeyArn",
        "PseudonymKeyArn",
        "AlarmTopicArn",
        "DashboardName",
      ]),
    );
  });
});
