import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type { HttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import {
  Alarm,
  ComparisonOperator,
  type Dashboard,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { FilterPattern, type ILogGroup, MetricFilter } from "aws-cdk-lib/aws-logs";
import { Topic } from "aws-cdk-lib/aws-sns";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { FunctionName } from "../bundling.ts";
import type { GatewayConfig } from "../config.ts";
import { GatewayDashboard } from "./dashboard.ts";

const PERIOD = Duration.minutes(5);

/**
 * Structured log lines the functions write (one JSON object per line on
 * stdout, functions/log.ts) that metric filters count, by metric name:
 * `{"level":"error","code":"metering_unavailable",…}` → MeteringUnavailable.
 */
export const LOG_CODE_METRICS = {
  MeteringUnavailable: "metering_unavailable",
  LeakBlocked: "leak_blocked",
} as const;
type LogCodeMetric = keyof typeof LOG_CODE_METRICS;

export interface MonitoredFunction {
  readonly function: IFunction;
  readonly logGroup: ILogGroup;
}

export interface MonitoringProps {
  /** Namespace of the metrics derived from the functions' logs. */
  readonly namespace: string;
  readonly api: HttpApi;
  readonly functions: Readonly<Record<FunctionName, MonitoredFunction>>;
  /** Where the outbox event source puts the batches it gave up on. */
  readonly deadLetterQueue: IQueue;
  readonly thresholds: GatewayConfig["alarms"];
}

/**
 * Alarms to an encrypted SNS topic (on alarm and on recovery): API 5xx rate
 * and p99 latency, per-function errors and throttles, exchange p99 duration,
 * `metering_unavailable` and `leak_blocked` log lines (metric filters on every
 * function's log group), outbox failed batches and stream lag; plus the dashboard.
 */
export class Monitoring extends Construct {
  readonly topic: Topic;
  /** The topic's own KMS key (whoever publishes must be let use it). */
  readonly topicKey: Key;
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;
  /** Notifies the topic (on alarm and on recovery). */
  readonly action: SnsAction;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { api, functions, thresholds: t } = props;
    this.topicKey = this.alarmTopicKey();
    this.topic = new Topic(this, "AlarmTopic", {
      displayName: "Data-sharing gateway alarms",
      masterKey: this.topicKey,
      enforceSSL: true,
    });
    this.action = new SnsAction(this.topic);
    const logs = this.logCodeMetrics(props.namespace, functions);

    const apiErrors = api.metricServerError({ period: PERIOD, statistic: "Sum" });
    const apiRequests = api.metricCount({ period: PERIOD, statistic: "Sum" });
    const api5xxRate = new MathExpression({
      expression: "IF(requests > 0, 100 * errors / requests, 0)",
      usingMetrics: { errors: apiErrors, requests: apiRequests },
      period: PERIOD,
      label: "5xx %",
    });
    const apiP99 = api.metricLatency({ period: PERIOD, statistic: "p99" });
    const exchange = functions.exchange.function;
    const exchangeP99 = exchange.metricDuration({ period: PERIOD, statistic: "p99" });
    const failedBatches = props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: PERIOD,
      statistic: "Maximum",
    });
    const iteratorAge = functions.events.function.metric("IteratorAge", {
      period: PERIOD,
      statistic: "Maximum",
    });

    this.alarm("Api5xxRate", api5xxRate, t.api5xxRatePercent, "API 5xx, % of requests");
    this.alarm("ApiP99Latency", apiP99, t.apiP99LatencyMs, "API p99 latency (ms)", 3, 2);
    for (const [name, { function: fn }] of Object.entries(functions)) {
      const label = name.charAt(0).toUpperCase() + name.slice(1);
      const errors = fn.metricErrors({ period: PERIOD, statistic: "Sum" });
      const throttles = fn.metricThrottles({ period: PERIOD, statistic: "Sum" });
      this.alarm(`${label}Errors`, errors, t.lambdaErrors, `${name} function errors`);
      this.alarm(`${label}Throttles`, throttles, 1, `${name} function throttled`);
    }
    this.alarm(
      "ExchangeP99Duration",
      exchangeP99,
      t.exchangeP99LatencyMs,
      "exchange p99 (ms)",
      3,
      2,
    );
    this.alarm(
      "MeteringUnavailable",
      logs.MeteringUnavailable,
      1,
      "Exchanges refused because metering failed (503 metering_unavailable)",
    );
    this.alarm(
      "LeakBlocked",
      logs.LeakBlocked,
      t.leakBlocked,
      "Payloads blocked for holding data that must not leave (leak_blocked)",
    );
    this.alarm("OutboxFailedBatches", failedBatches, 1, "Outbox batches given up on (see the DLQ)");
    this.alarm(
      "OutboxIteratorAge",
      iteratorAge,
      t.eventsIteratorAgeSeconds * 1000,
      "Outbox stream lag (ms)",
    );

    this.dashboard = new GatewayDashboard(this, "Dashboard", {
      metrics: {
        apiRequests,
        apiErrors,
        api5xxRate,
        apiP99,
        exchangeP99,
        meteringUnavailable: logs.MeteringUnavailable,
        leakBlocked: logs.LeakBlocked,
        failedBatches,
        iteratorAge,
      },
      functions: Object.fromEntries(
        Object.entries(functions).map(([name, f]) => [name, f.function]),
      ),
      alarms: this.alarms,
    }).dashboard;
  }

  /**
   * CloudWatch can only publish to an encrypted topic whose key policy lets
   * it use the key; AWS-managed aws/sns cannot be granted, hence our own key.
   */
  private alarmTopicKey(): Key {
    const key = new Key(this, "AlarmTopicKey", {
      description: "Data-sharing gateway: encrypts the alarm topic",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    key.addToResourcePolicy(
      new PolicyStatement({
        sid: "CloudWatchAlarmsPublish",
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
        resources: ["*"],
      }),
    );
    return key;
  }

  /** One metric filter per function log group and code, all feeding one metric per code. */
  private logCodeMetrics(
    namespace: string,
    functions: Readonly<Record<FunctionName, MonitoredFunction>>,
  ): Record<LogCodeMetric, Metric> {
    const metrics = {} as Record<LogCodeMetric, Metric>;
    for (const metricName of Object.keys(LOG_CODE_METRICS) as LogCodeMetric[]) {
      for (const [name, { logGroup }] of Object.entries(functions)) {
        new MetricFilter(this, `${metricName}${name}Filter`, {
          logGroup,
          metricNamespace: namespace,
          metricName,
          filterPattern: FilterPattern.stringValue("$.code", "=", LOG_CODE_METRICS[metricName]),
          metricValue: "1",
        });
      }
      metrics[metricName] = new Metric({ namespace, metricName, period: PERIOD, statistic: "Sum" });
    }
    return metrics;
  }

  private alarm(
    id: string,
    metric: IMetric,
    threshold: number,
    description: string,
    evaluationPeriods = 1,
    datapointsToAlarm = 1,
  ): Alarm {
    const alarm = new Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods,
      datapointsToAlarm,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms.push(alarm);
    return alarm;
  }
}
