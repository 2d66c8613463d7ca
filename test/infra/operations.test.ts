/**
 * Operations: who hears of alarms, what alarms beyond the functions' health
 * (DynamoDB, KMS, floods, failed deliveries), the rule on key changes, and
 * releases through aliases with a canary that rolls back on the alarms.
 */
import { Match } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { TABLES } from "../../functions/store/schema.ts";
import { FUNCTION_NAMES } from "../../infra/bundling.ts";
import { OPERATIONS_LOG_CODES, WATCHED_KEY_EVENTS } from "../../infra/constructs/operations.ts";
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
const alarmsOf = (s: Synthesized) => Object.values(resources(s.template, "AWS::CloudWatch::Alarm"));
const topic = (s: Synthesized) => ({ Ref: logicalId(s.stack.monitoring.topic) });

describe("alarm topic subscriptions", () => {
  it("come from the stage config, with a dead-letter queue", () => {
    const subs = Object.values(resources(prod.template, "AWS::SNS::Subscription")).map(props);
    expect(subs).toEqual(
      prod.config.alarmSubscriptions.map((s) =>
        expect.objectContaining({
          Protocol: s.protocol,
          Endpoint: s.endpoint,
          TopicArn: topic(prod),
          RedrivePolicy: {
            deadLetterTargetArn: {
              "Fn::GetAtt": [logicalId(prod.stack.operations.undelivered), "Arn"],
            },
          },
        }),
      ),
    );
    expect(prod.config.alarmSubscriptions.length).toBeGreaterThan(0);
    expect(Object.values(resources(dev.template, "AWS::SNS::Subscription"))).toEqual([]);
  });
});

describe("DynamoDB, KMS and flood alarms", () => {
  it.each(TABLES)("%s table: throttles and system errors", (table) => {
    const id = `${table.charAt(0).toUpperCase()}${table.slice(1)}Table`;
    for (const metric of ["ThrottledRequests", "SystemErrors"]) {
      const alarm = alarmsOf(dev).find((a) => {
        const metrics = (props(a).Metrics ?? []) as { MetricStat?: { Metric: unknown } }[];
        const json = JSON.stringify(metrics);
        return json.includes(`"MetricName":"${metric}"`) && json.includes(`{"Ref":"${id}"}`);
      });
      expect(alarm, `${metric} on ${id}`).toBeDefined();
      expect(props(alarm)).toMatchObject({
        Threshold: 1,
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
        AlarmActions: [topic(dev)],
      });
      // Summed over the operations the functions call.
      expect(JSON.stringify(props(alarm).Metrics)).toContain('"Value":"TransactWriteItems"');
    }
  });

  it("alarms before KMS throttles signing (usage vs the quota) and when it does", () => {
    const usage = alarmsOf(dev).find((a) =>
      JSON.stringify(props(a).Metrics ?? "").includes('"Namespace":"AWS/Usage"'),
    );
    expect(props(usage)).toMatchObject({ Threshold: dev.config.alarms.kmsSignUsagePercent });
    const metrics = props(usage).Metrics as Record<string, unknown>[];
    expect(metrics).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Expression: `100 * signs / 60 / ${dev.config.kmsSignsPerSecond}`,
        }),
        expect.objectContaining({
          Id: "signs",
          MetricStat: expect.objectContaining({
            Metric: {
              Namespace: "AWS/Usage",
              MetricName: "CallCount",
              Dimensions: expect.arrayContaining([
                { Name: "Service", Value: "KMS" },
                { Name: "Resource", Value: "Sign" },
              ]),
            },
          }),
        }),
      ]),
    );
  });

  it.each(Object.entries(OPERATIONS_LOG_CODES))(
    "counts %s log lines on every function's log group and alarms on one",
    (metric, code) => {
      const filters = Object.values(resources(dev.template, "AWS::Logs::MetricFilter")).filter(
        (f) => props(f).FilterPattern === `{ $.code = "${code}" }`,
      );
      expect(filters.map((f) => describeRef(props(f).LogGroupName)).sort()).toEqual(
        FUNCTION_NAMES.map((n) => logicalId(dev.stack.functions[n].logGroup)).sort(),
      );
      dev.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
        Namespace: "DataSharingGateway/dev",
        MetricName: metric,
        Threshold: 1,
      });
    },
  );

  it("alarms on a flood of 4xx (a share of at least 100 requests) and of 429", () => {
    const api = logicalId(dev.stack.api.api);
    dev.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Threshold: dev.config.alarms.api4xxRatePercent,
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: "IF(requests >= 100, 100 * errors / requests, 0)" }),
        Match.objectLike({
          Id: "errors",
          MetricStat: Match.objectLike({
            Metric: {
              Namespace: "AWS/ApiGateway",
              MetricName: "4xx",
              Dimensions: [{ Name: "ApiId", Value: { Ref: api } }],
            },
          }),
        }),
      ]),
    });
    dev.template.hasResourceProperties("AWS::Logs::MetricFilter", {
      LogGroupName: { Ref: logicalId(dev.stack.api.accessLogs) },
      FilterPattern: '{ $.status = "429" }',
      MetricTransformations: [
        { MetricName: "Throttled429", MetricNamespace: "DataSharingGateway/dev", MetricValue: "1" },
      ],
    });
    dev.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "Throttled429",
      Threshold: dev.config.alarms.throttled429,
    });
  });
});

