import { Duration, Fn, RemovalPolicy, SecretValue } from "aws-cdk-lib";
import type { HttpApi, IHttpStage } from "aws-cdk-lib/aws-apigatewayv2";
import { ApiMapping, DomainName } from "aws-cdk-lib/aws-apigatewayv2";
import {
  Certificate,
  CertificateValidation,
  type ICertificate,
} from "aws-cdk-lib/aws-certificatemanager";
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  OriginSslPolicy,
  PriceClass,
  SecurityPolicyProtocol,
  ViewerProtocolPolicy,
} from "aws-cdk-lib/aws-cloudfront";
import { HttpOrigin } from "aws-cdk-lib/aws-cloudfront-origins";
import { AaaaRecord, ARecord, HostedZone, RecordTarget } from "aws-cdk-lib/aws-route53";
import { ApiGatewayv2DomainProperties, CloudFrontTarget } from "aws-cdk-lib/aws-route53-targets";
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from "aws-cdk-lib/aws-s3";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import type { FrontDoorConfig } from "../config.ts";

/**
 * The header CloudFront adds to every request it passes to the API. The
 * functions refuse requests without it (except those on the mTLS name, which
 * carry a verified client certificate instead), so nobody reaches the API
 * around the web ACL through its execute-api URL.
 */
export const ORIGIN_VERIFY_HEADER = "x-gateway-origin";

export interface FrontDoorProps {
  readonly config: FrontDoorConfig;
  readonly api: HttpApi;
  readonly stage: IHttpStage;
  /** The us-east-1 web ACL's ARN and certificate (EdgeStack). */
  readonly webAclArn: string;
  readonly edgeCertificate: ICertificate;
  /**
   * What happens to the log and truststore buckets when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The gateway's public name: a CloudFront distribution (AWS WAF web ACL,
 * TLS 1.2+, no caching, every method, all viewer headers but Host) in front
 * of the HTTP API, with DNS records in the zone; and, when configured, a
 * second name on an API Gateway regional custom domain with mutual TLS
 * (truststore in S3) for partners who authenticate with certificates.
 */
export class FrontDoor extends Construct {
  readonly distribution: Distribution;
  readonly logBucket: Bucket;
  readonly truststoreBucket: Bucket;
  readonly originSecret: Secret;
  readonly mtlsDomain: DomainName | undefined;
  /** The issuer: https://<domainName>. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: FrontDoorProps) {
    super(scope, id);
    const { config } = props;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.url = `https://${config.domainName}`;
    const zone = HostedZone.fromHostedZoneAttributes(this, "Zone", {
      hostedZoneId: config.hostedZoneId,
      zoneName: config.zoneName,
    });

    // CloudFront's standard logs need ACLs on their bucket (bucket-owner-preferred).
    this.logBucket = new Bucket(this, "Logs", {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy,
    });
    this.truststoreBucket = new Bucket(this, "Truststore", {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      versioned: true,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: "truststore-access/",
      removalPolicy,
    });

    this.originSecret = new Secret(this, "OriginSecret", {
      description: `Sent by CloudFront to the gateway's API in ${ORIGIN_VERIFY_HEADER}`,
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // https://<id>.execute-api.<region>.amazonaws.com → <id>.execute-api.<region>.amazonaws.com
    const apiHost = Fn.select(2, Fn.split("/", props.api.apiEndpoint));
    this.distribution = new Distribution(this, "Distribution", {
      comment: "Data-sharing gateway",
      domainNames: [config.domainName],
      certificate: props.edgeCertificate,
      minimumProtocolVersion: SecurityPolicyProtocol.TLS_V1_2_2021,
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
      webAclId: props.webAclArn,
      enableLogging: true,
      logBucket: this.logBucket,
      logFilePrefix: "cloudfront/",
      defaultBehavior: {
        origin: new HttpOrigin(apiHost, {
          protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY,
          originSslProtocols: [OriginSslPolicy.TLS_V1_2],
          readTimeout: Duration.seconds(30),
          customHeaders: {
            [ORIGIN_VERIFY_HEADER]: this.originSecret.secretValue.unsafeUnwrap(),
          },
        }),
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: AllowedMethods.ALLOW_ALL,
        cachePolicy: CachePolicy.CACHING_DISABLED,
        originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        compress: false,
      },
    });
    const target = RecordTarget.fromAlias(new CloudFrontTarget(this.distribution));
    new ARecord(this, "Alias", { zone, recordName: config.domainName, target });
    new AaaaRecord(this, "AliasV6", { zone, recordName: config.domainName, target });

    this.mtlsDomain = config.mtls === undefined ? undefined : this.mtls(config, props, zone);
  }

  /** The origin secret as the functions compare it (resolved by CloudFormation at deploy). */
  get originSecretValue(): string {
    return SecretValue.secretsManager(this.originSecret.secretArn).unsafeUnwrap();
  }

  private mtls(
    config: FrontDoorConfig,
    props: FrontDoorProps,
    zone: ReturnType<typeof HostedZone.fromHostedZoneAttributes>,
  ): DomainName {
    const mtls = config.mtls as NonNullable<FrontDoorConfig["mtls"]>;
    const certificate = new Certificate(this, "MtlsCertificate", {
      domainName: mtls.domainName,
      validation: CertificateValidation.fromDns(zone),
    });
    const domain = new DomainName(this, "MtlsDomain", {
      domainName: mtls.domainName,
      certificate,
      mtls: {
        bucket: this.truststoreBucket,
        key: mtls.truststoreKey,
        ...(mtls.truststoreVersion === undefined ? {} : { version: mtls.truststoreVersion }),
      },
    });
    new ApiMapping(this, "MtlsMapping", { api: props.api, domainName: domain, stage: props.stage });
    new ARecord(this, "MtlsAlias", {
      zone,
      recordName: mtls.domainName,
      target: RecordTarget.fromAlias(
        new ApiGatewayv2DomainProperties(domain.regionalDomainName, domain.regionalHostedZoneId),
      ),
    });
    return domain;
  }
}
