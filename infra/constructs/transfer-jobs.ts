import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { type IGrantable, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IDestination, IFunction } from "aws-cdk-lib/aws-lambda";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";

export interface TransferJobsProps {
  /** The transfer worker's live alias: the dispatcher invokes it asynchronously. */
  readonly worker: IFunction;
  /**
   * Lambda's own retries of a job whose invocation failed (a crash, a
   * timeout); the job is retried from its start. 0 to 2.
   * @default 1
   */
  readonly retryAttempts?: number;
  /**
   * A job not started within this time (throttled by the worker's reserved
   * concurrency) goes to the failure queue instead.
   * @default Duration.hours(6)
   */
  readonly maxEventAge?: Duration;
  /**
   * What happens to the failure queue when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * How transfer jobs reach the worker: asynchronous invocations of its live
 * alias (Lambda queues them, so a request only waits for the enqueue), with
 * bounded retries and an encrypted, TLS-only SQS on-failure destination
 * receiving every job Lambda gave up on (its payload and the last error),
 * so that no job vanishes silently.
 */
export class TransferJobs extends Construct {
  readonly failedJobs: Queue;
  readonly worker: IFunction;

  constructor(scope: Construct, id: string, props: TransferJobsProps) {
    super(scope, id);
    const retryAttempts = props.retryAttempts ?? 1;
    if (!Number.isInteger(retryAttempts) || retryAttempts < 0 || retryAttempts > 2) {
      throw new Error("TransferJobs: retryAttempts must be 0, 1 or 2 (Lambda's range)");
    }
    this.worker = props.worker;
    this.failedJobs = new Queue(this, "FailedJobs", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // Not SqsDestination: it also grants GetQueueAttributes and GetQueueUrl,
    // which Lambda does not use to deliver a failed job; SendMessage alone.
    const failedJobs = this.failedJobs;
    const onFailure: IDestination = {
      bind: (_scope, fn) => {
        fn.addToRolePolicy(
          new PolicyStatement({ actions: ["sqs:SendMessage"], resources: [failedJobs.queueArn] }),
        );
        return { destination: failedJobs.queueArn };
      },
    };
    props.worker.configureAsyncInvoke({
      onFailure,
      retryAttempts,
      maxEventAge: props.maxEventAge ?? Duration.hours(6),
    });
  }

  /** Lets `grantee` start jobs: lambda:InvokeFunction on the worker's alias, nothing else. */
  grantDispatch(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ["lambda:InvokeFunction"],
        resources: [this.worker.functionArn],
      }),
    );
  }
}
