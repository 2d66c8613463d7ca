/** The large transfers' AWS side: the worker, how jobs reach it, who may start them, alarms. */
import { Match } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { bodyKey, stagingKey, uploadKey } from "../../functions/transfers/keys.ts";
import { FUNCTION_NAMES } from "../../infra/bundling.ts";
import { ConfigError, resolveConfig } from "../../infra/config.ts";
import {
  functionId,
  logicalId,
  type Resource,
  resources,
  roleId,
  rolePermissions,
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
const queueId = (s: Synthesized) => logicalId(s.stack.transferJobs.failedJobs);
const aliasId = (s: Synthesized) => logicalId(s.stack.functions.transferWorker.alias);

describe("the transfer worker", () => {
  it("runs up to Lambda's 15 minutes on one whole vCPU, reserved per stage", () => {
    for (const s of [dev, prod]) {
      const fn = props(resources(s.template)[functionId(s, "transferWorker")]);
      expect(fn).toMatchObject({ Timeout: 900, MemorySize: 1769, Runtime: "nodejs22.x" });
    }
    const reserved = (s: Synthesized) =>
      props(resources(s.template)[functionId(s, "transferWorker")]).ReservedConcurrentExecutions;
    expect(reserved(dev)).toBeUndefined();
    expect(reserved(prod)).toBe(20);
    expect(prod.config.reservedConcurrency.transferWorker).toBe(20);
  });

  it("is invoked asynchronously through its live alias: bounded retries, age, a failure queue", () => {
    const configs = Object.values(resources(dev.template, "AWS::Lambda::EventInvokeConfig")).filter(
      (c) => describeFunction(props(c).FunctionName) === functionId(dev, "transferWorker"),
    );
    expect(configs).toHaveLength(1);
    expect(props(configs[0])).toEqual({
      FunctionName: { Ref: functionId(dev, "transferWorker") },
      Qualifier: { "Fn::Select": [7, { "Fn::Split": [":", { Ref: aliasId(dev) }] }] },
      MaximumRetryAttempts: 1,
      MaximumEventAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": [queueId(dev), "Arn"] } } },
    });
  });

  it("its failure queue is encrypted, TLS only, keeps jobs 14 days, and only the worker writes to it", () => {
    const queue = resources(dev.template)[queueId(dev)];
    expect(props(queue)).toMatchObject({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    dev.template.hasResourceProperties("AWS::SQS::QueuePolicy", {
      Queues: [{ Ref: queueId(dev) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Deny",
            Action: "sqs:*",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
        ]),
      },
    });
    const senders = FUNCTION_NAMES.filter((n) =>
      [...rolePermissions(dev.template, roleId(dev, n))].some((p) => p.endsWith(queueId(dev))),
    );
    expect(senders).toEqual(["transferWorker"]);
    // The destination is written by Lambda with the worker's role: SendMessage only.
    expect(
      [...rolePermissions(dev.template, roleId(dev, "transferWorker"))].filter((p) =>
        p.startsWith("sqs:"),
      ),
    ).toEqual([`sqs:SendMessage on ${queueId(dev)}`]);
  });

  it("only the transfers function may start jobs, on the worker's alias and nothing else", () => {
    for (const name of FUNCTION_NAMES) {
      const lambda = [...rolePermissions(dev.template, roleId(dev, name))].filter((p) =>
        p.startsWith("lambda:"),
      );
      expect(lambda, name).toEqual(
        name === "transfers" ? [`lambda:InvokeFunction on ${aliasId(dev)}`] : [],
      );
    }
  });

  it("nobody else may invoke it: no resource policy lets a service or account in", () => {
    const permissions = Object.values(resources(dev.template, "AWS::Lambda::Permission")).filter(
      (p) =>
        [functionId(dev, "transferWorker"), aliasId(dev)].includes(
          describeFunction(props(p).FunctionName),
        ),
    );
    expect(permissions).toEqual([]);
  });
});

describe("the objects bucket, for transfers", () => {
  const bucket = (s: Synthesized) => props(resources(s.template).ObjectsBucket);

  it("expires every transfer object a day after it was written, and stale multipart parts", () => {
    for (const s of [dev, prod]) {
      const rules = (bucket(s).LifecycleConfiguration as { Rules: Record<string, unknown>[] })
        .Rules;
      expect(rules).toContainEqual({
        Prefix: "transfers/",
        ExpirationInDays: 1,
        Status: "Enabled",
      });
      expect(rules).toContainEqual({
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
        Status: "Enabled",
      });
      // The rule's prefix covers every key the transfers write.
      for (const key of [bodyKey("t-1", 2), stagingKey("t-1", 2), uploadKey("t-1")])
        expect(key.startsWith("transfers/"), key).toBe(true);
    }
  });

  it("stays private, TLS only, encrypted", () => {
    expect(bucket(dev)).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } },
        ],
      },
    });
    dev.template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: { Ref: "ObjectsBucket" },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Deny",
            Action: "s3:*",
            Principal: { AWS: "*" },
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
        ]),
      },
    });
  });

  it("lists only where transfers' objects are deleted, and transfers' prefixes only", () => {
    for (const name of FUNCTION_NAMES) {
      const listing = Object.values(resources(dev.template, "AWS::IAM::Policy"))
        .filter((p) =>
          ((p.Properties?.Roles as { Ref?: string }[]) ?? []).some(
            (r) => r.Ref === roleId(dev, name),
          ),
        )
        .flatMap(
          (p) =>
            (p.Properties?.PolicyDocument as { Statement?: Record<string, unknown>[] } | undefined)
              ?.Statement ?? [],
        )
        .filter((st) => JSON.stringify(st.Action).includes("s3:List"));
      expect(listing, name).toEqual(
        ["transfers", "events", "transferWorker"].includes(name)
          ? [
              {
                Effect: "Allow",
                Action: "s3:ListBucket",
                Resource: { "Fn::GetAtt": ["ObjectsBucket", "Arn"] },
                Condition: { StringLike: { "s3:prefix": ["transfers/*"] } },
              },
            ]
          : [],
      );
    }
  });
});

