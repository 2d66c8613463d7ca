import { Duration } from "aws-cdk-lib";
import type { HttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import type { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { Operation, type Table } from "aws-cdk-lib/aws-dynamodb";
import { Rule } from "aws-cdk-lib/aws-events";
import { SnsTopic } from "aws-cdk-lib/aws-events-targets";
import type { IKey } from "aws-cdk-lib/aws-kms";
import { FilterPattern, type ILogGroup, MetricFilter } from "aws-cdk-lib/aws-logs";
import type { Topic } from "aws-cdk-lib/aws-sns";
import {
  EmailSubscription,
  SmsSubscription,
  UrlSubscription,
} from "aws-cdk-lib/aws-sns-subscriptions";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { GatewayConfig } from "../config.ts";

const PERIOD = Duration.minutes(5);

/** KMS API calls on the gateway's keys that an operator must hear of at once. */
export const WATCHED_KEY_EVENTS = ["DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy"] as const;

/** Log codes the functions write (functions/log.ts) that these alarms count. */
export const OPERATIONS_LOG_CODES = {
  KmsThrottled: "kms_throttled",
  EventDeliveryFailed: "event_delivery_failed",
} as const;

/** The DynamoDB operations the functions call (their throttles and system errors are summed). */
const TABLE_OPERATIONS = [
  Operation.GET_ITEM,
  Operation.BATCH_GET_ITEM,
  Operation.QUERY,
  Operation.PUT_ITEM,
  Operation.UPDATE_ITEM,
  Operation.TRANSACT_WRITE_ITEMS,
];

export interface OperationsProps {
  readonly namespace: string;
  readonly topic: Topic;
  readonly action: SnsAction;
  readonly tables: Readonly<Record<string, Table>>;
  readonly keys: readonly IKey[];
  readonly api: HttpApi;
  readonly accessLogs: ILogGroup;
  readonly functionLogs: readonly ILogGroup[];
  readonly thresholds: GatewayConfig["alarms"];
  readonly kmsSignsPerSecond: number;
  readonly subscriptions: GatewayConfig["alarmSubscriptions"];
}

/**
 * What operators are told beyond the functions' own health: DynamoDB
 * throttles and system errors per table, KMS signing near its quota and
 * throttled, floods of 4xx and of 429, event deliveries that failed for good,
 * and any change to a gateway key (disabled, scheduled for deletion, its
 * policy replaced) as it happens. Plus who is subscribed to the topic.
 */
export class Operations extends Construct {
  readonly alarms: Alarm[] = [];
  readonly keyChanges: Rule;
  /** Notifications that could not be delivered (to a subscriber, or by the key rule to the topic). */
  readonly undelivered: Queue;
  private readonly action: SnsAction;

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    const t = props.thresholds;
    this.action = props.action;
    this.undelivered = new Queue(this, "Undelivered", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    const deadLetterQueue = this.undelivered;
    for (const s of props.subscriptions) {
      props.topic.addSubscription(
        s.protocol === "email"
          ? new EmailSubscription(s.endpoint, { deadLetterQueue })
          : s.protocol === "https"
            ? new UrlSubscription(s.endpoint, { deadLetterQueue })
            : new SmsSubscription(s.endpoint, { deadLetterQueue }),
      );
    }

    for (const [name, table] of Object.entries(props.tables)) {
      const label = name.charAt(0).toUpperCase() + name.slice(1);
      this.alarm(
        `${label}TableThrottles`,
        table.metricThrottledRequestsForOperations({
          operations: TABLE_OPERATIONS,
          period: PERIOD,
        }),
        1,
        `DynamoDB throttled requests on the ${name} table`,
      );
      this.alarm(
        `${label}TableSystemErrors`,
        table.metricSystemErrorsForOperations({ operations: TABLE_OPERATIONS, period: PERIOD }),
        1,
        `DynamoDB system errors on the ${name} table`,
      );
    }

    // KMS: signing near the account's quota (AWS/Usage counts calls per minute), and throttled.
    const signs = new Metric({
      namespace: "AWS/Usage",
      metricName: "CallCount",
      dimensionsMap: { Service: "KMS", Type: "API", Resource: "Sign", Class: "None" },
      period: Duration.minutes(1),
      statistic: "Sum",
    });
    this.alarm(
      "KmsSignUsage",
      new MathExpression({
        expression: `100 * signs / 60 / ${props.kmsSignsPerSecond}`,
        usingMetrics: { signs },
        period: Duration.minutes(1),
        label: "KMS Sign, % of quota",
      }),
      t.kmsSignUsagePercent,
      `KMS Sign requests at ${t.kmsSignUsagePercent}% of the ${props.kmsSignsPerSecond}/s quota`,
      3,
      2,
    );
    const logs = this.logCodeMetrics(props.namespace, props.functionLogs);
    this.alarm("KmsThrottled", logs.KmsThrottled, 1, "KMS throttled a signing request");
    this.alarm(
      "EventDeliveryFailed",
      logs.EventDeliveryFailed,
      1,
      "An event delivery failed for good (all attempts used): see /admin/deliveries?state=failed",
    );

    // Floods: 4xx as a share of requests; 429 answers counted in the access log.
    const requests = props.api.metricCount({ period: PERIOD, statistic: "Sum" });
    const clientErrors = props.api.metricClientError({ period: PERIOD, statistic: "Sum" });
    this.alarm(
      "Api4xxRate",
      new MathExpression({
        expression: "IF(requests >= 100, 100 * errors / requests, 0)",
        usingMetrics: { errors: clientErrors, requests },
        period: PERIOD,
        label: "4xx %",
      }),
      t.api4xxRatePercent,
      "API 4xx, % of requests (at least 100 requests)",
    );
    new MetricFilter(this, "Throttled429Filter", {
      logGroup: props.accessLogs,
      metricNamespace: props.namespace,
      metricName: "Throttled429",
      filterPattern: FilterPattern.stringValue("$.status", "=", "429"),
      metricValue: "1",
    });
    this.alarm(
      "Throttled429",
      new Metric({
        namespace: props.namespace,
        metricName: "Throttled429",
        period: PERIOD,
        statistic: "Sum",
      }),
      t.throttled429,
      "429 answers (throttled routes or quotas exceeded)",
    );

    this.keyChanges = this.watchKeys(props);
    this.alarm(
      "NotificationsUndelivered",
      this.undelivered.metricApproximateNumberOfMessagesVisible({
        period: PERIOD,
        statistic: "Maximum",
      }),
      1,
      "An alarm or key notification could not be delivered (see the Undelivered queue)",
    );
  }

  /** An EventBridge rule: the CloudTrail record of a watched call on any gateway key, to the topic. */
  private watchKeys(props: OperationsProps): Rule {
    // The SnsTopic target lets EventBridge use the topic's KMS key itself.
    return new Rule(this, "KeyChanges", {
      description: "A gateway KMS key was disabled, scheduled for deletion or given a new policy",
      eventPattern: {
        source: ["aws.kms"],
        detailType: ["AWS API Call via CloudTrail"],
        detail: {
          eventSource: ["kms.amazonaws.com"],
          eventName: [...WATCHED_KEY_EVENTS],
          resources: { ARN: props.keys.map((k) => k.keyArn) },
        },
      },
      targets: [new SnsTopic(props.topic, { deadLetterQueue: this.undelivered })],
    });
  }

  private logCodeMetrics(
    namespace: string,
    logGroups: readonly ILogGroup[],
  ): Record<keyof typeof OPERATIONS_LOG_CODES, IMetric> {
    const out = {} as Record<keyof typeof OPERATIONS_LOG_CODES, IMetric>;
    for (const [metricName, code] of Object.entries(OPERATIONS_LOG_CODES) as [
      keyof typeof OPERATIONS_LOG_CODES,
      string,
    ][]) {
      logGroups.forEach((logGroup, i) => {
        new MetricFilter(this, `${metricName}Filter${i}`, {
          logGroup,
          metricNamespace: namespace,
          metricName,
          filterPattern: FilterPattern.stringValue("$.code", "=", code),
          metricValue: "1",
        });
      });
      out[metricName] = new Metric({ namespace, metricName, period: PERIOD, statistic: "Sum" });
    }
    return out;
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
