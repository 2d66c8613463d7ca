import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type { IGrantable } from "aws-cdk-lib/aws-iam";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type CfnBucket,
  ObjectOwnership,
} from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import type { ObjectAccess } from "../access.ts";

/** Pinned logical id: a changed id would create a new, empty bucket. */
export const OBJECTS_LOGICAL_ID = "ObjectsBucket";

export interface ObjectsProps {
  /**
   * Prefixes whose objects expire, and after how many days (S3 lifecycle
   * expiry runs once a day, so an object may outlive its days by up to a day).
   * @default no expiry rules
   */
  readonly expiringPrefixes?: Readonly<Record<string, number>>;
}

/**
 * The gateway's object store: one private bucket (all public access blocked,
 * bucket-owner objects, no ACLs), TLS only, S3-managed encryption at rest
 * (replay bodies are also sealed by the gateway itself; transfer bodies are
 * served by presigned URLs, so S3 decrypts them), expiry by prefix,
 * retained on stack deletion, a CloudFormation-generated name (functions get
 * it as OBJECTS_BUCKET). No bucket policy grants anyone: access is by the
 * functions' IAM grants (and the URLs they sign) only.
 */
export class Objects extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: ObjectsProps = {}) {
    super(scope, id);
    this.bucket = new Bucket(this, OBJECTS_LOGICAL_ID, {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      encryption: BucketEncryption.S3_MANAGED,
      versioned: false,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
        ...Object.entries(props.expiringPrefixes ?? {}).map(([prefix, days]) => ({
          prefix,
          expiration: Duration.days(days),
        })),
      ],
    });
    (this.bucket.node.defaultChild as CfnBucket).overrideLogicalId(OBJECTS_LOGICAL_ID);
  }

  /** Exactly the object actions of `access`, on the objects its key patterns match only. */
  grant(grantee: IGrantable, access: ObjectAccess): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: access.actions.map((a) => `s3:${a}`),
        resources: access.keys.map((k) => this.bucket.arnForObjects(k)),
      }),
    );
  }

  /** Listing the bucket, for prefixes matching `prefixes` only (the `s3:prefix` condition). */
  grantList(grantee: IGrantable, prefixes: readonly string[]): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ["s3:ListBucket"],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": [...prefixes] } },
      }),
    );
  }
}
