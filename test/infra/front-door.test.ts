/**
 * The front door (prod): the issuer is the gateway's own name from day one,
 * served by CloudFront behind an AWS WAF web ACL (in us-east-1), with the
 * API reachable around it only on the optional mTLS name; and the isolation
 * of the public routes, per-route throttles and reserved concurrency.
 */
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { FUNCTION_NAMES } from "../../infra/bundling.ts";
import { STAGE_CONFIGS } from "../../infra/config.ts";
import { MANAGED_RULE_GROUPS } from "../../infra/edge-stack.ts";
import {
  functionId,
  logicalId,
  type Resource,
  resources,
  type Synthesized,
  synth,
} from "./helpers.ts";

const FRONT_DOOR = {
  ...STAGE_CONFIGS.prod.frontDoor,
  domainName: "gateway.example.com",
  mtls: { domainName: "mtls.gateway.example.com", truststoreKey: "ca/partners.pem" },
};

let dev: Synthesized;
let prod: Synthesized;
let edge: Template;
beforeAll(() => {
  dev = synth({ stage: "dev" });
  prod = synth({ stage: "prod", config: JSON.stringify({ frontDoor: FRONT_DOOR }) });
  if (prod.edge === undefined) throw new Error("no edge stack");
  edge = Template.fromStack(prod.edge);
});

const props = (r: Resource | undefined) => r?.Properties ?? {};
const only = (s: Synthesized, type: string) => {
  const all = Object.values(resources(s.template, type));
  expect(all).toHaveLength(1);
  return props(all[0]);
};
const envOf = (s: Synthesized, name: (typeof FUNCTION_NAMES)[number]) =>
  (
    props(resources(s.template)[functionId(s, name)]).Environment as {
      Variables: Record<string, unknown>;
    }
  ).Variables;

describe("edge stack (us-east-1)", () => {
  it("lives in us-east-1 with the gateway's account, termination-protected in prod", () => {
    expect(prod.edge?.region).toBe("us-east-1");
    expect(prod.edge?.account).toBe(prod.config.account);
    expect(prod.edge?.terminationProtection).toBe(true);
    expect(dev.edge).toBeUndefined();
  });

  it("has a CLOUDFRONT web ACL: managed rule groups, then a per-IP rate limit", () => {
    const acl = Object.values(edge.toJSON().Resources as Record<string, Resource>).find(
      (r) => r.Type === "AWS::WAFv2::WebACL",
    );
    const p = props(acl);
    expect(p).toMatchObject({ Scope: "CLOUDFRONT", DefaultAction: { Allow: {} } });
    const rules = p.Rules as Record<string, unknown>[];
    expect(rules.map((r) => r.Name)).toEqual([
      ...MANAGED_RULE_GROUPS.map((g) => g.name),
      "RatePerIp",
    ]);
    expect(rules.map((r) => r.Priority)).toEqual(rules.map((_, i) => i));
    expect(rules[1]).toMatchObject({
      OverrideAction: { None: {} },
      Statement: {
        ManagedRuleGroupStatement: {
          VendorName: "AWS",
          Name: "AWSManagedRulesCommonRuleSet",
          // Partner data is inspected by the gateway; bodies must not be capped at 8 KB.
          RuleActionOverrides: [
            { Name: "SizeRestrictions_BODY", ActionToUse: { Count: {} } },
            { Name: "CrossSiteScripting_BODY", ActionToUse: { Count: {} } },
          ],
        },
      },
    });
    expect(rules.at(-1)).toMatchObject({
      Action: { Block: {} },
      Statement: {
        RateBasedStatement: {
          Limit: FRONT_DOOR.rateLimitPer5Minutes,
          AggregateKeyType: "IP",
          EvaluationWindowSec: 300,
        },
      },
      VisibilityConfig: { CloudWatchMetricsEnabled: true, SampledRequestsEnabled: true },
    });
  });

  it("issues the public name's certificate, validated in the zone", () => {
    edge.hasResourceProperties("AWS::CertificateManager::Certificate", {
      DomainName: FRONT_DOOR.domainName,
      ValidationMethod: "DNS",
      DomainValidationOptions: [
        { DomainName: FRONT_DOOR.domainName, HostedZoneId: FRONT_DOOR.hostedZoneId },
      ],
    });
  });
});