describe("transfer alarms", () => {
  const alarm = (s: Synthesized, id: string) =>
    props(resources(s.template)[logicalId(s.stack.monitoring.node.findChild(id))]);

  it("on transfers failed and blocked (log codes), with the stage's thresholds", () => {
    for (const s of [dev, prod]) {
      expect(alarm(s, "TransfersFailed")).toMatchObject({
        Namespace: `DataSharingGateway/${s.config.stage}`,
        MetricName: "TransferFailed",
        Statistic: "Sum",
        Threshold: s.config.alarms.transfersFailed,
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
      });
      expect(alarm(s, "TransfersBlocked")).toMatchObject({
        MetricName: "TransferBlocked",
        Threshold: s.config.alarms.transfersBlocked,
      });
    }
    expect(prod.config.alarms.transfersBlocked).toBe(1);
  });

  it("on any job Lambda gave up on, and on a run close to the 15 minutes", () => {
    expect(alarm(dev, "TransferFailedJobs")).toMatchObject({
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [queueId(dev), "QueueName"] } }],
      Statistic: "Maximum",
      Threshold: 1,
    });
    expect(alarm(dev, "TransferWorkerNearTimeout")).toMatchObject({
      Namespace: "AWS/Lambda",
      MetricName: "Duration",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: functionId(dev, "transferWorker") } }],
      Statistic: "Maximum",
      Threshold: 12 * 60 * 1000,
    });
  });

  it("the failure queue's URL is an output", () => {
    const outputs = dev.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.TransferFailedJobsQueueUrl?.Value).toEqual({ Ref: queueId(dev) });
  });
});

describe("transfer configuration", () => {
  it("refuses retries Lambda cannot do", () => {
    expect(() => resolveConfig({ config: { transfers: { workerRetryAttempts: 3 } } })).toThrow(
      ConfigError,
    );
    expect(
      resolveConfig({ config: { transfers: { workerRetryAttempts: 0 } } }).transfers,
    ).toMatchObject({ workerRetryAttempts: 0, jobMaxAgeHours: 6 });
  });
});

/** The function a FunctionName property names: its logical id (a Ref, or a join's first Ref). */
function describeFunction(value: unknown): string {
  const v = value as { Ref?: string; "Fn::Join"?: [string, { Ref?: string }[]] };
  if (v.Ref !== undefined) return v.Ref;
  const first = v["Fn::Join"]?.[1]?.[0];
  return first?.Ref ?? JSON.stringify(value);
}
