/**
 * What CloudFront needs from us-east-1, whatever region the gateway runs in:
 * the AWS WAF web ACL (CLOUDFRONT scope exists only there) and the
 * certificate of the public name. The gateway stack reads both through
 * CDK's cross-region references.
 */
import { Stack, type StackProps } from "aws-cdk-lib";
import { Certificate, CertificateValidation } from "aws-cdk-lib/aws-certificatemanager";
import { HostedZone } from "aws-cdk-lib/aws-route53";
import { CfnWebACL } from "aws-cdk-lib/aws-wafv2";
import type { Construct } from "constructs";
import type { FrontDoorConfig } from "./config.ts";

/**
 * AWS managed rule groups, in order. The common rule set's body rules are
 * counted, not enforced: exchanges carry partner data (JSON, NDJSON, CSV up
 * to 6 MiB) that the gateway inspects itself, field by field; an 8 KB body
 * cap or an XSS pattern in a record must not refuse a legitimate delivery.
 */
export const MANAGED_RULE_GROUPS = [
  { name: "AWSManagedRulesAmazonIpReputationList", countOnly: [] },
  {
    name: "AWSManagedRulesCommonRuleSet",
    countOnly: ["SizeRestrictions_BODY", "CrossSiteScripting_BODY"],
  },
  { name: "AWSManagedRulesKnownBadInputsRuleSet", countOnly: [] },
] as const;

export interface EdgeStackProps extends StackProps {
  readonly frontDoor: FrontDoorConfig;
  /** Metric name prefix of the web ACL's rules. */
  readonly metricPrefix: string;
}

export class EdgeStack extends Stack {
  readonly webAcl: CfnWebACL;
  readonly certificate: Certificate;

  constructor(scope: Construct, id: string, props: EdgeStackProps) {
    super(scope, id, props);
    const { frontDoor } = props;
    const visibility = (name: string) => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName: `${props.metricPrefix}${name}`,
    });
    const managed = MANAGED_RULE_GROUPS.map(
      (group, priority): CfnWebACL.RuleProperty => ({
        name: group.name,
        priority,
        overrideAction: { none: {} },
        statement: {
          managedRuleGroupStatement: {
            vendorName: "AWS",
            name: group.name,
            ...(group.countOnly.length > 0
              ? {
                  ruleActionOverrides: group.countOnly.map((rule) => ({
                    name: rule,
                    actionToUse: { count: {} },
                  })),
                }
              : {}),
          },
        },
        visibilityConfig: visibility(group.name),
      }),
    );
    this.webAcl = new CfnWebACL(this, "WebAcl", {
      scope: "CLOUDFRONT",
      defaultAction: { allow: {} },
      description: "Data-sharing gateway: managed rules and a per-IP rate limit",
      visibilityConfig: visibility("WebAcl"),
      rules: [
        ...managed,
        {
          name: "RatePerIp",
          priority: managed.length,
          action: { block: {} },
          statement: {
            rateBasedStatement: {
              limit: frontDoor.rateLimitPer5Minutes,
              aggregateKeyType: "IP",
              evaluationWindowSec: 300,
            },
          },
          visibilityConfig: visibility("RatePerIp"),
        },
      ],
    });
    const zone = HostedZone.fromHostedZoneAttributes(this, "Zone", {
      hostedZoneId: frontDoor.hostedZoneId,
      zoneName: frontDoor.zoneName,
    });
    this.certificate = new Certificate(this, "Certificate", {
      domainName: frontDoor.domainName,
      validation: CertificateValidation.fromDns(zone),
    });
  }
}