describe("CloudFront in front of the HTTP API", () => {
  it("serves the public name with the edge certificate and web ACL, TLS 1.2+", () => {
    const config = only(prod, "AWS::CloudFront::Distribution").DistributionConfig as Record<
      string,
      unknown
    >;
    expect(config).toMatchObject({
      Aliases: [FRONT_DOOR.domainName],
      Enabled: true,
      ViewerCertificate: {
        MinimumProtocolVersion: "TLSv1.2_2021",
        SslSupportMethod: "sni-only",
        AcmCertificateArn: {
          "Fn::GetStackOutput": {
            StackName: prod.edge?.stackName,
            Region: "us-east-1",
            OutputName: expect.stringContaining("Certificate"),
          },
        },
      },
      WebACLId: {
        "Fn::GetStackOutput": {
          StackName: prod.edge?.stackName,
          Region: "us-east-1",
          OutputName: expect.stringContaining("WebAclArn"),
        },
      },
      Logging: { Prefix: "cloudfront/" },
    });
  });

  it("passes every method and header but Host, caches nothing, HTTPS end to end", () => {
    const config = only(prod, "AWS::CloudFront::Distribution").DistributionConfig as {
      DefaultCacheBehavior: Record<string, unknown>;
      Origins: Record<string, unknown>[];
    };
    expect(config.DefaultCacheBehavior).toMatchObject({
      ViewerProtocolPolicy: "https-only",
      AllowedMethods: ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
      // AWS managed policies: CachingDisabled, AllViewerExceptHostHeader.
      CachePolicyId: "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
      OriginRequestPolicyId: "b689b0a8-53d0-40ab-baf2-68738e2966ac",
    });
    const api = logicalId(prod.stack.api.api);
    expect(config.Origins).toEqual([
      expect.objectContaining({
        DomainName: {
          "Fn::Select": [2, { "Fn::Split": ["/", { "Fn::GetAtt": [api, "ApiEndpoint"] }] }],
        },
        CustomOriginConfig: expect.objectContaining({
          OriginProtocolPolicy: "https-only",
          OriginSSLProtocols: ["TLSv1.2"],
        }),
      }),
    ]);
  });

  it("proves each request came through it with a secret header the functions check", () => {
    const config = only(prod, "AWS::CloudFront::Distribution").DistributionConfig as {
      Origins: { OriginCustomHeaders: { HeaderName: string; HeaderValue: unknown }[] }[];
    };
    const secret = logicalId(prod.stack.frontDoor?.originSecret as never);
    const resolved = {
      "Fn::Join": ["", ["{{resolve:secretsmanager:", { Ref: secret }, ":SecretString:::}}"]],
    };
    expect(config.Origins[0]?.OriginCustomHeaders).toEqual([
      { HeaderName: "x-gateway-origin", HeaderValue: resolved },
    ]);
    for (const name of ["token", "exchange", "catalog", "admin", "metrics", "meta"] as const) {
      expect(envOf(prod, name)).toMatchObject({
        ORIGIN_VERIFY: resolved,
        MTLS_DOMAIN: FRONT_DOOR.mtls.domainName,
      });
    }
    expect(envOf(prod, "events").ORIGIN_VERIFY).toBeUndefined();
    prod.template.hasResourceProperties("AWS::SecretsManager::Secret", {
      GenerateSecretString: { PasswordLength: 48, ExcludePunctuation: true },
    });
  });

  it("points the public name at the distribution (IPv4 and IPv6)", () => {
    for (const type of ["A", "AAAA"]) {
      prod.template.hasResourceProperties("AWS::Route53::RecordSet", {
        Name: `${FRONT_DOOR.domainName}.`,
        Type: type,
        HostedZoneId: FRONT_DOOR.hostedZoneId,
        AliasTarget: Match.objectLike({
          DNSName: {
            "Fn::GetAtt": [logicalId(prod.stack.frontDoor?.distribution as never), "DomainName"],
          },
        }),
      });
    }
  });

  it("keeps its logs in an encrypted, private, TLS-only bucket", () => {
    const bucket = props(
      resources(prod.template)[logicalId(prod.stack.frontDoor?.logBucket as never)],
    );
    expect(bucket).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } },
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerPreferred" }] },
    });
  });
});

describe("the issuer", () => {
  it("is the public name in prod, from day one; the API endpoint in dev", () => {
    for (const name of FUNCTION_NAMES) {
      expect(envOf(prod, name).ISSUER).toBe(`https://${FRONT_DOOR.domainName}`);
      expect(envOf(dev, name).ISSUER).toEqual({
        "Fn::GetAtt": [logicalId(dev.stack.api.api), "ApiEndpoint"],
      });
    }
    const outputs = prod.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.Issuer?.Value).toBe(`https://${FRONT_DOOR.domainName}`);
    expect(outputs.TruststoreBucketName?.Value).toEqual({
      Ref: logicalId(prod.stack.frontDoor?.truststoreBucket as never),
    });
    expect(outputs.DistributionDomainName).toBeDefined();
    expect(Object.values(resources(dev.template, "AWS::CloudFront::Distribution"))).toEqual([]);
  });
});

