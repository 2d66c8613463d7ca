import { Duration } from "aws-cdk-lib";
import type { IAlarmAction } from "aws-cdk-lib/aws-cloudwatch";
import {
  Alarm,
  ComparisonOperator,
  type IAlarm,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import {
  LambdaApplication,
  LambdaDeploymentConfig,
  LambdaDeploymentGroup,
  TrafficRouting,
} from "aws-cdk-lib/aws-codedeploy";
import { ManagedPolicy, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";
import type { GatewayFunction } from "./gateway-function.ts";

export interface CanaryReleasesProps {
  /** The functions to release through their `live` alias. */
  readonly functions: Readonly<Record<string, GatewayFunction>>;
  /** Share of traffic (percent) the new version takes first, and for how many minutes. */
  readonly canaryPercent: number;
  readonly canaryMinutes: number;
  /** Stage-wide alarms that also roll any release back (API 5xx rate, metering). */
  readonly sharedAlarms: readonly IAlarm[];
  /** Where the per-function canary alarms notify (the alarm topic). */
  readonly alarmAction: IAlarmAction;
}

/**
 * Every function is released through its `live` alias (which the API, the
 * outbox stream and the schedule invoke) by CodeDeploy: a new version takes
 * a canary share of the traffic first, and the deployment rolls back when
 * the function's own alias errors or a shared alarm fires in the meantime.
 */
export class CanaryReleases extends Construct {
  readonly application: LambdaApplication;
  readonly config: LambdaDeploymentConfig;
  readonly role: Role;
  readonly groups: Record<string, LambdaDeploymentGroup> = {};
  readonly alarms: Record<string, Alarm> = {};

  constructor(scope: Construct, id: string, props: CanaryReleasesProps) {
    super(scope, id);
    this.application = new LambdaApplication(this, "Application");
    this.config = new LambdaDeploymentConfig(this, "Config", {
      trafficRouting: TrafficRouting.timeBasedCanary({
        interval: Duration.minutes(props.canaryMinutes),
        percentage: props.canaryPercent,
      }),
    });
    // One role for every group: CodeDeploy's managed policy for Lambda releases only.
    this.role = new Role(this, "Role", {
      assumedBy: new ServicePrincipal("codedeploy.amazonaws.com"),
      managedPolicies: [
        ManagedPolicy.fromAwsManagedPolicyName("service-role/AWSCodeDeployRoleForLambdaLimited"),
      ],
    });
    for (const [name, fn] of Object.entries(props.functions)) {
      const label = name.charAt(0).toUpperCase() + name.slice(1);
      const errors = new Alarm(this, `${label}AliasErrors`, {
        metric: fn.alias.metricErrors({ period: Duration.minutes(1), statistic: "Sum" }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: `${name}: errors of the live alias (rolls a release back)`,
      });
      errors.addAlarmAction(props.alarmAction);
      this.alarms[name] = errors;
      this.groups[name] = new LambdaDeploymentGroup(this, `${label}Group`, {
        application: this.application,
        alias: fn.alias,
        deploymentConfig: this.config,
        role: this.role,
        alarms: [errors, ...props.sharedAlarms],
        autoRollback: { failedDeployment: true, stoppedDeployment: true, deploymentInAlarm: true },
      });
    }
  }
}
