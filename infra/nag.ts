import type { App } from "aws-cdk-lib";
import { Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks, type NagPack, ServerlessChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { REPLAY_PREFIX } from "../functions/exchange/replays.ts";
import { FUNCTION_ACCESS } from "./access.ts";
import type { FunctionName } from "./bundling.ts";
import type { CanaryReleases } from "./constructs/canary.ts";
import type { FrontDoor } from "./constructs/front-door.ts";
import type { GatewayApi } from "./constructs/gateway-api.ts";
import type { GatewayFunction } from "./constructs/gateway-function.ts";
import type { Objects } from "./constructs/objects.ts";
import type { Operations } from "./constructs/operations.ts";
import type { OutboxEvents } from "./constructs/outbox-events.ts";
import type { TransferJobs } from "./constructs/transfer-jobs.ts";

/**
 * Registers the cdk-nag 3 rule packs (AwsSolutions, Serverless) as CDK
 * policy-validation plugins: every synth runs them and fails on any finding
 * that is not acknowledged in `acknowledgeNagFindings`.
 */
export function addNagPacks(app: App): NagPack[] {
  const packs = [
    new AwsSolutionsChecks(app, { verbose: true }),
    new ServerlessChecks(app, { verbose: true }),
  ];
  Validations.of(app).addPlugins(...packs);
  return packs;
}

export interface NagParts {
  readonly functions: Readonly<Record<FunctionName, GatewayFunction>>;
  readonly api: GatewayApi;
  readonly outboxEvents: OutboxEvents;
  readonly objects: Objects;
  readonly frontDoor?: FrontDoor | undefined;
  readonly releases: CanaryReleases;
  readonly operations: Operations;
  readonly transferJobs: TransferJobs;
}

/** Why each acknowledged rule does not apply, in one reviewable place. */
export const NAG_REASONS = {
  noApiAuthorizer:
    "By design no API Gateway authorizer: every function verifies the bearer JWT itself " +
    "(ES256 signature against the gateway's KMS key, issuer, audience, expiry, scope) and " +
    "reads partner and agreement status from DynamoDB with a consistent read on every " +
    "request, so suspension and revocation take effect instantly; an authorizer and its " +
    "cache could only delay that. POST /oauth/token (client credentials in the request), " +
    "JWKS, OAuth metadata, /health, /openapi.json, /docs and $default (problem+json 404) " +
    "are public by contract.",
  xrayResourceStar:
    "Only the X-Ray statement added by active tracing uses Resource '*': " +
    "xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level " +
    "permissions. All DynamoDB and KMS statements name their table, index or key ARN.",
  eventsResourceStar:
    "Two statements use Resource '*', both because the actions support no resource-level " +
    "permissions: xray:PutTraceSegments/PutTelemetryRecords (active tracing) and " +
    "dynamodb:ListStreams (added by the DynamoDB event source mapping). Stream reads " +
    "(DescribeStream, GetRecords, GetShardIterator) are scoped to the outbox stream ARN.",
  runtimePinned:
    "Pinned to nodejs22.x on purpose: the bundle's esbuild target is node22 " +
    "(infra/bundling.ts), Node 22 is an LTS line that Lambda supports, and moving to a newer " +
    "runtime is a deliberate, reviewed change of runtime and esbuild target together, " +
    "not an automatic one.",
  synchronousOnly:
    "The function is never invoked asynchronously: API Gateway invokes it synchronously " +
    "and the caller gets the error (problem+json). An async dead-letter queue would never " +
    "receive a message.",
  eventsInvocations:
    "Record-carrying invocations come from the DynamoDB event source mapping, whose " +
    "failures go to its own encrypted SQS on-failure destination. The only asynchronous " +
    "invocations are the scheduled retry ticks, which carry no data (the outbox table holds " +
    "every delivery's state); a failed tick is superseded by the next one a minute later, " +
    "so a dead-letter queue would only collect empty tick payloads.",
  tickNeedsNoDlq:
    "The rule is a schedule whose payload is a constant marker; a tick EventBridge fails to " +
    "deliver loses nothing (delivery state lives in the outbox table) and the next tick " +
    "follows a minute later, so a DLQ would only collect copies of the constant marker.",
  objectsNoAccessLogs:
    "The objects bucket is private (all public access blocked, TLS only, no ACLs) and only " +
    "the gateway's own functions read or write it, through IAM grants on named prefixes; " +
    "what it keeps (replay bodies sealed by the gateway, transfer bodies already cut by the " +
    "guard) expires within days by lifecycle rules. Object-level access " +
    "is audited with CloudTrail data events where an operator enables them, rather than " +
    "with a second bucket of server access logs.",
  replayObjects:
    "Objects are named by the gateway per metering event (replays/<agreement>/<event>), so " +
    "the exchange function's grant is on the replays/ prefix of the one objects bucket, " +
    "with GetObject, PutObject and DeleteObject only.",
  originSecretRotation:
    "The origin secret only proves to the functions that a request came through CloudFront " +
    "(and so through the web ACL); it is no credential of anyone. Automatic rotation would " +
    "change it in Secrets Manager without changing the copies CloudFormation resolved into " +
    "the distribution's origin header and the functions' environment, refusing every " +
    "request until the next deploy. It is rotated by a deploy instead (docs/deploy.md).",
  noGeoRestriction:
    "Partners are in many jurisdictions and may call from anywhere; who may receive which " +
    "data is decided per exchange by trade compliance (exportControl.allowedJurisdictions, " +
    "embargoes, denied parties: 451 jurisdiction_blocked), not by the caller's IP location, " +
    "which a proxy changes at will.",
  codeDeployManagedPolicy:
    "AWSCodeDeployRoleForLambdaLimited is AWS's own minimal policy for CodeDeploy's Lambda " +
    "releases (read and shift the functions' aliases, read the rollback alarms, publish " +
    "deployment notifications); it changes with the service, which a copy would not. The " +
    "role can be assumed by codedeploy.amazonaws.com only and serves the gateway's groups.",
  undeliveredIsTheDlq:
    "This queue is itself the dead-letter queue of the alarm topic's subscriptions and of " +
    "the key-change rule's target; the NotificationsUndelivered alarm watches it, and " +
    "operators read it when that alarm fires. A dead-letter queue of its own would only " +
    "move the same messages one queue further.",
  transferWorkerFailureDestination:
    "The transfer worker is only invoked asynchronously, through its live alias, and that " +
    "alias has an on-failure destination: an encrypted, TLS-only SQS queue receiving each " +
    "job Lambda gave up on with its payload and last error (more than a DeadLetterConfig " +
    "queue would get). The TransferFailedJobs alarm watches it.",
  transferObjects:
    "Transfer objects are named by the gateway per transfer (transfers/<id>/staging-<attempt>, " +
    "/body, /upload: functions/transfers/keys.ts), so each grant is on one kind of object of " +
    "the one objects bucket with exactly the actions it needs (infra/access.ts), proven by " +
    "test/lambda/permissions.test.ts.",
  transferJobsQueueIsTheDlq:
    "This queue is itself the on-failure destination of the transfer worker's asynchronous " +
    "invocations; it has no consumer to redrive from, and operators inspect it when the " +
    "TransferFailedJobs alarm fires.",
  queueIsTheDlq:
    "This queue is itself the on-failure destination (dead-letter queue) of the outbox " +
    "stream event source mapping; it has no consumer to redrive from, and operators " +
    "inspect it when the OutboxFailedBatches alarm fires.",
} as const;

const ack = (scope: IConstruct, id: string, reason: string): void =>
  Validations.of(scope).acknowledge({ id, reason });

/** Acknowledges every cdk-nag finding the gateway accepts, each with its reason. */
export function acknowledgeNagFindings(parts: NagParts): void {
  ack(parts.api.api, "AwsSolutions-APIG4", NAG_REASONS.noApiAuthorizer);

  for (const [name, fn] of Object.entries(parts.functions)) {
    const star = name === "events" ? NAG_REASONS.eventsResourceStar : NAG_REASONS.xrayResourceStar;
    ack(fn.role, "AwsSolutions-IAM5[Resource::*]", star);
    ack(fn.function, "AwsSolutions-L1", NAG_REASONS.runtimePinned);
    ack(fn.function, "Serverless-LambdaLatestVersion", NAG_REASONS.runtimePinned);
    ack(
      fn.function,
      "Serverless-LambdaDLQ",
      name === "events"
        ? NAG_REASONS.eventsInvocations
        : name === "transferWorker"
          ? NAG_REASONS.transferWorkerFailureDestination
          : NAG_REASONS.synchronousOnly,
    );
  }
  for (const [name, access] of Object.entries(FUNCTION_ACCESS)) {
    const role = parts.functions[name as FunctionName].role;
    for (const pattern of (access.objects ?? []).flatMap((o) => o.keys)) {
      const reason = pattern.startsWith(REPLAY_PREFIX)
        ? NAG_REASONS.replayObjects
        : NAG_REASONS.transferObjects;
      ack(role, `AwsSolutions-IAM5[Resource::<ObjectsBucket.Arn>/${pattern}]`, reason);
    }
  }
  const failedJobs = parts.transferJobs.failedJobs;
  ack(failedJobs, "AwsSolutions-SQS3", NAG_REASONS.transferJobsQueueIsTheDlq);
  ack(failedJobs, "Serverless-SQSRedrivePolicy", NAG_REASONS.transferJobsQueueIsTheDlq);

  ack(parts.objects.bucket, "AwsSolutions-S1", NAG_REASONS.objectsNoAccessLogs);

  const dlq = parts.outboxEvents.deadLetterQueue;
  ack(dlq, "AwsSolutions-SQS3", NAG_REASONS.queueIsTheDlq);
  ack(dlq, "Serverless-SQSRedrivePolicy", NAG_REASONS.queueIsTheDlq);
  ack(parts.outboxEvents.retryTick, "Serverless-EventBusDLQ", NAG_REASONS.tickNeedsNoDlq);
  ack(
    parts.releases.role,
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]",
    NAG_REASONS.codeDeployManagedPolicy,
  );
  ack(parts.operations.undelivered, "AwsSolutions-SQS3", NAG_REASONS.undeliveredIsTheDlq);
  ack(parts.operations.undelivered, "Serverless-SQSRedrivePolicy", NAG_REASONS.undeliveredIsTheDlq);
  ack(
    parts.functions.events.alias,
    "Serverless-LambdaAsyncFailureDestination",
    NAG_REASONS.eventsInvocations,
  );
  if (parts.frontDoor !== undefined) {
    ack(parts.frontDoor.originSecret, "AwsSolutions-SMG4", NAG_REASONS.originSecretRotation);
    ack(parts.frontDoor.distribution, "AwsSolutions-CFR1", NAG_REASONS.noGeoRestriction);
  }
  ack(
    parts.functions.events.function,
    "Serverless-LambdaAsyncFailureDestination",
    NAG_REASONS.eventsInvocations,
  );
}
