import { Duration } from "aws-cdk-lib";
import {
  type Alarm,
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  type IMetric,
  type Metric,
  TextWidget,
} from "aws-cdk-lib/aws-cloudwatch";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { Construct } from "constructs";

/** The gateway's key metrics, as the dashboard shows them. */
export interface DashboardMetrics {
  readonly apiRequests: IMetric;
  readonly apiErrors: IMetric;
  readonly api5xxRate: IMetric;
  readonly apiP99: IMetric;
  readonly exchangeP99: IMetric;
  readonly meteringUnavailable: IMetric;
  readonly leakBlocked: IMetric;
  readonly failedBatches: IMetric;
  readonly iteratorAge: IMetric;
  readonly transfersFailed: IMetric;
  readonly transfersBlocked: IMetric;
  readonly transferFailedJobs: IMetric;
  readonly transferWorkerLongest: IMetric;
}

export interface GatewayDashboardProps {
  readonly metrics: DashboardMetrics;
  /** Functions by name (one line each in the per-function graphs). */
  readonly functions: Readonly<Record<string, IFunction>>;
  readonly alarms: readonly Alarm[];
}

/**
 * One CloudWatch dashboard: alarm status, API traffic/5xx/latency, exchange
 * duration, per-function invocations/errors/throttles, the log-code counts
 * the outbox's health and the transfers'. CloudFormation names it.
 */
export class GatewayDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: GatewayDashboardProps) {
    super(scope, id);
    const m = props.metrics;
    const period = Duration.minutes(5);
    const perFunction = (pick: (fn: IFunction) => Metric) =>
      Object.entries(props.functions).map(([name, fn]) => pick(fn).with({ label: name }));

    this.dashboard = new Dashboard(this, "Dashboard");
    this.dashboard.addWidgets(
      new TextWidget({ markdown: "# Data-sharing gateway", width: 24, height: 1 }),
      new AlarmStatusWidget({ title: "Alarms", alarms: [...props.alarms], width: 24, height: 4 }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "API requests and 5xx",
        left: [m.apiRequests, m.apiErrors],
        right: [m.api5xxRate],
        width: 8,
      }),
      new GraphWidget({ title: "API p99 latency (ms)", left: [m.apiP99], width: 8 }),
      new GraphWidget({ title: "Exchange p99 duration (ms)", left: [m.exchangeP99], width: 8 }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Invocations",
        left: perFunction((fn) => fn.metricInvocations({ period })),
        width: 8,
      }),
      new GraphWidget({
        title: "Errors",
        left: perFunction((fn) => fn.metricErrors({ period })),
        width: 8,
      }),
      new GraphWidget({
        title: "Throttles",
        left: perFunction((fn) => fn.metricThrottles({ period })),
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "metering_unavailable / leak_blocked",
        left: [m.meteringUnavailable, m.leakBlocked],
        width: 8,
      }),
      new GraphWidget({ title: "Outbox failed batches", left: [m.failedBatches], width: 8 }),
      new GraphWidget({ title: "Outbox stream lag (ms)", left: [m.iteratorAge], width: 8 }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Transfers failed / blocked",
        left: [m.transfersFailed, m.transfersBlocked],
        width: 8,
      }),
      new GraphWidget({
        title: "Transfer jobs given up on",
        left: [m.transferFailedJobs],
        width: 8,
      }),
      new GraphWidget({
        title: "Longest transfer run (ms, limit 900000)",
        left: [m.transferWorkerLongest],
        width: 8,
      }),
    );
  }
}
