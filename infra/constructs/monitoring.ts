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
import {
  FilterPattern,
  type IFilterPattern,
  type ILogGroup,
  type JsonPattern,
  MetricFilter,
} from "aws-cdk-lib/aws-logs";
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

/**
 * How a transfer ended, from the worker's log lines (functions/transfers/worker.ts):
 * `{"code":"transfer_ended","state":"failed"|"blocked",…}`, or
 * `{"code":"transfer_failed",…}` when its every run was interrupted.
 */
export const TRANSFER_END_METRICS = {
  TransferFailed: FilterPattern.any(
    FilterPattern.stringValue("$.code", "=", "transfer_failed"),
    transferEnded("failed"),
  ),
  TransferBlocked: transferEnded("blocked"),
} as const;

function transferEnded(state: "failed" | "blocked"): JsonPattern {
  return FilterPattern.all(
    FilterPattern.stringValue("$.code", "=", "transfer_ended"),
    FilterPattern.stringValue("$.state", "=", state),
  );
}

/** A transfer worker run longer than this is close to Lambda's 15 minutes: bodies have grown. */
export const TRANSFER_NEAR_TIMEOUT = Duration.minutes(12);
type LogCodeMetric = keyof typeof LOG_CODE_METRICS | keyof typeof TRANSFER_END_METRICS;

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
  /** Where Lambda puts the transfer jobs it gave up on. */
  readonly transferFailedJobs: IQueue;
  readonly thresholds: GatewayConfig["alarms"];
}

/**
 * Alarms to an encrypted SNS topic (on alarm and on recovery): API 5xx rate
 * and p99 latency, per-function errors and throttles, exchange p99 duration,
 * `metering_unavailable`, `leak_blocked`, `transfer_failed` and
 * `transfer_blocked` log lines (metric filters on every function's log
 * group), outbox failed batches and stream lag, transfer jobs given up on and
 * worker runs close to Lambda's limit; plus the dashboard.
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
    const failedJobs = props.transferFailedJobs.metricApproximateNumberOfMessagesVisible({
      period: PERIOD,
      statistic: "Maximum",
    });
    const workerLongest = functions.transferWorker.function.metricDuration({
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
    this.alarm(
      "TransfersFailed",
      logs.TransferFailed,
      t.transfersFailed,
      "Transfers that ended failed (transfer_failed; the log line names the code)",
    );
    this.alarm(
      "TransfersBlocked",
      logs.TransferBlocked,
      t.transfersBlocked,
      "Transfers blocked for a core marker in their body (transfer_blocked), nothing released",
    );
    this.alarm(
      "TransferFailedJobs",
      failedJobs,
      1,
      "Transfer jobs Lambda gave up on after its retries (see the failed-jobs queue)",
    );
    this.alarm(
      "TransferWorkerNearTimeout",
      workerLongest,
      TRANSFER_NEAR_TIMEOUT.toMilliseconds(),
      "A transfer ran for over 12 of Lambda's 15 minutes: larger bodies will time out (README, transfer sizes)",
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
        transfersFailed: logs.TransferFailed,
        transfersBlocked: logs.TransferBlocked,
        transferFailedJobs: failedJobs,
        transferWorkerLongest: workerLongest,
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
    const patterns: [LogCodeMetric, IFilterPattern][] = [
      ...Object.entries(LOG_CODE_METRICS).map(([metric, code]): [LogCodeMetric, IFilterPattern] => [
        metric as LogCodeMetric,
        FilterPattern.stringValue("$.code", "=", code),
      ]),
      ...(Object.entries(TRANSFER_END_METRICS) as [LogCodeMetric, IFilterPattern][]),
    ];
    for (const [metricName, filterPattern] of patterns) {
      for (const [name, { logGroup }] of Object.entries(functions)) {
        new MetricFilter(this, `${metricName}${name}Filter`, {
          logGroup,
          metricNamespace: namespace,
          metricName,
          filterPattern,
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