describe("mutual TLS on the API's own name", () => {
  it("a regional custom domain with the truststore in S3, mapped to the stage", () => {
    const truststore = logicalId(prod.stack.frontDoor?.truststoreBucket as never);
    const domain = only(prod, "AWS::ApiGatewayV2::DomainName");
    expect(domain).toMatchObject({
      DomainName: FRONT_DOOR.mtls.domainName,
      DomainNameConfigurations: [{ EndpointType: "REGIONAL" }],
      MutualTlsAuthentication: {
        TruststoreUri: { "Fn::Join": ["", ["s3://", { Ref: truststore }, "/ca/partners.pem"]] },
      },
    });
    prod.template.hasResourceProperties("AWS::ApiGatewayV2::ApiMapping", {
      ApiId: { Ref: logicalId(prod.stack.api.api) },
      DomainName: { Ref: logicalId(prod.stack.frontDoor?.mtlsDomain as never) },
      Stage: "$default",
    });
    prod.template.hasResourceProperties("AWS::Route53::RecordSet", {
      Name: `${FRONT_DOOR.mtls.domainName}.`,
      Type: "A",
    });
    prod.template.hasResourceProperties("AWS::CertificateManager::Certificate", {
      DomainName: FRONT_DOOR.mtls.domainName,
      ValidationMethod: "DNS",
    });
  });

  it("keeps the truststore versioned, private, TLS-only and access-logged", () => {
    const bucket = props(
      resources(prod.template)[logicalId(prod.stack.frontDoor?.truststoreBucket as never)],
    );
    expect(bucket).toMatchObject({
      VersioningConfiguration: { Status: "Enabled" },
      LoggingConfiguration: {
        DestinationBucketName: { Ref: logicalId(prod.stack.frontDoor?.logBucket as never) },
      },
      PublicAccessBlockConfiguration: expect.objectContaining({ BlockPublicPolicy: true }),
    });
    prod.template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: { Ref: logicalId(prod.stack.frontDoor?.truststoreBucket as never) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Deny",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
        ]),
      },
    });
  });

  it("is optional: the shipped prod config has none until a truststore is uploaded", () => {
    const shipped = synth({ stage: "prod" });
    expect(Object.values(resources(shipped.template, "AWS::ApiGatewayV2::DomainName"))).toEqual([]);
    expect(envOf(shipped, "token").MTLS_DOMAIN).toBeUndefined();
  });

  it("logs the client certificate's subject with each request", () => {
    const stage = only(prod, "AWS::ApiGatewayV2::Stage");
    const format = JSON.parse((stage.AccessLogSettings as { Format: string }).Format);
    expect(format).toMatchObject({
      clientCertSubject: "$context.identity.clientCert.subjectDN",
      integrationRequestId: "$context.integration.requestId",
    });
  });
});

describe("isolation", () => {
  it("public routes and every unmatched one run on the small meta function", () => {
    const meta = props(resources(dev.template)[functionId(dev, "meta")]);
    expect(meta).toMatchObject({ MemorySize: 256, Timeout: 5 });
  });

  it("throttles token issuance per route, within half of KMS's signing quota", () => {
    for (const s of [dev, prod]) {
      const stage = only(s, "AWS::ApiGatewayV2::Stage");
      const routes = stage.RouteSettings as Record<string, { ThrottlingRateLimit: number }>;
      const token = routes["POST /oauth/token"]?.ThrottlingRateLimit ?? Number.POSITIVE_INFINITY;
      expect(token).toBeLessThanOrEqual(s.config.kmsSignsPerSecond / 2);
      expect(token).toBeLessThan(
        (stage.DefaultRouteSettings as { ThrottlingRateLimit: number }).ThrottlingRateLimit,
      );
      expect(Object.keys(routes).sort()).toEqual(
        ["$default", "ANY /admin/{proxy+}", "GET /metrics/{proxy+}", "POST /oauth/token"].sort(),
      );
    }
    expect(prod.config.kmsSignsPerSecond).toBe(300);
  });

  it("reserves concurrency in prod so token issuance and revocations are never starved", () => {
    const reserved = (name: (typeof FUNCTION_NAMES)[number]) =>
      props(resources(prod.template)[functionId(prod, name)]).ReservedConcurrentExecutions;
    expect(reserved("token")).toBeGreaterThanOrEqual(10);
    expect(reserved("admin")).toBeGreaterThanOrEqual(5);
    // Scanner traffic ($default) is capped by meta's own small reservation.
    expect(reserved("meta")).toBeLessThanOrEqual(10);
  });

  it("protects the prod stacks from deletion, not dev's", () => {
    expect(prod.stack.terminationProtection).toBe(true);
    expect(dev.stack.terminationProtection).toBe(false);
  });
});