describe("key changes", () => {
  it("an EventBridge rule tells the topic when a gateway key is disabled, scheduled for deletion or re-policied", () => {
    const rule = props(resources(dev.template)[logicalId(dev.stack.operations.keyChanges)]) as {
      EventPattern: Record<string, unknown>;
      Targets: Record<string, unknown>[];
    };
    const keys = [
      "TokenSigningKey",
      "BackendTokenSigningKey",
      "EventSigningKey",
      "PseudonymKey",
      "ClientSecretKey",
    ];
    expect(rule.EventPattern).toEqual({
      source: ["aws.kms"],
      "detail-type": ["AWS API Call via CloudTrail"],
      detail: {
        eventSource: ["kms.amazonaws.com"],
        eventName: [...WATCHED_KEY_EVENTS],
        resources: { ARN: keys.map((k) => ({ "Fn::GetAtt": [k, "Arn"] })) },
      },
    });
    expect(WATCHED_KEY_EVENTS).toEqual(["DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy"]);
    expect(rule.Targets).toEqual([
      expect.objectContaining({
        Arn: topic(dev),
        DeadLetterConfig: {
          Arn: { "Fn::GetAtt": [logicalId(dev.stack.operations.undelivered), "Arn"] },
        },
      }),
    ]);
  });

  it("EventBridge and CloudWatch may use the topic's key, nobody else but the account", () => {
    const key = props(resources(dev.template)[logicalId(dev.stack.monitoring.topicKey)]);
    const services = (
      key.KeyPolicy as { Statement: { Principal?: { Service?: string } }[] }
    ).Statement.map((s) => s.Principal?.Service)
      .filter((s) => s !== undefined)
      .sort();
    expect(services).toEqual(["cloudwatch.amazonaws.com", "events.amazonaws.com"]);
  });
});

describe("releases", () => {
  it.each(FUNCTION_NAMES)("%s is invoked through its live alias on a published version", (name) => {
    const alias = props(resources(dev.template)[logicalId(dev.stack.functions[name].alias)]);
    expect(alias).toMatchObject({
      Name: "live",
      FunctionName: { Ref: functionId(dev, name) },
      FunctionVersion: { "Fn::GetAtt": [expect.any(String), "Version"] },
    });
  });

  it("a canary shifts the configured share first", () => {
    for (const s of [dev, prod]) {
      s.template.hasResourceProperties("AWS::CodeDeploy::DeploymentConfig", {
        ComputePlatform: "Lambda",
        TrafficRoutingConfig: {
          Type: "TimeBasedCanary",
          TimeBasedCanary: {
            CanaryPercentage: s.config.deployment.canaryPercent,
            CanaryInterval: s.config.deployment.canaryMinutes,
          },
        },
      });
    }
  });

  it.each(FUNCTION_NAMES)(
    "%s rolls back on its alias errors, the API 5xx rate and metering failures",
    (name) => {
      const group = props(
        resources(dev.template)[logicalId(dev.stack.releases.groups[name] as never)],
      );
      const alarms = (
        group.AlarmConfiguration as { Alarms: { Name: unknown }[]; Enabled: boolean }
      ).Alarms.map((a) => describeRef(a.Name));
      const ids = [
        logicalId(dev.stack.releases.alarms[name] as never),
        ...["Api5xxRate", "MeteringUnavailable"].map((id) =>
          logicalId(dev.stack.monitoring.alarms.find((a) => a.node.id === id) as never),
        ),
      ];
      expect([...alarms].sort()).toEqual([...ids].sort());
      expect(group).toMatchObject({
        AutoRollbackConfiguration: {
          Enabled: true,
          Events: expect.arrayContaining([
            "DEPLOYMENT_FAILURE",
            "DEPLOYMENT_STOP_ON_ALARM",
            "DEPLOYMENT_STOP_ON_REQUEST",
          ]),
        },
        DeploymentStyle: { DeploymentType: "BLUE_GREEN", DeploymentOption: "WITH_TRAFFIC_CONTROL" },
      });
      const alias = resources(dev.template)[logicalId(dev.stack.functions[name].alias)];
      expect(JSON.stringify(alias)).toContain("CodeDeployLambdaAliasUpdate");
      // The alias's own errors: FunctionName and Resource (function:alias) dimensions.
      const aliasAlarm = props(resources(dev.template)[ids[0] as string]);
      expect(aliasAlarm).toMatchObject({ MetricName: "Errors", Threshold: 1, Period: 60 });
      expect(JSON.stringify(aliasAlarm.Dimensions)).toContain('"Name":"Resource"');
    },
  );
});
